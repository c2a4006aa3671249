#!/usr/bin/env bash
# Builds (once, then cached) the cloud-init peer of a VM test image, for bench/boot.ts: the rootfs
# scripts/vm/build-image.sh makes for VARIANT, plus Debian's own cloud-init package and nothing else.
#
#   build-cloudinit-image.sh VARIANT      VARIANT = ifupdown | networkd | networkmanager
#
# Prints the path of the finished rootfs directory on stdout (everything else goes to stderr).
# The cache key is a hash of the scripts (and chroot.sh): a changed base recipe or a changed cloud-init layer rebuilds.
# Layout under $VM_CACHE_DIR (default /var/cache/contextualization-test):
#   <key>/cloudinit-<variant>/   build-image.sh's <variant> rootfs + cloud-init (NoCloud only)
# The directory appears only when complete (built in a temp dir, then renamed).
set -euo pipefail

variant=${1:?usage: build-cloudinit-image.sh ifupdown|networkd|networkmanager}
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${VM_CACHE_DIR:-/var/cache/contextualization-test}
[ "$(id -u)" = 0 ] || { echo "build-cloudinit-image: must run as root (chroot)" >&2; exit 1; }

# The base first: it has its own cache and lock, and prints its rootfs path last on stdout.
base=$(bash "$here/build-image.sh" "$variant" | tail -n 1)
[ -d "$base" ] || { echo "build-cloudinit-image: build-image.sh $variant gave no rootfs ('$base')" >&2; exit 1; }

key=$(cat "$here/build-image.sh" "$here/chroot.sh" "$here/build-cloudinit-image.sh" | sha256sum | cut -c1-16)
cache=$cache_root/$key
dir=$cache/cloudinit-$variant
mkdir -p "$cache"
# Keeps the cache off test/vm/images.ts's week-old-cache pruning while it is in use.
touch "$cache"
if [ -d "$dir" ]; then echo "$dir"; exit 0; fi

exec 3>&2
log() { echo "build-cloudinit-image: $*" >&3; }

. "$here/chroot.sh"

exec 9>"$cache/lock"
flock 9
if [ -d "$dir" ]; then echo "$dir"; exit 0; fi

build() {
  local tmp=$dir.tmp t0=$SECONDS
  remove_tree "$tmp"
  cp -a "$base" "$tmp"
  # The base image's resolv.conf may be a dangling link (networkd's stub): apt in the chroot needs a file.
  local resolv_backup=
  if [ -L "$tmp/etc/resolv.conf" ]; then resolv_backup=$(readlink "$tmp/etc/resolv.conf"); fi
  rm -f "$tmp/etc/resolv.conf"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  log "installing cloud-init (Debian's package, --no-install-recommends)"
  in_root "$tmp" apt-get -q update
  in_root "$tmp" apt-get -o Acquire::Retries=3 -y -q install --no-install-recommends cloud-init
  in_root "$tmp" apt-get clean
  if [ -n "$resolv_backup" ]; then rm -f "$tmp/etc/resolv.conf"; ln -s "$resolv_backup" "$tmp/etc/resolv.conf"; else : >"$tmp/etc/resolv.conf"; fi
  # Only the seed on the CD: no probing of cloud metadata services over the network at boot.
  cat >"$tmp/etc/cloud/cloud.cfg.d/90-bench-datasource.cfg" <<'CFG'
# bench/boot.ts: the NoCloud seed (cidata CD) is the only source, as the agent's context CD is.
datasource_list: [ NoCloud, None ]
CFG
  rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
  in_root "$tmp" dpkg-query -W -f='${Version}\n' cloud-init >"$tmp/etc/cloud/bench-cloud-init-version"
  mv "$tmp" "$dir"
  log "cloudinit-$variant built in $((SECONDS - t0)) s (cloud-init $(cat "$dir/etc/cloud/bench-cloud-init-version"))"
}

log "building cloudinit-$variant (not cached); log: $cache/build-cloudinit-$variant.log"
build_log=$cache/build-cloudinit-$variant.log
set +e
( set -e; build ) >"$build_log" 2>&1
rc=$?
set -e
if [ $rc != 0 ]; then
  echo "build-cloudinit-image: FAILED building cloudinit-$variant; last lines of $build_log:" >&2
  tail -n 40 "$build_log" >&2
  exit 1
fi
echo "$dir"
