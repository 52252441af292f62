#!/usr/bin/env bash
# The five-minute demo: a 60-cluster fleet emulated by fleet-sim (TLS, kubeconfig), a real
# Prometheus scraping the emulated apps, `fleetwave plan`, then a rollout of checkout 1.5.0
# whose image raises the error rate in us-east-1 production. Canaries, dev and staging pass;
# the Prometheus gate catches the error rate in the first production wave, promotion halts
# and the wave is rolled back. Reports (JSON, JUnit, Markdown, HTML) land in one folder.
#   Scripts/demo.sh [--driver kube|helm|exec] [--speed X] [--out DIR]
# The default driver is kube; exec runs the real helm binary per cluster.
# Exit 0 when the rollout halted exactly as the story says; 1 otherwise.
# Every process it starts is stopped on exit, also on Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

driver=kube
speed=10
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --driver) driver=$2; shift 2 ;;
    --speed) speed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--driver kube|helm|exec] [--speed X] [--out DIR]" >&2; exit 2 ;;
  esac
done
case "$driver" in
  kube | helm | exec) ;;
  *) echo "demo.sh: --driver must be kube, helm or exec" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetwave-demo.XXXXXX")
reports=${out:-$work/reports}
mkdir -p "$reports"
sim_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  "$root/Scripts/prometheus.sh" stop "$work/prometheus" 2>/dev/null || true
  echo "demo: stopped fleet-sim and Prometheus; reports in $reports" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "1/7 installing what the demo needs (idempotent) and building"
"$root/Scripts/bootstrap.sh" --no-build
helm="$root/.tools/helm/helm"
swift build --product fleetwave 2>&1 | tail -n 1
swift build --product fleet-sim 2>&1 | tail -n 1
bin=$(swift build --show-bin-path)
fleetwave="$bin/fleetwave"

say "2/7 starting fleet-sim: 60 virtual clusters of fleets/demo over TLS (speed x$speed)"
# 1.5.0 fails 30% of requests, but only in production in us-east-1.
cat >"$work/faults.yaml" <<'YAML'
images:
  - match: "*:1.5.0"
    effect: errors
    errorRatio: 0.3
    selector: "env=prod,region=us-east-1"
YAML
# fleet-sim and Prometheus run in sessions of their own, so a Ctrl-C reaches only this script
# and fleetwave: the clusters in flight finish against a live fleet, then cleanup stops both.
setsid "$bin/fleet-sim" serve --fleet "$root/fleets/demo" --tls --speed "$speed" \
  --state "$work/sim" --faults "$work/faults.yaml" --kubeconfig "$work/kubeconfig" \
  >"$work/fleet-sim.out" 2>"$work/fleet-sim.log" &
