# Shell helpers shared by the VM image builders (build-image.sh, build-cloudinit-image.sh); sourced,
# not run. Part of every image cache key, as the recipes are.

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

# A half-built tree may still have /dev bind-mounted: unmount before deleting, and never cross into
# another file system while deleting.
remove_tree() {
  local m
  for m in dev sys proc; do
    if mountpoint -q "$1/$m" 2>/dev/null; then umount -l "$1/$m"; fi
  done
  rm -rf --one-file-system "$1"
}
