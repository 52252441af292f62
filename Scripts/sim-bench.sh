#!/usr/bin/env bash
# fleet-sim throughput and memory: requests/s for GET and server-side apply on one virtual
# cluster and spread over all of them, and resident memory with 10 objects per cluster.
# The load generator is wrk (Debian package, installed here if missing).
#   Scripts/sim-bench.sh [--clusters N] [--duration SECONDS] [--connections C] [--debug]
#                        [--bin FILE]   (a fleet-sim already built: compare two side by side)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

clusters=1000
duration=10
connections=32
configuration=release
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --clusters) clusters=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --debug) configuration=debug; shift ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "usage: $0 [--clusters N] [--duration SECONDS] [--connections C] [--debug] [--bin FILE]" >&2; exit 2 ;;
  esac
done

if ! command -v wrk >/dev/null; then
  echo "sim-bench: installing wrk" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends wrk >&2
fi

built="$configuration build"
if [ -n "$bin" ]; then
  built="binary $bin"
else
  echo "== building fleet-sim ($configuration)" >&2
  swift build -c "$configuration" --product fleet-sim 2>&1 | tail -n 1 >&2
  bin="$root/.build/$configuration/fleet-sim"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-sim-bench.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --clusters "$clusters" --state "$work/state" >"$work/banner" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "metrics:" "$work/banner" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/metrics|\1|p' "$work/banner")
[ -n "$port" ] || { echo "sim-bench: fleet-sim did not start" >&2; cat "$work/stderr" >&2; exit 1; }
width=$(( ${#clusters} > 4 ? ${#clusters} : 4 ))
first=$(printf "sim-%0${width}d" 1)

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
rss_empty=$(rss)

echo "== seeding 10 ConfigMaps in each of $clusters virtual clusters" >&2
seed_start=$(date +%s.%N)
python3 - "$port" "$clusters" "$width" <<'PY'
import http.client, json, sys
port, clusters, width = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
connection = http.client.HTTPConnection("127.0.0.1", port)
for c in range(1, clusters + 1):
    name = "sim-%0*d" % (width, c)
    for i in range(1, 11):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "cm-%02d" % i, "labels": {"app": "bench"}},
                           "data": {"index": str(i), "payload": "x" * 200}})
        connection.request("PATCH",
                           "/clusters/%s/api/v1/namespaces/default/configmaps/cm-%02d?fieldManager=bench" % (name, i),
                           body, {"Content-Type": "application/apply-patch+yaml"})
        response = connection.getresponse()
        response.read()
        if response.status not in (200, 201):
            sys.exit("seed failed: %s %d" % (name, response.status))
PY
seed_end=$(date +%s.%N)
rss_seeded=$(rss)

cat >"$work/get-spread.lua" <<LUA
request = function()
  local path = string.format("/clusters/sim-%0${width}d/api/v1/namespaces/default/configmaps/cm-%02d",
    math.random(1, $clusters), math.random(1, 10))
  return wrk.format("GET", path)
end
LUA
cat >"$work/apply.lua" <<LUA
local counter = 0
local spread = os.getenv("SPREAD") == "1"
request = function()
  counter = counter + 1
  local cluster = spread and math.random(1, $clusters) or 1
  local path = string.format(
    "/clusters/sim-%0${width}d/api/v1/namespaces/default/configmaps/cm-%02d?fieldManager=bench",
    cluster, math.random(1, 10))
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":{"app":"bench"}},' ..
    '"data":{"index":"' .. counter .. '","payload":"' .. string.rep("x", 200) .. '"}}'
  return wrk.format("PATCH", path, {["Content-Type"] = "application/apply-patch+yaml"}, body)
end
LUA

base="http://127.0.0.1:$port"
measure() {
  local label=$1
  shift
  local output
  output=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$@")
  local rate p99 errors
  rate=$(echo "$output" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$output" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$output" | awk '/Non-2xx/ {print $4}')
  printf "| %-34s | %10s | %8s | %6s |\n" "$label" "$rate" "$p99" "${errors:-0}"
}

echo
echo "fleet-sim benchmark: $clusters virtual clusters, wrk -t2 -c$connections -d${duration}s, $built, $(nproc) cores"
echo
echo "| workload                           | requests/s | p99      | non-2xx |"
echo "|------------------------------------|------------|----------|---------|"
measure "GET, one cluster" "$base/clusters/$first/api/v1/namespaces/default/configmaps/cm-01"
measure "GET, spread over $clusters clusters" -s "$work/get-spread.lua" "$base"
measure "server-side apply, one cluster" -s "$work/apply.lua" "$base"
SPREAD=1 measure "server-side apply, spread" -s "$work/apply.lua" "$base"
echo
printf "Seeding %d objects (one SSA request each, one connection): %.1f s\n" \
  $((clusters * 10)) "$(echo "$seed_end - $seed_start" | bc)"
echo "RSS: $((rss_empty / 1024)) MiB with $clusters empty clusters, $((rss_seeded / 1024)) MiB with 10 objects each, $(( $(rss) / 1024 )) MiB after the runs"