sim_pid=$!
for _ in $(seq 1 300); do
  grep -q "metrics:" "$work/fleet-sim.out" 2>/dev/null && [ -s "$work/kubeconfig" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/fleet-sim.log" >&2; exit 1; }
  sleep 0.1
done
cat "$work/fleet-sim.out"
metrics_port=$(sed -n 's|.*metrics: http://127.0.0.1:\([0-9]*\)/metrics|\1|p' "$work/fleet-sim.out")
[ -n "$metrics_port" ] || { echo "demo: fleet-sim did not start" >&2; exit 1; }
export KUBECONFIG="$work/kubeconfig"
echo "kubeconfig: $KUBECONFIG (a context per cluster, client-certificate authentication)"

say "3/7 starting Prometheus on loopback, scraping every emulated app each second"
prometheus=$(setsid "$root/Scripts/prometheus.sh" start "$work/prometheus" --target "127.0.0.1:$metrics_port")
echo "prometheus: $prometheus"

say "4/7 writing the demo fleet: fleets/demo with short bakes and a Prometheus gate"
fleet="$work/fleet"
mkdir -p "$fleet"
cp -r "$root/fleets/demo/clusters" "$root/fleets/demo/values" "$root/fleets/demo/charts" "$fleet/"
# No maintenance windows: the demo runs now, whatever the hour in Tokyo.
sed -i '/^ *windows:/d' "$fleet"/clusters/*.yaml
case "$driver" in
  exec)
    # The exec driver runs the real helm binary once per cluster.
    release_driver="driver: exec
  exec:
    upgrade: >-
      $helm upgrade --install \"\$FLEETWAVE_RELEASE\" $fleet/charts/checkout
      -n \"\$FLEETWAVE_NAMESPACE\" --create-namespace --kube-context \"\$FLEETWAVE_CONTEXT\"
      -f \"\$FLEETWAVE_VALUES_FILE\" --wait --timeout 2m
    rollback: >-
      if [ -z \"\$FLEETWAVE_FROM_REVISION\" ]; then
      $helm uninstall \"\$FLEETWAVE_RELEASE\" -n \"\$FLEETWAVE_NAMESPACE\"
      --kube-context \"\$FLEETWAVE_CONTEXT\" --wait; else
      $helm rollback \"\$FLEETWAVE_RELEASE\" \"\$FLEETWAVE_FROM_REVISION\"
      -n \"\$FLEETWAVE_NAMESPACE\" --kube-context \"\$FLEETWAVE_CONTEXT\" --wait --timeout 2m; fi
    revision: >-
      $helm status \"\$FLEETWAVE_RELEASE\" -n \"\$FLEETWAVE_NAMESPACE\"
      --kube-context \"\$FLEETWAVE_CONTEXT\" -o json 2>/dev/null
      | python3 -c 'import json,sys; t=sys.stdin.read(); print(json.loads(t)[\"version\"] if t.strip() else \"\")'
    timeout: 3m"
    ;;
  *) release_driver="driver: $driver" ;;
esac
write_fleet() {
  local file=$1 version=$2 rollout=$3
  cat >"$fleet/$file" <<YAML
# fleets/demo as Scripts/demo.sh rolls it out against fleet-sim.
apiVersion: fleetwave/v1
kind: Fleet
metadata:
  name: demo
  description: Checkout service, dev/staging/prod across six regions (emulated)
release:
  name: checkout
  namespace: shop
  chart: charts/checkout
  version: $version
  $release_driver
values:
  - values/base.yaml
  - values/env/{{ .labels.env }}.yaml
  - values/region/{{ .labels.region }}.yaml
  - path: values/clusters/{{ .name }}.yaml
    optional: true
defaults:
  context: "{{ .name }}"
  labels: {team: payments}
  expectedDuration: 10s
clustersFrom: clusters/*.yaml
$rollout
YAML
}
# The version running before the demo: everything at once, no gates.
write_fleet baseline.yaml 1.4.2 "rollout:
  waves: [{name: everything}]
  maxParallel: 20
  clusterTimeout: 3m"
write_fleet fleet.yaml 1.5.0 "rollout:
  canary: {selector: canary=true, maxFailures: 0, bake: 10s}
  waves:
    - {name: dev, selector: env=dev, maxParallel: 12, bake: 5s}
    - {name: staging, selector: \"env=staging, canary!=true\", bake: 5s}
    - {name: prod-first-10pc, percent: 10, maxFailures: 0}
    - {name: prod-europe, selector: \"env=prod,region in (eu-west-1, eu-central-1)\", maxFailures: 1}
    - {name: rest}
  maxParallel: 8
  spreadBy: region
  maxPerDomain: 2
  bake: 5s
  expectedDuration: 10s
  clusterTimeout: 3m
  failurePolicy:
    maxFailuresPerWave: 10%
    maxFailuresTotal: 3
    rollback: wave
  health:
    - name: error-rate
      prometheus:
        url: $prometheus
        query: >-
          sum(rate(app_request_errors_total{cluster=\"{{ .name }}\"}[10s]))
          / sum(rate(app_requests_total{cluster=\"{{ .name }}\"}[10s]))
        failIf: \"> 0.05\"
        initialDelay: 4s
        interval: 2s
        count: 3"
"$fleetwave" validate "$fleet/fleet.yaml"
"$fleetwave" validate "$fleet/baseline.yaml"

say "5/7 fleetwave plan"
"$fleetwave" plan "$fleet/fleet.yaml"
"$fleetwave" plan "$fleet/fleet.yaml" -o html >"$reports/plan.html"
"$fleetwave" plan "$fleet/fleet.yaml" -o json >"$reports/plan.json"

say "6/7 installing checkout 1.4.2 everywhere (the version the fleet runs today)"
"$fleetwave" rollout "$fleet/baseline.yaml" --driver "$driver" --run demo-baseline \
  --log-dir "$work/logs" --report-json "$work/baseline.json" >"$work/baseline.out" 2>&1 || {
  tail -n 20 "$work/baseline.out" >&2
  echo "demo: installing the baseline failed; logs in $work/logs" >&2
  exit 1
}
tail -n 1 "$work/baseline.out"

say "7/7 fleetwave rollout: checkout 1.5.0 with the $driver driver"
run=demo-$(date -u +%Y%m%dT%H%M%S)
status=0
"$fleetwave" rollout "$fleet/fleet.yaml" --driver "$driver" --run "$run" \
  --set image.tag=1.5.0 --log-dir "$reports/logs" \
  --report-json "$reports/run.json" --junit "$reports/junit.xml" \
  --markdown "$reports/summary.md" --html "$reports/run.html" || status=$?

if [ "$status" -eq 3 ]; then
  echo "demo: the rollout was interrupted (exit 3); the reports so far are in $reports" >&2
  exit 130
fi

# The story the demo tells, checked: halted in the first production wave by us-east-1.
verdict=$(python3 - "$reports/run.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
halted = [w["name"] for w in run["waves"] if w["state"] == "halted"]
failed = sorted(c["name"] for c in run["clusters"] if c["error"])
ok = (run["outcome"] == "halted" and halted == ["prod-first-10pc"]
      and failed and all("-use1-" in name for name in failed))
print("ok" if ok else f"unexpected: outcome {run['outcome']}, halted {halted}, failed {failed}")
PY
)
echo
echo "reports: $reports"
ls -1 "$reports"
if [ "$status" -eq 1 ] && [ "$verdict" = "ok" ]; then
  echo "demo: the Prometheus gate caught 1.5.0 in us-east-1; promotion halted and the wave rolled back"
  exit 0
fi
echo "demo: $verdict (rollout exit $status)" >&2
exit 1
