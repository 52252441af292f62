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

# One plain closing line: the runner's own test count, less the tests that reported failures.
total=$(sed -n 's/.*Test run with \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$log_dir/test.log" | tail -n 1)
failed=$(grep -E '^✘ Test .* failed after' "$log_dir/test.log" | grep -cv '^✘ Test run with' | tr -d ' ')
passed=$(( ${total:-0} - failed ))
echo "test logs: $log_dir"
echo "Tests: $passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi

echo "== chaos"
# Durable runs under SIGKILL: resumes must not lose or repeat work (docs/operations.md).
if ! "$root/Scripts/chaos.sh"; then
  status=1
fi
# The same for the kube driver against fleet-sim, checked on the clusters' revision records.
if ! "$root/Scripts/chaos.sh" --driver kube; then
  status=1
fi
# Two `rollout --follow --standby` replicas with the run in a home cluster: SIGKILL the active
# one; the other takes over and the rollout completes (docs/operations.md, Standby replicas).
if ! python3 "$root/Scripts/chaos-ha.py" --bin "$(cd "$root" && swift build --show-bin-path)" \
    --kills 10; then
  status=1
fi
exit "$status"
