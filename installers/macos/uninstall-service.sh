#!/bin/sh
# Stops culvertd (SIGTERM: it takes its tunnels down) and unregisters it.
# Tunnels and settings stay in /Library/Application Support/Culvert.
set -eu
plist=/Library/LaunchDaemons/org.culvert.culvertd.plist
[ "$(id -u)" = 0 ] || { echo "run this with sudo" >&2; exit 1; }
launchctl bootout system "$plist" 2>/dev/null || true
rm -f "$plist"
[ -L /usr/local/bin/culvert ] && rm -f /usr/local/bin/culvert
echo "culvertd is stopped and unregistered"
