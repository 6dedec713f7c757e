#!/bin/sh
# Installs or removes the Culvert service from the AppImage's copies. Run as root by
# install-as-root.sh, from the copies it checked in a directory of root's:
# service.sh install|uninstall DIR
set -eu
action=$1
from=$2
unit=/etc/systemd/system/culvertd.service

if [ ! -d /run/systemd/system ]; then
    echo "Culvert: systemd is not running; install culvertd with this system's service" \
        "manager (the binary: $from/culvertd)" >&2
    exit 1
fi

case $action in
install)
    install -D -m 0755 "$from/culvertd" /usr/local/sbin/culvertd
    install -D -m 0755 "$from/culvert" /usr/local/bin/culvert
    sed 's#^ExecStart=/usr/sbin/culvertd#ExecStart=/usr/local/sbin/culvertd#' \
        "$from/culvertd.service" >"$unit"
    install -D -m 0644 "$from/culvert.sysusers" /etc/sysusers.d/culvert.conf
    systemd-sysusers culvert.conf || true
    getent group culvert >/dev/null || groupadd --system culvert
    user=$(getent passwd "${PKEXEC_UID:-0}" | cut -d: -f1)
    if [ -n "$user" ] && [ "$user" != root ]; then
        usermod -aG culvert "$user"
    fi
    systemctl daemon-reload
    systemctl enable --now culvertd.service
    echo "Culvert: the service is installed and running; log out and in once so" \
        "that your membership of group culvert takes effect"
    ;;
uninstall)
    # SIGTERM: culvertd takes its tunnels down and undoes their network changes.
    systemctl disable --now culvertd.service || true
    rm -f "$unit" /usr/local/sbin/culvertd /usr/local/bin/culvert \
        /etc/sysusers.d/culvert.conf
    systemctl daemon-reload
    echo "Culvert: the service is removed; tunnels and settings stay in /etc/culvert"
    ;;
*)
    echo "usage: service.sh install|uninstall DIR" >&2
    exit 2
    ;;
esac
