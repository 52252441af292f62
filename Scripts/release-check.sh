#!/usr/bin/env bash
# Proves a release tarball runs on Debian without Swift: a minimal Debian root made with
# debootstrap, plus only libyaml-0-2 and libcurl4; the binaries unpacked into it; then, under
# chroot, `fleetwave --version` and `fleetwave plan` on the demo fleet. Needs root and the
# Debian mirror. Not part of Scripts/test.sh (it downloads a Debian base system).
#   Scripts/release-check.sh TARBALL [--root DIR]   default DIR: /var/tmp/fleetwave-release-root
# The root is reused when it exists (delete it to start over).
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/.." && pwd)
tarball=${1:?usage: Scripts/release-check.sh TARBALL [--root DIR]}
shift
chroot_dir=/var/tmp/fleetwave-release-root
while [ $# -gt 0 ]; do
  case "$1" in
    --root) chroot_dir=${2:?--root needs a directory}; shift 2 ;;
    *) echo "release-check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$tarball" ] || { echo "release-check.sh: no tarball at $tarball" >&2; exit 1; }
sum="$tarball.sha256"
if [ -f "$sum" ]; then
  (cd "$(dirname "$tarball")" && sha256sum --check --quiet "$(basename "$sum")")
  echo "release-check: checksum matches $(basename "$sum")"
fi
command -v debootstrap >/dev/null || {
  echo "release-check.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
if [ ! -x "$chroot_dir/bin/sh" ]; then
  echo "release-check: debootstrap $suite into $chroot_dir" >&2
  debootstrap --variant=minbase --include=libyaml-0-2,libcurl4 "$suite" "$chroot_dir" "$mirror" \
    > "$chroot_dir.debootstrap.log" 2>&1 || {
    tail -n 20 "$chroot_dir.debootstrap.log" >&2; exit 1; }
fi

# A static-stdlib Swift binary reads its arguments from /proc/self/cmdline: without /proc it
# sees none (and prints its help), so the root gets one, as any real system has.
mkdir -p "$chroot_dir/proc"
mountpoint -q "$chroot_dir/proc" || mount -t proc proc "$chroot_dir/proc"
trap 'umount "$chroot_dir/proc" 2>/dev/null || true' EXIT

rm -rf "$chroot_dir/opt/fleetwave" "$chroot_dir/tmp/demo"
mkdir -p "$chroot_dir/opt/fleetwave"
tar -xzf "$tarball" -C "$chroot_dir/opt/fleetwave" --strip-components=1
cp -r "$root_dir/fleets/demo" "$chroot_dir/tmp/demo"

echo "release-check: no Swift runtime in the root:"
if find "$chroot_dir" -xdev -name 'libswiftCore.so*' | grep -q .; then
  echo "release-check.sh: the root has a Swift runtime; the check would prove nothing" >&2; exit 1
fi
echo "  (no libswiftCore.so anywhere)"
echo "release-check: shared libraries fleetwave needs:"
chroot "$chroot_dir" /usr/bin/ldd /opt/fleetwave/bin/fleetwave | sed 's/ (0x.*//; s/^/ /'
echo "\$ fleetwave --version"
chroot "$chroot_dir" /opt/fleetwave/bin/fleetwave --version
echo "\$ fleet-sim --help | head -n 1"
chroot "$chroot_dir" /opt/fleetwave/bin/fleet-sim --help | head -n 1
echo "\$ fleetwave plan /tmp/demo"
chroot "$chroot_dir" /usr/bin/env -i PATH=/usr/bin:/bin /opt/fleetwave/bin/fleetwave plan /tmp/demo
echo "release-check: ok"
