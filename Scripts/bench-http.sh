#!/usr/bin/env bash
# Benchmark of the HTTP transport: probes per second with 50 workers through HTTPTransport
# against a loopback server, beside the same number of requests made by the curl CLI in a
# shell loop; also reports connections opened (keep-alive reuse). Goal: at least 20x the CLI.
#   Scripts/bench-http.sh                 release build, 3000 requests each side
#   Scripts/bench-http.sh --debug         debug build (no optimizer; quicker to build)
#   Scripts/bench-http.sh -- --requests 10000 --workers 50 --cli-requests 1000
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
configuration=release
if [ "${1:-}" = "--debug" ]; then configuration=debug; shift; fi
[ "${1:-}" = "--" ] && shift
command -v curl >/dev/null || { echo "bench-http: needs the curl CLI" >&2; exit 1; }
swift build -c "$configuration" --product fleetwave-bench-http 2>&1 | tail -n 1 >&2
bin=$(swift build -c "$configuration" --show-bin-path)
echo "configuration: $configuration; $(curl --version | head -n 1 | cut -d' ' -f1-3)"
exec "$bin/fleetwave-bench-http" "$@"
