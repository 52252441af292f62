#!/usr/bin/env bash
# Builds release binaries of fleetwave and fleet-sim with the Swift runtime linked in
# (--static-swift-stdlib), so they run on a machine without Swift: only libyaml and libcurl are
# needed there (and libcrypt, in every Debian base system). Packs them into a tarball beside a
# SHA-256 file.
#   Scripts/release.sh [--out DIR]     default DIR: out/
# Prints the tarball's path on stdout. `fleetwave --version` names the commit it was built from
# ($FLEETWAVE_COMMIT, else `git rev-parse HEAD`, with "-dirty" for uncommitted changes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

out="$root/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) echo "release.sh: unknown argument $1 (usage: Scripts/release.sh [--out DIR])" >&2; exit 2 ;;
  esac
done

commit=${FLEETWAVE_COMMIT:-}
if [ -z "$commit" ]; then
  commit=$(git rev-parse --short=12 HEAD) || {
    echo "release.sh: not a git checkout; set FLEETWAVE_COMMIT" >&2; exit 1; }
  git diff --quiet HEAD -- || commit="$commit-dirty"
fi
release=$(sed -n 's/.*public static let version = "\(.*\)".*/\1/p' \
  Sources/FleetwaveCommands/FleetwaveCommand.swift)
[ -n "$release" ] || { echo "release.sh: cannot read the version from FleetwaveCommand.swift" >&2; exit 1; }

# Stamp the commit into the build, and put the file back afterwards with its old timestamp so
# the next debug build does not recompile the command module.
stamp=Sources/FleetwaveCommands/BuildStamp.swift
saved=$(mktemp)
cp -p "$stamp" "$saved"
trap 'cp -p "$saved" "$stamp"; rm -f "$saved"' EXIT
sed -i "s/static let commit: String? = nil/static let commit: String? = \"$commit\"/" "$stamp"
grep -q "\"$commit\"" "$stamp" || { echo "release.sh: could not stamp $stamp" >&2; exit 1; }

for product in fleetwave fleet-sim; do
  swift build -c release --static-swift-stdlib --product "$product" 2>&1 | tail -n 2 >&2
done
bin=$(swift build -c release --show-bin-path)

name="fleetwave-$release-$commit-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'cp -p "$saved" "$stamp"; rm -f "$saved"; rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin"
for product in fleetwave fleet-sim; do
  cp "$bin/$product" "$stage/$name/bin/$product"
  strip "$stage/$name/bin/$product"
done
cp README.md "$stage/$name/"

mkdir -p "$out"
tarball="$out/$name.tar.gz"
tar -C "$stage" -czf "$tarball" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$tarball"
