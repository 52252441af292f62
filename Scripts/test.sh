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
# Passing tests are listed in the log only; failures, issues and the closing counts are shown.
swift test --skip-build 2>&1 | tee "$log_dir/test.log" \
  | awk '!/^◇/ && !/^Test Case .* (started|passed)/ && !(/^✔/ && !/^✔ Test run with/)'

status=${PIPESTATUS[0]}

# One plain closing line, counted from the per-test lines of the log.
passed=$(grep -cE '^✔ Test .* passed after' "$log_dir/test.log" | tr -d ' ')
passed=$((passed - $(grep -cE '^✔ Test run with' "$log_dir/test.log")))
failed=$(grep -E '^✘ Test .* failed after' "$log_dir/test.log" | grep -cv '^✘ Test run with')
echo "test logs: $log_dir"
echo "Tests: $passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi
exit "$status"
