# The root half of the AppImage's service install. AppRun passes this text to pkexec as
# an argument (never as a file a user could change during the password prompt):
#   sh -c "$(cat install-as-root.sh)" culvert-install install|uninstall STAGING SUMS
# STAGING is the user's copy of the files; SUMS their SHA-256 sums as the read-only
# AppImage holds them. The files are copied into a directory only root can write and
# checked there, and only those copies are used: whatever the user's processes do to
# STAGING after the copy changes nothing, and a file swapped before it is refused.
set -eu
action=$1
staging=$2
sums=$3
safe=$(mktemp -d)
trap 'rm -rf "$safe"' EXIT
for file in service.sh culvertd.service culvert.sysusers culvertd culvert; do
    cp -- "$staging/$file" "$safe/$file"
done
if ! (cd "$safe" && printf '%s\n' "$sums" | sha256sum --check --strict --status); then
    echo "Culvert: the files staged for the service install differ from the AppImage's;" \
        "nothing was installed" >&2
    exit 1
fi
sh "$safe/service.sh" "$action" "$safe"
