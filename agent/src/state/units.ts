/**
 * The init-system files the installer writes, embedded so the single binary carries them.
 * Kept byte-identical to systemd/* (test/agent-edges/install.test.ts fails when they drift).
 */

export const LOCAL_UNIT_NAME = 'contextualization-local.service';
export const FINAL_UNIT_NAME = 'contextualization-final.service';

export const LOCAL_UNIT = `# Stage 1 of 2: read the context CD and write network, hostname, DNS and routes before any network
# service starts (the renderer runs here; the system's own network service brings links up).
[Unit]
Description=Contextualization: configure this VM from its context CD (local stage)
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target
After=local-fs.target systemd-udevd.service systemd-remount-fs.service
Before=NetworkManager.service systemd-networkd.service networking.service network.service
# sshd must load the host keys a new instance gets here, not the base image's (sshd-keygen@ on
# Fedora only makes missing keys, so ordering sshd itself is enough).
Before=ssh.service ssh.socket sshd.service
# D-Bus keeps the machine-id it read at start for the whole boot: it must read the new one.
Before=dbus.socket dbus.service dbus-broker.service
Before=shutdown.target
Conflicts=shutdown.target
ConditionPathExists=!/etc/contextualization/disabled
ConditionKernelCommandLine=!contextualization=disabled

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/contextualization local
# Finite: it waits for a CD only while udev still has events queued (at most 10 s); the rest is file writes.
# 180 s, not less: a cold start of the binary on a slow (emulated, loaded) host takes tens of seconds.
TimeoutStartSec=180
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=sysinit.target
`;

export const FINAL_UNIT = `# Stage 2 of 2: once the network is up, run the context's post-install script (once per instance by
# default) and record the final status.
[Unit]
Description=Contextualization: run the context's post-install script (final stage)
Wants=network-online.target
After=network-online.target contextualization-local.service
ConditionPathExists=!/etc/contextualization/disabled
ConditionKernelCommandLine=!contextualization=disabled
# Left by the local stage only when a post-install is due this boot: nothing to do, nothing started.
ConditionPathExists=/run/contextualization/final-pending

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/contextualization final
# The agent caps post-install at 1800 s and kills the script's process group itself (SIGTERM, SIGKILL
# 10 s later); this leaves room for that, the 30 s lock wait and the status write.
TimeoutStartSec=1900
# Daemons the script starts belong to the user, as with cloud-final.service: stopping or restarting this
# unit must not take them down. The script itself is bounded by the agent, not by systemd.
KillMode=process
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;

export const SYSV_INIT_SCRIPT = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          contextualization
# Required-Start:    $local_fs
# Required-Stop:
# X-Start-Before:    $network networking ssh sshd
# Default-Start:     S
# Default-Stop:
# Short-Description: Configure this VM from its context CD
# Description:       Reads the context CD and writes network, hostname and DNS config before the
#                    network starts, then runs the post-install script once the network is up.
### END INIT INFO

# sysvinit counterpart of contextualization-local.service + contextualization-final.service.

DAEMON=/usr/local/bin/contextualization
# Seconds to wait for a default route before running the final stage anyway.
NET_WAIT=120
[ -r /etc/default/contextualization ] && . /etc/default/contextualization

[ -x "$DAEMON" ] || exit 0
[ -e /etc/contextualization/disabled ] && exit 0
grep -qw 'contextualization=disabled' /proc/cmdline 2>/dev/null && exit 0

has_default_route() {
    if command -v ip >/dev/null 2>&1; then
        [ -n "$(ip route show default 2>/dev/null)" ]
    else
        route -n 2>/dev/null | grep -q '^0\\.0\\.0\\.0'
    fi
}

case "$1" in
    start)
        "$DAEMON" local
        # The final stage needs the network, which starts after this script returns: run it in the
        # background, detached, once a default route exists (or NET_WAIT seconds have passed).
        mkdir -p /var/log/contextualization
        (
            i=0
            while [ "$i" -lt "$NET_WAIT" ] && ! has_default_route; do
                sleep 1
                i=$((i + 1))
            done
            exec "$DAEMON" final
        ) </dev/null >>/var/log/contextualization/final-stage.log 2>&1 &
        exit 0
        ;;
    stop|restart|force-reload|reload)
        exit 0
        ;;
    status)
        exec "$DAEMON" status
        ;;
    *)
        echo "Usage: $0 {start|stop|status}" >&2
        exit 3
        ;;
esac
`;

export const RC_LOCAL_LINE = `/usr/local/bin/contextualization boot`;
