#!/usr/bin/env bash
# The benchmark suite: every figure measured side by side in one run, written to
# docs/benchmarks.md with the machine, the date and the command.
#   Scripts/bench.sh            all benchmarks
#   Scripts/bench.sh yaml ...   only the named sections
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(yaml)
work="${TMPDIR:-/tmp}/fleetwave-bench"
mkdir -p "$work"
out="$work/results.md"
: >"$out"

"$root/Scripts/bootstrap.sh" --no-build >/dev/null
echo "== building release" >&2
swift build -c release --product fleetwave-bench 2>&1 | tail -n 1 >&2
bench="$root/.build/release/fleetwave-bench"

run_yaml() {
  local file="$work/values-10mb.yaml"
  [ -f "$file" ] || python3 "$root/Scripts/gen-yaml-bench.py" 10 "$file"
  echo "== yaml: FleetYAML tree vs raw libyaml events, same 10 MB file" >&2
  {
    echo "## YAML parse: FleetYAML to Value vs raw libyaml event pass"
    echo
    echo "Command: \`$bench yaml $file --runs 7\` (passes interleaved, best of 7)"
    echo
    echo '```'
    "$bench" yaml "$file" --runs 7
    echo '```'
    if command -v valgrind >/dev/null; then
      local raw tree
      raw=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" yaml "$file" --only raw 2>&1 \
        | sed -n 's/.*refs: *//p' | tr -d ,)
      tree=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" yaml "$file" --only tree 2>&1 \
        | sed -n 's/.*refs: *//p' | tr -d ,)
      echo
      echo "Instructions (callgrind, repeatable on a shared machine; includes reading the file):"
      echo
      echo "| pass | instructions | ratio |"
      echo "|---|---:|---:|"
      echo "| raw libyaml events | $raw | 1.00 |"
      echo "| FleetYAML to Value | $tree | $(python3 -c "print(f'{$tree/$raw:.2f}')") |"
    fi
    echo
  } >>"$out"
}

for section in "${sections[@]}"; do
  "run_$section"
done

{
  echo "# Benchmarks"
  echo
  echo "Measured by \`Scripts/bench.sh ${sections[*]}\` on $(date -u +%Y-%m-%d),"
  echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(swift --version 2>&1 | head -n 1)."
  echo "Each figure compares two things in the same run, so a noisy machine affects both alike."
  echo
  cat "$out"
} >"$root/docs/benchmarks.md"
cat "$root/docs/benchmarks.md"
