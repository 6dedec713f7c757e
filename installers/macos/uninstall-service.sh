#!/bin/sh
# Stops culvertd (SIGTERM: it takes its tunnels down and undoes their network changes)
# and removes the daemon. Tunnels and settings stay in /Library/Application Support/Culvert.
set -eu
label=org.culvert.culvertd
plist=/Library/LaunchDaemons/$label.plist
program=/Library/PrivilegedHelperTools/$label
[ "$(id -u)" = 0 ] || { echo "run this with sudo" >&2; exit 1; }
launchctl bootout system "$plist" 2>/dev/null || true
# What a crashed run may have left (routes, DNS, the kill switch's pf anchor).
[ -x "$program" ] && "$program" recover || true
rm -f "$plist" "$program"
[ -L /usr/local/bin/culvert ] && rm -f /usr/local/bin/culvert
echo "culvertd is stopped and removed"
