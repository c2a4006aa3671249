#!/usr/bin/env bash
# Builds (once, then cached) a Debian bookworm root file system for the VM tests, laid out as an
# installer or image builder leaves it: the variant's network stack with its own default
# configuration for the NIC (what the agent must neutralise), D-Bus and openssh-server.
#
#   build-image.sh VARIANT        VARIANT = ifupdown | networkd | networkmanager
#
# Prints the path of the finished rootfs directory on stdout's last line (everything else goes to
# stderr). Neither the agent nor the test report unit (scripts/vm/guest) is installed here:
# test/vm/images.ts adds both to a per-run copy, so this cache survives agent changes.
#
# Cache layout under $VM_CACHE_DIR (default /var/cache/contextualization-test), keyed by recipe text
# so that editing one variant rebuilds only that variant, and editing the base rebuilds everything:
#   <base key>/base/         debootstrap minbase + systemd, udev, iproute2, kmod, kernel
#                            (key = hash of the "base" recipe section below)
#   <variant key>/<variant>/ base + the variant's packages and files
#                            (key = hash of the "base" and that variant's sections)
# Each directory appears only when complete (built in a temp dir, then renamed).
set -euo pipefail

variant=${1:?usage: build-image.sh ifupdown|networkd|networkmanager}
case $variant in
  ifupdown | networkd | networkmanager) ;;
  *) echo "build-image: unknown variant '$variant'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
self=$here/build-image.sh
# in_root, remove_tree: shared with build-cloudinit-image.sh.
. "$here/chroot.sh"
cache_root=${VM_CACHE_DIR:-/var/cache/contextualization-test}
suite=${DEBIAN_SUITE:-bookworm}

# The text between "# >>> NAME" and "# <<< NAME" in this script: what a cache key covers.
recipe() { sed -n "/^# >>> $1\$/,/^# <<< $1\$/p" "$self"; }
key_of() { { echo "$suite"; cat "$here/chroot.sh"; for s in "$@"; do recipe "$s"; done; } | sha256sum | cut -c1-16; }
base_cache=$cache_root/$(key_of base)
variant_cache=$cache_root/$(key_of base "$variant")

# Progress goes to the caller's stderr (fd 3); the tools' chatter goes to a log kept next to the cache.
exec 3>&2
log() { echo "build-image: $*" >&3; }

if [ -d "$variant_cache/$variant" ]; then echo "$variant_cache/$variant"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "build-image: must run as root (debootstrap, chroot)" >&2; exit 1; }

# >>> base
# The mirror the host already uses (Debian's deb822 or one-line format), unless DEBIAN_MIRROR says otherwise.
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v security | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}


apt_install() {
  local root=$1; shift
  in_root "$root" apt-get -o Acquire::Retries=3 -y -q install --no-install-recommends "$@"
  in_root "$root" apt-get clean
}

