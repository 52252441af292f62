#!/usr/bin/env bash
# Installs fleetwave and fleet-sim from a release tarball, or builds the tarball first.
#   Scripts/install.sh [--prefix DIR] [--with-helm] [TARBALL]
#     --prefix DIR   install into DIR/bin (default /usr/local)
#     --with-helm    also install helm v4.1.4 beside fleetwave (Scripts/install-helm.sh's copy),
#                    where fleetwave looks for it after $FLEETWAVE_HELM
#     TARBALL        a tarball from Scripts/release.sh; its .sha256 file, when present beside
#                    it, is checked. Without one, Scripts/release.sh builds it (needs Swift).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
with_helm=no
tarball=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --with-helm) with_helm=yes; shift ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) tarball=$1; shift ;;
  esac
done

if [ -z "$tarball" ]; then
  echo "install.sh: no tarball given; building one with Scripts/release.sh" >&2
  tarball=$("$root/Scripts/release.sh")
fi
[ -f "$tarball" ] || { echo "install.sh: no tarball at $tarball" >&2; exit 1; }
if [ -f "$tarball.sha256" ]; then
  (cd "$(dirname "$tarball")" && sha256sum --check --quiet "$(basename "$tarball").sha256") || {
    echo "install.sh: $tarball does not match its SHA-256 file" >&2; exit 1; }
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -xzf "$tarball" -C "$stage" --strip-components=1
mkdir -p "$prefix/bin"
for product in fleetwave fleet-sim; do
  install -m 0755 "$stage/bin/$product" "$prefix/bin/$product"
done
if [ "$with_helm" = yes ]; then
  install -m 0755 "$("$root/Scripts/install-helm.sh")" "$prefix/bin/helm"
fi
echo "installed $("$prefix/bin/fleetwave" --version) into $prefix/bin" >&2
