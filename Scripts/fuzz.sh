#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer: Scripts/fuzz.sh [SECONDS] [TARGET...]
#
# The Swift toolchain ships libFuzzer's runtime (lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a),
# so `-sanitize=fuzzer` needs nothing from Debian. One instrumented binary holds every target
# (FLEETWAVE_FUZZ_TARGET picks one); it builds under .build/fuzz, apart from the normal build.
# Each target starts from its seed corpus in Tests/FuzzCorpus/TARGET and grows a working corpus
# under .build/fuzz/corpus/TARGET; crashes land in .build/fuzz/crashes/TARGET. At most two
# targets run at once, under nice. Leak checking is off: Foundation keeps buffers LeakSanitizer
# reports (FileManager.contents on an empty file). Exit 1 if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(yaml selector duration template kubeconfig set journal)
fi

nice -n 19 swift build --build-path .build/fuzz --product fleetwave-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING \
  -Xlinker --undefined=LLVMFuzzerRunDriver -Xlinker --export-dynamic \
  2>&1 | grep -Ev "Cannot export local symbol" | grep -E "error|Compiling fleetwave|Build" || true
[ -x .build/fuzz/debug/fleetwave-fuzz ] || { echo "fuzz build failed"; exit 1; }
binary=.build/fuzz/debug/fleetwave-fuzz

run_target() {
  local target=$1 corpus=.build/fuzz/corpus/$1 crashes=.build/fuzz/crashes/$1
  mkdir -p "$corpus" "$crashes"
  FLEETWAVE_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 nice -n 19 "$binary" "$corpus" "Tests/FuzzCorpus/$target" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
    -artifact_prefix="$crashes/" -print_final_stats=1 >".build/fuzz/$target.log" 2>&1
  local status=$?
  local line
  line=$(grep -E "^#[0-9]+" ".build/fuzz/$target.log" | tail -1 || true)
  echo "$target: exit $status; $(grep -E 'stat::number_of_executed_units' ".build/fuzz/$target.log" | awk '{print $2}') executions; last: $line"
  return $status
}

failed=0
running=0
pids=()
for target in "${targets[@]}"; do
  run_target "$target" &
  pids+=($!)
  running=$((running + 1))
  if [ $running -ge 2 ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ $running -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