build_base() {
  local dir=$base_cache/base tmp=$base_cache/base.tmp
  local t0=$SECONDS
  remove_tree "$tmp"
  log "debootstrap $suite from $(mirror) (minbase)"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,udev,iproute2,kmod,e2fsprogs,procps \
    "$suite" "$tmp" "$(mirror)"
  # A small initramfs (only what finds a virtio/ext4 root) boots much faster under TCG than MODULES=most.
  mkdir -p "$tmp/etc/initramfs-tools/conf.d"
  echo 'MODULES=list' >"$tmp/etc/initramfs-tools/conf.d/vm-test.conf"
  echo 'COMPRESS=gzip' >>"$tmp/etc/initramfs-tools/conf.d/vm-test.conf"
  printf '%s\n' virtio_pci virtio_blk virtio_scsi ext4 >>"$tmp/etc/initramfs-tools/modules"
  log "installing the kernel"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  apt_install "$tmp" linux-image-amd64
  # Drop driver trees no QEMU test guest uses: a smaller tree copies and packs faster per run.
  local mods
  mods=$(ls -d "$tmp"/lib/modules/*/kernel)
  rm -rf "$mods"/sound "$mods"/drivers/{gpu,media,infiniband,net/wireless,net/ethernet,staging,iio,bluetooth,isdn,usb,hid,input/touchscreen}
  in_root "$tmp" sh -c 'for k in /lib/modules/*; do depmod -a "${k##*/}"; done'

  # Guest settings the tests rely on.
  echo 'base-image' >"$tmp/etc/hostname"
  printf '127.0.0.1\tlocalhost\n' >"$tmp/etc/hosts"
  printf '/dev/vda\t/\text4\trw,noatime\t0\t0\n' >"$tmp/etc/fstab"
  : >"$tmp/etc/resolv.conf"
  # No prompts or timers on a test boot.
  for u in systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
           e2scrub_reap.service fstrim.timer serial-getty@ttyS0.service getty@tty1.service; do
    ln -sf /dev/null "$tmp/etc/systemd/system/$u"
  done
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/usr/share/locale/*
  mv "$tmp" "$dir"
  log "base built in $((SECONDS - t0)) s"
}

# What every installed Debian system has besides its network stack: D-Bus (so networkctl, nmcli and
# resolvectl talk to their daemons as on a stock image) and openssh-server (its postinst generates host
# keys, which every clone of the image then shares until the agent resets them).
STOCK_PKGS=(dbus openssh-server)
# <<< base

# >>> ifupdown
# Debian's installer (netcfg) writes the primary NIC's DHCP stanza under the name it saw. The installer
# on this QEMU machine sees eth0 when the kernel runs with net.ifnames=0 and ens3 otherwise; the image
# carries both stanzas so that the eth0-named and the predictable-name scenarios each meet the
# installer's stanza for their NIC (a name absent at boot is inert: allow-hotplug waits for its udev event).
variant_ifupdown() {
  local root=$1
  apt_install "$root" ifupdown isc-dhcp-client "${STOCK_PKGS[@]}"
  cat >"$root/etc/network/interfaces" <<'IFACES'
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug eth0
iface eth0 inet dhcp

# The primary network interface (as written by an install under predictable names)
allow-hotplug ens3
iface ens3 inet dhcp
IFACES
  mkdir -p "$root/etc/network/interfaces.d"
  : >"$root/etc/resolv.conf"
}
# <<< ifupdown

# >>> networkd
# systemd-networkd as image builders set it up: a catch-all DHCP .network file (mkosi's and Debian's
# cloud/raspi images ship one), systemd-resolved with the stub resolv.conf, wait-online as packaged.
# The file sorts before the agent's 10-contextualization-<nic>.network, so networkd would pick it for
# the NIC (the case the agent's [Match] drop-in exists for; a file sorting after ours never applies).
variant_networkd() {
  local root=$1
  apt_install "$root" systemd-resolved "${STOCK_PKGS[@]}"
  local units=$root/etc/systemd/system
  mkdir -p "$units/network-online.target.wants" "$units/sockets.target.wants"
  ln -sf /lib/systemd/system/systemd-networkd.service "$units/multi-user.target.wants/systemd-networkd.service"
  ln -sf /lib/systemd/system/systemd-networkd-wait-online.service "$units/network-online.target.wants/"
  ln -sf /lib/systemd/system/systemd-networkd.socket "$units/sockets.target.wants/"
  ln -sf /lib/systemd/system/systemd-resolved.service "$units/multi-user.target.wants/"
  mkdir -p "$root/etc/systemd/network"
  cat >"$root/etc/systemd/network/05-wired-dhcp.network" <<'NETWORK'
[Match]
Name=en* eth*

[Network]
DHCP=yes
NETWORK
  ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
}
# <<< networkd

# >>> networkmanager
# NetworkManager as packaged (auto-default on: an unclaimed Ethernet device gets an in-memory
# "Wired connection N" DHCP profile), plus the saved profile bound to eth0 that an installer or a
# desktop leaves behind. Predictable-name boots meet the auto-default, eth0-named boots the saved profile.
variant_networkmanager() {
  local root=$1
  apt_install "$root" network-manager "${STOCK_PKGS[@]}"
  local conns=$root/etc/NetworkManager/system-connections
  mkdir -p "$conns"
  cat >"$conns/Wired connection 1.nmconnection" <<'NMCONN'
[connection]
id=Wired connection 1
uuid=5f1a3c0e-3b2f-4d3c-9a55-0d3e6f2b7a11
type=ethernet
interface-name=eth0

[ethernet]

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto

[proxy]
NMCONN
  chmod 600 "$conns/Wired connection 1.nmconnection"
  : >"$root/etc/resolv.conf"
}
# <<< networkmanager


build_variant() {
  local dir=$variant_cache/$variant tmp=$variant_cache/$variant.tmp
  local t0=$SECONDS
  remove_tree "$tmp"
  cp -a "$base_cache/base" "$tmp"
  log "installing the $variant stack"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  in_root "$tmp" apt-get -q update
  "variant_$variant" "$tmp"
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
  mv "$tmp" "$dir"
  log "$variant built in $((SECONDS - t0)) s"
}

# Serialise concurrent builds (parallel test workers): the second waits and reuses the result. The base
# lock is taken (and released) first, so builders of different variants share one base build.
run_logged() {
  local what=$1 logfile=$2
  log "building $what (not cached); log: $logfile"
  set +e
  ( set -e; "build_$what" ) >"$logfile" 2>&1
  local rc=$?
  set -e
  if [ $rc != 0 ]; then
    echo "build-image: FAILED building $what; last lines of $logfile:" >&2
    tail -n 40 "$logfile" >&2
    exit 1
  fi
}

mkdir -p "$base_cache" "$variant_cache"
(
  flock 8
  [ -d "$base_cache/base" ] || run_logged base "$base_cache/build-base.log"
) 8>"$base_cache/lock"
# Keeps the base from looking stale to the pruning in test/vm/images.ts while variants still use it.
touch "$base_cache"
(
  flock 9
  [ -d "$variant_cache/$variant" ] || run_logged variant "$variant_cache/build-$variant.log"
) 9>"$variant_cache/lock"
echo "$variant_cache/$variant"
