#!/usr/bin/env bash
# The one entry to every test: installs what the tests need, builds, runs the whole suite.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/Scripts/bootstrap.sh" --no-build || exit 1
export FLEETWAVE_HELM="$root/.tools/helm/helm"
log_dir="${TMPDIR:-/tmp}/fleetwave-test.$$"
mkdir -p "$log_dir"

echo "== build"
if ! swift build --build-tests >"$log_dir/build.log" 2>&1; then
  grep -E "error:" "$log_dir/build.log" | head -n 40
  tail -n 20 "$log_dir/build.log"
  exit 1
fi
tail -n 1 "$log_dir/build.log"

echo "== swift test"
swift test --skip-build 2>&1 | tee "$log_dir/test.log" | grep -vE "^(◇|✔|Test Case .* (started|passed))"
status=${PIPESTATUS[0]}
echo "test logs: $log_dir"
exit "$status"
