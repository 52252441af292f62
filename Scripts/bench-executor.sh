#!/usr/bin/env bash
# Executor benchmarks on a release build: sim scheduling overhead against the ideal critical
# path (1,000 clusters, 5 waves, maxParallel 50, 100 ms each), halt latency, and the exec driver
# against xargs -P 20 for 200 x `sleep 0.2`; `virtual` (not in all): CPU per cluster event at
# virtual time, 10,000 and 100,000 clusters. Usage: Scripts/bench-executor.sh [sim|halt|exec|virtual|all]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release --product fleetwave-bench-executor >/dev/null
"$(swift build -c release --show-bin-path)/fleetwave-bench-executor" "${1:-all}"
