#!/usr/bin/env bash
# Chaos test for durable runs: a rollout of 60 exec clusters is killed with SIGKILL at 20
# random moments and resumed each time; then every cluster must be at the target revision,
# every upgrade must have run exactly once (more only where the journal shows the cluster
# mid-change at a kill), the journal must pass its integrity check and the report must
# agree with the journal. Bounded: about half a minute on a quiet machine.
#
# With --driver kube the same is done to the kube driver against fleet-sim: the demo fleet's
# 60 clusters, kills aimed at applies, readiness waits, revision-record writes, verification
# and bakes, and the clusters' own revision records checked at the end (Scripts/chaos-kube.py
# says how). About 30 s of CPU; 2 to 2.5 minutes on two cores shared with other builds.
#
# Usage: Scripts/chaos.sh [--driver exec|kube] [--kills N] [--clusters N] [--seed S]
#        (needs a built fleetwave, and fleet-sim and helm for kube)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kills=20
clusters=60
seed=$(( $(date +%s) % 32768 ))
driver=exec
clusters_given=
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --clusters) clusters=$2; clusters_given=1; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --driver) driver=$2; shift 2 ;;
    *) echo "chaos: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${FLEETWAVE:-$(cd "$root" && swift build --show-bin-path)/fleetwave}
[ -x "$bin" ] || { echo "chaos: no fleetwave at $bin (build first)" >&2; exit 1; }
RANDOM=$seed

case "$driver" in
  exec) ;;
  kube)
    # The demo fleet fixes the cluster count; kills and seed carry over.
    [ -z "$clusters_given" ] || { echo "chaos: --clusters is for the exec driver" >&2; exit 2; }
    [ -x "$(dirname "$bin")/fleet-sim" ] || { echo "chaos: no fleet-sim beside $bin" >&2; exit 1; }
    export FLEETWAVE_HELM=${FLEETWAVE_HELM:-$root/.tools/helm/helm}
    exec python3 "$root/Scripts/chaos-kube.py" --bin "$(dirname "$bin")" --root "$root" \
      --kills "$kills" --seed "$seed" ;;
  *) echo "chaos: unknown driver $driver (exec or kube)" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetwave-chaos.XXXXXX")
child=
cleanup() {
  if [ -n "$child" ]; then kill -9 "$child" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "chaos: FAILED (seed $seed): $*" >&2
  echo "chaos: last output:" >&2
  tail -n 20 "$work/out.log" >&2 || true
  exit 1
}

fleet=$work/fleet
marks=$work/marks
mkdir -p "$fleet" "$marks"
{
  cat <<EOF
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: chaos}
release:
  name: checkout
  namespace: shop
  driver: exec
  version: 2.0.0
  exec:
    # Each run of the upgrade leaves one line: exactly-once is counted from these files.
    upgrade: 'echo "\$\$" >> $marks/\$FLEETWAVE_CLUSTER.runs; sleep 0.6; echo 2.0.0 > $marks/\$FLEETWAVE_CLUSTER.rev'
    rollback: 'echo 1.0.0 > $marks/\$FLEETWAVE_CLUSTER.rev'
    revision: 'cat $marks/\$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
clusters:
EOF
  for i in $(seq 1 "$clusters"); do
    if [ "$i" -eq 1 ]; then
      echo "  - {name: c-$i, labels: {canary: \"true\", region: r$(( i % 4 ))}}"
    else
      echo "  - {name: c-$i, labels: {region: r$(( i % 4 ))}}"
    fi
  done
  cat <<EOF
rollout:
  canary: {selector: canary=true, maxFailures: 0}
  waves:
    - {name: first, percent: 10}
    - {name: rest}
  maxParallel: 3
  bake: 0s
  failurePolicy: {maxFailuresPerWave: 0, rollback: none}
EOF
} >"$fleet/fleet.yaml"

run=chaos-run
: >"$work/in-flight"
start() {
  # Only the first start creates the run; after that it is resumed.
  if [ -f "$fleet/.fleetwave/runs/$run/journal.log" ]; then
    "$bin" resume "$run" --fleet "$fleet" "$@" >>"$work/out.log" 2>&1 &
  else
    "$bin" rollout "$fleet" --run "$run" "$@" >>"$work/out.log" 2>&1 &
  fi
  child=$!
}

done_kills=0
while [ "$done_kills" -lt "$kills" ]; do
  start
  sleep "0.$(( RANDOM % 41 + 15 ))"
  if ! kill -0 "$child" 2>/dev/null; then
    wait "$child" || true
    child=
    fail "the run ended after $done_kills kills, before all $kills (slow kills or a fast run)"
  fi
  kill -9 "$child"
  wait "$child" 2>/dev/null || true
  child=
  done_kills=$(( done_kills + 1 ))
  # What the journal shows mid-change at this kill may legitimately run again.
  "$bin" status "$run" --fleet "$fleet" -o json >"$work/status.json" 2>>"$work/out.log" \
    || fail "status after kill $done_kills"
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["inFlight"]))' \
    "$work/status.json" >>"$work/in-flight"
done

start --report-json "$work/report.json"
wait "$child" || { child=; fail "the last resume did not succeed"; }
child=
"$bin" status "$run" --fleet "$fleet" --check -o json >"$work/status.json" 2>"$work/check.log" \
  || fail "journal integrity: $(cat "$work/check.log")"

python3 - "$work" "$clusters" "$done_kills" <<'EOF' || fail "checks"
import json, os, sys
work, clusters, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
marks = os.path.join(work, "marks")
in_flight = [line.strip() for line in open(os.path.join(work, "in-flight")) if line.strip()]
allowed_extra = {}
for name in in_flight:
    allowed_extra[name] = allowed_extra.get(name, 0) + 1
problems, reruns = [], 0
for i in range(1, clusters + 1):
    name = f"c-{i}"
    try:
        revision = open(os.path.join(marks, name + ".rev")).read().strip()
    except FileNotFoundError:
        revision = None
    if revision != "2.0.0":
        problems.append(f"{name} is at {revision}, not 2.0.0")
    runs = len(open(os.path.join(marks, name + ".runs")).read().split())
    if runs < 1 or runs > 1 + allowed_extra.get(name, 0):
        problems.append(f"{name}: upgrade ran {runs} times, "
                        f"mid-change at {allowed_extra.get(name, 0)} kills")
    reruns += runs - 1
status = json.load(open(os.path.join(work, "status.json")))
report = json.load(open(os.path.join(work, "report.json")))
if status["outcome"] != "succeeded" or report["outcome"] != "succeeded":
    problems.append(f"outcome: journal {status['outcome']}, report {report['outcome']}")
journal_states = {c["name"]: c["state"] for c in status["clusters"]}
report_states = {c["name"]: c["state"] for c in report["clusters"]}
if journal_states != report_states:
    differ = sorted(n for n in journal_states if journal_states[n] != report_states.get(n))
    problems.append("report and journal disagree on " + ", ".join(differ))
if len(journal_states) != clusters:
    problems.append(f"the journal knows {len(journal_states)} clusters, not {clusters}")
for problem in problems:
    print("chaos: " + problem, file=sys.stderr)
if problems:
    sys.exit(1)
open(os.path.join(work, "summary"), "w").write(
    f"{len(set(in_flight))} clusters mid-change at a kill, {reruns} upgrades re-run")
EOF
echo "chaos: $done_kills kills, $clusters clusters, $(cat "$work/summary"), journal sound, report agrees, passed (seed $seed)"
