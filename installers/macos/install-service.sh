#!/bin/sh
# Installs culvertd from Culvert.app as a launchd system daemon, creates group culvert
# and adds the installing user to it:
#   sudo "/Applications/Culvert.app/Contents/Resources/install-service.sh"
# Run it again after updating the app (it replaces the copy). Remove with
# uninstall-service.sh next to it.
#
# launchd runs culvertd as root, so it runs a copy in /Library/PrivilegedHelperTools
# that only root can replace, never the file inside the app bundle (which its owner,
# not only root, may write); culvertd itself refuses to run as this job otherwise.
set -eu
app=${CULVERT_APP:-/Applications/Culvert.app}
label=org.culvert.culvertd
helpers=/Library/PrivilegedHelperTools
program=$helpers/$label
plist=/Library/LaunchDaemons/$label.plist
resources=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "run this with sudo" >&2; exit 1; }
[ -f "$app/Contents/MacOS/culvertd" ] || { echo "no culvertd in $app" >&2; exit 1; }
[ -f "$resources/$label.plist" ] || { echo "no $label.plist next to this script" >&2; exit 1; }

# Every directory on the way to the program must be root's alone.
mkdir -p "$helpers"
for dir in / /Library "$helpers"; do
    owner=$(stat -f %u "$dir")
    mode=$(stat -f %Lp "$dir")
    if [ "$owner" != 0 ] || [ $((0$mode & 022)) != 0 ]; then
        echo "$dir is not root's alone (owner $owner, mode $mode): refusing to install" >&2
        exit 1
    fi
done

# The group whose members may use the socket (DESIGN: root and group culvert).
if ! dscl . -read /Groups/culvert >/dev/null 2>&1; then
    dseditgroup -o create -r "Culvert users" culvert
fi
user=${SUDO_USER:-}
if [ -n "$user" ] && [ "$user" != root ]; then
    dseditgroup -o edit -a "$user" -t user culvert
fi

launchctl bootout system "$plist" 2>/dev/null || true
# A fresh file in place, never written through an existing one.
install -o root -g wheel -m 0755 "$app/Contents/MacOS/culvertd" "$program.new"
mv -f "$program.new" "$program"
install -o root -g wheel -m 0644 "$resources/$label.plist" "$plist"
mkdir -p /Library/Logs/Culvert
launchctl bootstrap system "$plist"
ln -sf "$app/Contents/MacOS/culvert" /usr/local/bin/culvert 2>/dev/null || true
echo "culvertd is installed and running; log out and in once for group culvert"
