#!/usr/bin/env bash
# Builds (once, then cached) a minimal Debian bookworm root file system for the VM tests.
#
#   build-image.sh VARIANT        VARIANT = ifupdown | networkd | networkmanager
#
# Prints the path of the finished rootfs directory on stdout (everything else goes to stderr).
# Neither the agent nor the test report unit (scripts/vm/guest) is installed here: test/vm/images.ts
# adds both to a per-run copy, so this cache survives agent changes. The cache key is a hash of this
# script, so editing the image recipe rebuilds it. Layout under $VM_CACHE_DIR (default /var/cache/contextualization-test):
#   <key>/base/        debootstrap minbase + systemd, udev, iproute2, kmod, kernel
#   <key>/<variant>/   base + the variant's network stack
# Each directory appears only when complete (built in a temp dir, then renamed).
set -euo pipefail

variant=${1:?usage: build-image.sh ifupdown|networkd|networkmanager}
# Every variant has what an installed Debian system has besides its network stack: D-Bus (so
# networkctl/nmcli/resolvectl talk to their daemons as on a stock image) and openssh-server (its
# postinst generates host keys, which every clone of the image then shares until the agent resets them).
stock_pkgs=(dbus openssh-server)
case $variant in
  ifupdown) variant_pkgs=(ifupdown isc-dhcp-client "${stock_pkgs[@]}") ;;
  networkd) variant_pkgs=(systemd-resolved "${stock_pkgs[@]}") ;;
  networkmanager) variant_pkgs=(network-manager "${stock_pkgs[@]}") ;;
  *) echo "build-image: unknown variant '$variant'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${VM_CACHE_DIR:-/var/cache/contextualization-test}
suite=${DEBIAN_SUITE:-bookworm}
key=$(sha256sum <"$here/build-image.sh" | cut -c1-16)
cache=$cache_root/$key
mkdir -p "$cache"

# Progress goes to the caller's stderr (fd 3); the tools' chatter goes to a log kept next to the cache.
exec 3>&2
log() { echo "build-image: $*" >&3; }
[ "$(id -u)" = 0 ] || { echo "build-image: must run as root (debootstrap, chroot)" >&2; exit 1; }

# The mirror the host already uses (Debian's deb822 or one-line format), unless DEBIAN_MIRROR says otherwise.
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v security | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Runs a command inside the rootfs with /proc, /sys and /dev available (kernel postinst needs them).
in_root() {
  local root=$1; shift
  mount -t proc proc "$root/proc"
  mount -t sysfs sys "$root/sys"
  mount --bind /dev "$root/dev"
  local rc=0
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@" || rc=$?
  umount "$root/dev" "$root/sys" "$root/proc"
  return $rc
}

apt_install() {
  local root=$1; shift
  in_root "$root" apt-get -o Acquire::Retries=3 -y -q install --no-install-recommends "$@"
  in_root "$root" apt-get clean
}

# A half-built tree may still have /dev bind-mounted: unmount before deleting, and never cross into
# another file system while deleting.
remove_tree() {
  local m
  for m in dev sys proc; do
    if mountpoint -q "$1/$m" 2>/dev/null; then umount -l "$1/$m"; fi
  done
  rm -rf --one-file-system "$1"
}

# Serialise concurrent builds (parallel test workers): the second waits and reuses the result.
exec 9>"$cache/lock"
flock 9

build_base() {
  local dir=$cache/base
  [ -d "$dir" ] && return
  local tmp=$cache/base.tmp
  remove_tree "$tmp"
  local t0=$SECONDS
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

build_variant() {
  local dir=$cache/$variant
  [ -d "$dir" ] && return
  local tmp=$cache/$variant.tmp
  remove_tree "$tmp"
  local t0=$SECONDS
  cp -a "$cache/base" "$tmp"
  log "installing ${variant_pkgs[*]}"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  in_root "$tmp" apt-get -q update
  apt_install "$tmp" "${variant_pkgs[@]}"
  case $variant in
    ifupdown)
      # Debian's default layout: loopback here, everything else from interfaces.d (where the agent writes).
      cat >"$tmp/etc/network/interfaces" <<'IFACES'
# The loopback network interface
auto lo
iface lo inet loopback

source /etc/network/interfaces.d/*
IFACES
      mkdir -p "$tmp/etc/network/interfaces.d"
      : >"$tmp/etc/resolv.conf"
      ;;
    networkd)
      ln -sf /lib/systemd/system/systemd-networkd.service "$tmp/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
      mkdir -p "$tmp/etc/systemd/system/network-online.target.wants" "$tmp/etc/systemd/system/sockets.target.wants"
      ln -sf /lib/systemd/system/systemd-networkd-wait-online.service "$tmp/etc/systemd/system/network-online.target.wants/"
      ln -sf /lib/systemd/system/systemd-networkd.socket "$tmp/etc/systemd/system/sockets.target.wants/"
      ln -sf /lib/systemd/system/systemd-resolved.service "$tmp/etc/systemd/system/multi-user.target.wants/"
      # Wait for one configured link, not all of them (a test NIC may be left unconfigured on purpose).
      mkdir -p "$tmp/etc/systemd/system/systemd-networkd-wait-online.service.d"
      printf '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60\n' \
        >"$tmp/etc/systemd/system/systemd-networkd-wait-online.service.d/any.conf"
      ln -sf ../run/systemd/resolve/stub-resolv.conf "$tmp/etc/resolv.conf"
      ;;
    networkmanager)
      : >"$tmp/etc/resolv.conf"
      ;;
  esac
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
  mv "$tmp" "$dir"
  log "$variant built in $((SECONDS - t0)) s"
}

if [ -d "$cache/$variant" ]; then echo "$cache/$variant"; exit 0; fi
log "building $variant (not cached); log: $cache/build-$variant.log"
build_log=$cache/build-$variant.log
set +e
( set -e; build_base; build_variant ) >"$build_log" 2>&1
rc=$?
set -e
if [ $rc != 0 ]; then
  echo "build-image: FAILED building $variant; last lines of $build_log:" >&2
  tail -n 40 "$build_log" >&2
  exit 1
fi
echo "$cache/$variant"
