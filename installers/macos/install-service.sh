#!/bin/sh
# Registers culvertd from /Applications/Culvert.app as a launchd daemon, creates group
# culvert and adds the installing user to it. For macOS before 13, or when the app's
# SMAppService registration is not available:
#   sudo "/Applications/Culvert.app/Contents/Resources/install-service.sh"
# Remove with uninstall-service.sh next to it.
set -eu
app=${CULVERT_APP:-/Applications/Culvert.app}
label=org.culvert.culvertd
plist=/Library/LaunchDaemons/$label.plist

[ "$(id -u)" = 0 ] || { echo "run this with sudo" >&2; exit 1; }
[ -x "$app/Contents/MacOS/culvertd" ] || { echo "no culvertd in $app" >&2; exit 1; }

# The group whose members may use the socket (DESIGN: root and group culvert).
if ! dscl . -read /Groups/culvert >/dev/null 2>&1; then
    dseditgroup -o create -r "Culvert users" culvert
fi
user=${SUDO_USER:-}
if [ -n "$user" ] && [ "$user" != root ]; then
    dseditgroup -o edit -a "$user" -t user culvert
fi

mkdir -p /Library/Logs/Culvert
cat >"$plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>$label</string>
  <key>ProgramArguments</key><array><string>$app/Contents/MacOS/culvertd</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>EnvironmentVariables</key><dict><key>CULVERT_LOG</key><string>info</string></dict>
  <key>StandardErrorPath</key><string>/Library/Logs/Culvert/culvertd.log</string>
  <key>ExitTimeOut</key><integer>20</integer>
</dict>
</plist>
PLIST
chown root:wheel "$plist"
chmod 0644 "$plist"
launchctl bootout system "$plist" 2>/dev/null || true
launchctl bootstrap system "$plist"
ln -sf "$app/Contents/MacOS/culvert" /usr/local/bin/culvert 2>/dev/null || true
echo "culvertd is registered and running; log out and in once for group culvert"
