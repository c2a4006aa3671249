#!/usr/bin/env bash
# The main job on a built-in default: build a context ISO from context-template/ with `contextgen`,
# then apply it with the agent binary to a scratch image root, and show what was configured.
# Nothing outside a temp directory is touched. Usage: scripts/demo.sh [CONTEXT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ctx_dir=${1:-context-template}
work=$(mktemp -d /tmp/contextualization-demo.XXXXXX)
root=$work/root

# A scratch Debian-like root: ifupdown in charge, a distro /etc/hosts and resolv.conf to be replaced.
mkdir -p "$root"/etc/network/interfaces.d "$root"/sbin "$root"/root
printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' > "$root/etc/network/interfaces"
printf '#!/bin/sh\n' > "$root/sbin/ifup"; chmod 755 "$root/sbin/ifup"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian-base\n' > "$root/etc/hosts"
printf 'nameserver 10.0.2.3\n' > "$root/etc/resolv.conf"
echo debian-base > "$root/etc/hostname"

echo "== contextgen iso --from $ctx_dir"
./dist/contextgen iso --from "$ctx_dir" -o "$work/context.iso"
echo
echo "== contextualization --iso context.iso --root $root (NICs: eth0 with the template's MAC, eth1 with a Snooze-encoded MAC, 00:16:c0:a8:7a:12 -> 192.168.122.18)"
./dist/contextualization local --iso "$work/context.iso" --root "$root" \
  --nic eth0=52:54:00:12:34:56 --nic eth1=00:16:c0:a8:7a:12
echo
for f in etc/hostname etc/hosts etc/resolv.conf etc/network/interfaces.d/*contextualization* root/.ssh/authorized_keys; do
  for p in "$root"/$f; do [ -f "$p" ] && { echo "== /${p#"$root"/}"; cat "$p"; echo; }; done
done
echo "== contextualization status --root $root"
./dist/contextualization status --root "$root" || true
echo
echo "(scratch root kept in $root)"
