#!/usr/bin/env bash
# Starts (or stops) a real Prometheus on 127.0.0.1 for demos and manual tests, idempotently:
# one instance per state directory, scraping the given targets every second.
#   Scripts/prometheus.sh start DIR [--port P] [--target HOST:PORT]...   prints the URL
#   Scripts/prometheus.sh stop DIR
#   Scripts/prometheus.sh url DIR
# The Swift tests start their own Prometheus the same way (RealPrometheusTests.swift).
set -euo pipefail
binary=${PROMETHEUS:-/usr/bin/prometheus}
action=${1:-}
dir=${2:-}
[ -n "$action" ] && [ -n "$dir" ] || { sed -n '2,8p' "$0" >&2; exit 2; }
shift 2
pidfile="$dir/prometheus.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$action" in
  start)
    [ -x "$binary" ] || { echo "prometheus.sh: $binary missing (apt-get install prometheus)" >&2; exit 1; }
    if running; then cat "$dir/url"; exit 0; fi
    port=""
    targets=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --port) port=$2; shift 2 ;;
        --target) targets+=("\"$2\""); shift 2 ;;
        *) echo "prometheus.sh: unknown argument $1" >&2; exit 2 ;;
      esac
    done
    if [ -z "$port" ]; then
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    fi
    mkdir -p "$dir/data"
    joined=$(IFS=,; echo "${targets[*]:-}")
    cat >"$dir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: app
    static_configs: [{targets: [$joined]}]
YAML
    nohup "$binary" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
      --web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
    echo $! >"$pidfile"
    url="http://127.0.0.1:$port"
    echo "$url" >"$dir/url"
    for _ in $(seq 1 300); do
      if curl -fs --noproxy '*' "$url/-/ready" >/dev/null 2>&1; then echo "$url"; exit 0; fi
      running || break
      sleep 0.2
    done
    echo "prometheus.sh: not ready; see $dir/prometheus.log" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
    ;;
  url)
    running && cat "$dir/url"
    ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
