#!/usr/bin/env bash
# The benchmark suite: every figure measured side by side in one run, written to
# docs/benchmarks.md with the machine, the date and the command.
#   Scripts/bench.sh                 every section (10+ minutes on 2 cores)
#   Scripts/bench.sh yaml plan ...   only the named sections, in that order, written to
#                                    $TMPDIR/fleetwave-bench/benchmarks.md
# Sections: yaml inventory plan executor http sim e2e render children scale memory preflight
#   statekube
# Environment: BENCH_E2E_CLUSTERS (default 1000), BENCH_RENDER_CLUSTERS (default 1000),
#   BENCH_OUT (default docs/benchmarks.md),
#   BENCH_SCALE_SIZES (default "1000 10000"; the sizes of the `scale` section),
#   BENCH_CHILDREN_CLUSTERS (default 10000; the exec clusters of the `children` section),
#   BENCH_MEMORY_MB (default 60; the size of the values file of the `memory` section),
#   BENCH_PREFLIGHT_CLUSTERS (default 1000) and BENCH_PREFLIGHT_PARALLEL (default 64; the
#   `preflight` section's clusters and --max-parallel),
#   BENCH_STATEKUBE_CLUSTERS (default 1000; the sim-driver fleet of the `statekube` section),
#   BENCH_BIN (a directory of binaries already built; default: build release first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all_sections=(yaml inventory plan executor http sim e2e render children scale memory preflight
  statekube)
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=("${all_sections[@]}")
for section in "${sections[@]}"; do
  case " ${all_sections[*]} " in
    *" $section "*) ;;
    *) echo "bench.sh: unknown section '$section'; sections: ${all_sections[*]}" >&2; exit 2 ;;
  esac
done

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
work="${TMPDIR:-/tmp}/fleetwave-bench"
mkdir -p "$work"
out="$work/results.md"
: >"$out"
# Only the full suite replaces docs/benchmarks.md; a subset goes beside the work files.
if [ "${sections[*]}" = "${all_sections[*]}" ]; then
  destination=${BENCH_OUT:-$root/docs/benchmarks.md}
else
  destination=${BENCH_OUT:-$work/benchmarks.md}
fi

# Processes a section starts are stopped here too, also on Ctrl-C.
background=()
cleanup() {
  local pid
  for pid in "${background[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$root/Scripts/bootstrap.sh" --no-build >/dev/null
# BENCH_BIN=DIR uses the binaries already built there (a shared machine's build slot, or a
# debug build: say so beside the figures), instead of building release.
if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
else
  echo "== building release (every product; the first build takes several minutes)" >&2
  swift build -c release 2>&1 | tail -n 1 >&2
  bin="$root/.build/release"
fi

# Appends a fenced block holding a command's output; the command line is shown above it.
record() {
  local title=$1
  shift
  {
    echo "Command: \`${*//$root\//}\`"
    echo
    echo '```'
    "$@" 2>&1
    echo '```'
    echo
  } >>"$out"
  echo "== $title done" >&2
}

# Peak resident memory (MiB) and CPU seconds of a command, from GNU time.
timed() {
  local log=$1
  shift
  /usr/bin/time -v -o "$log" "$@"
}
peak_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
cpu_seconds() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$1"; }
wall_seconds() {
  awk -F': ' '/Elapsed \(wall clock\)/ {
    n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"
}

run_yaml() {
  local file="$work/values-10mb.yaml"
  [ -f "$file" ] || python3 "$root/Scripts/gen-yaml-bench.py" 10 "$file"
  echo "== yaml: FleetYAML tree vs raw libyaml events, same 10 MB file" >&2
  {
    echo "## YAML parse: FleetYAML to Value vs raw libyaml event pass"
    echo
    echo "Command: \`fleetwave-bench yaml values-10mb.yaml --runs 7\` (passes interleaved, best of 7)"
    echo
    echo '```'
    "$bin/fleetwave-bench" yaml "$file" --runs 7
    echo '```'
    if command -v valgrind >/dev/null; then
      local raw tree
      raw=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin/fleetwave-bench" yaml "$file" --only raw 2>&1 \
        | sed -n 's/.*refs: *//p' | tr -d ,)
      tree=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin/fleetwave-bench" yaml "$file" --only tree 2>&1 \
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

run_inventory() {
  echo "== inventory: load, validate and merge values at 1k, 10k and 100k clusters" >&2
  {
    echo "## Inventory: load, validate and merge every cluster's values"
    echo
    echo "Fleets from \`Scripts/gen-fleet.py N DIR\` (a file per cluster up to 10,000, lists per"
    echo "region above; 4 values layers). Command: \`/usr/bin/time -v fleetwave-bench inventory DIR --runs 3\`."
    echo
    echo "| clusters | load + validate | merge all values | per cluster | total | peak RSS |"
    echo "|---:|---:|---:|---:|---:|---:|"
  } >>"$out"
  local n dir log result
  for n in 1000 10000 100000; do
    dir="$work/fleet-$n"
    [ -f "$dir/fleet.yaml" ] || python3 "$root/Scripts/gen-fleet.py" "$n" "$dir" >/dev/null
    log="$work/inventory-$n.time"
    result=$(timed "$log" "$bin/fleetwave-bench" inventory "$dir" --runs 3)
    echo "$result" >&2
    echo "$result" | awk -v n="$n" -v rss="$(peak_mib "$log")" '
      /load \+ validate/ {load = $4}
      /merge all values/ {merge = $4; per = substr($6, 2)}
      /total/ {total = $2}
      END {printf "| %d | %s s | %s s | %s us | %s s | %s MiB |\n", n, load, merge, per, total, rss}' >>"$out"
  done
  echo >>"$out"
}

run_plan() {
  echo "== plan: 100,000 clusters" >&2
  {
    echo "## Plan: 100,000 clusters"
    echo
    echo "A synthetic fleet (20 regions, spread, four maintenance windows across time zones, a"
    echo "freeze, priorities), planned and rendered as JSON; 5 runs."
    echo
  } >>"$out"
  record plan "$bin/fleetwave-bench-plan" 100000 5
}

run_executor() {
  echo "== executor: overhead, halt latency, exec driver vs xargs -P" >&2
  {
    echo "## Executor: overhead against the critical path, halt latency, exec driver vs xargs -P"
    echo
    echo "- sim: 1,000 clusters, 5 waves, maxParallel 50, each upgrade 100 ms, no bake; the ideal"
    echo "  critical path is (1000 / 5 / 50) x 100 ms per wave x 5 waves = 2.0 s."
    echo "- halt: time from a budget-crossing failure leaving the driver to the halt decision."
    echo "- exec: 200 clusters, each \`sleep 0.2\`, at parallelism 20, beside \`xargs -P 20\`."
    echo
  } >>"$out"
  record executor "$bin/fleetwave-bench-executor" all
  {
    echo "- virtual: the sim driver at virtual time, 10,000 and 100,000 clusters, 5 waves,"
    echo "  maxParallel 1000: CPU per cluster event (goal: the 100k run at most 12 x the 10k run)."
    echo
  } >>"$out"
  record executor-virtual nice -n 19 "$bin/fleetwave-bench-executor" virtual
}

run_http() {
  echo "== http: HTTPTransport probes vs the curl CLI in a loop" >&2
  {
    echo "## HTTP probes: HTTPTransport vs the curl CLI"
    echo
    echo "50 workers probing a loopback server through HTTPTransport (keep-alive), beside the"
    echo "same requests made by the \`curl\` command in a shell loop."
    echo
  } >>"$out"
  record http "$bin/fleetwave-bench-http"
}

run_sim() {
  echo "== sim: fleet-sim requests/s and memory (about a minute)" >&2
  {
    echo "## fleet-sim: requests per second and memory"
    echo
    echo "1,000 virtual clusters, 10 ConfigMaps each, load from \`wrk\` on the same two cores."
    echo
  } >>"$out"
  {
    echo "Command: \`Scripts/sim-bench.sh --duration 8\`"
    echo
    "$root/Scripts/sim-bench.sh" --duration 8 2>/dev/null
    echo
  } >>"$out"
  echo "== sim done" >&2
}

# Polls a process's peak RSS and CPU time from /proc until it exits: its own figures, not
# its children's (GNU time folds reaped children into the child it waits for).
watch_process() {
  local pid=$1 file=$2 hwm cpu
  while [ -r "/proc/$pid/status" ]; do
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$hwm" ] && [ -n "$cpu" ] && echo "$hwm $cpu" >"$file"
    sleep 0.2
  done
}

# Runs `fleetwave rollout` under GNU time while sampling the fleetwave process itself; prints
# one table row: wall, CPU and peak RSS with children, then CPU and peak RSS of fleetwave alone.
measure_rollout() {
  local label=$1 dir=$2 name=$3
  shift 3
  pushd "$dir" >/dev/null
  /usr/bin/time -v -o "$dir/$name.time" "$bin/fleetwave" rollout "$@" \
    --report-json "$dir/$name.json" >"$dir/$name.out" 2>&1 &
  local timer=$!
  popd >/dev/null
  local fleetwave_pid="" _
  for _ in $(seq 1 200); do
    fleetwave_pid=$(pgrep -P "$timer" 2>/dev/null | head -n 1 || true)
    [ -n "$fleetwave_pid" ] && break
    sleep 0.02
  done
  local watcher=""
  if [ -n "$fleetwave_pid" ]; then
    watch_process "$fleetwave_pid" "$dir/$name.proc" &
    watcher=$!
  fi
  local status=0
  wait "$timer" || status=$?
  [ -z "$watcher" ] || wait "$watcher" 2>/dev/null || true
  tail -n 2 "$dir/$name.out" >&2
  [ "$status" -eq 0 ] || { echo "bench.sh: '$label' exited $status; see $dir/$name.out" >&2; return 1; }
  local own_rss="-" own_cpu="-" hwm ticks
  if [ -s "$dir/$name.proc" ]; then
    read -r hwm ticks <"$dir/$name.proc"
    own_rss="$(( hwm / 1024 )) MiB"
    own_cpu="$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}') s"
  fi
  echo "| $label | $(wall_seconds "$dir/$name.time") s | $(cpu_seconds "$dir/$name.time") s | $(peak_mib "$dir/$name.time") MiB | $own_cpu | $own_rss |"
}

# A fresh work directory $1 holding a synthetic fleet of $2 clusters in $1/fleet.
generate_fleet() {
  rm -rf "$1"
  mkdir -p "$1"
  python3 "$root/Scripts/gen-fleet.py" "$2" "$1/fleet" --layout grouped >/dev/null
}

# Starts fleet-sim over TLS on the clusters of $1/fleet (or on those the serve options after
# $1 name), writing $1/kubeconfig; sets `sim` to its pid once it serves.
start_fleet_sim() {
  local dir=$1 _
  shift
  [ $# -gt 0 ] || set -- --fleet "$dir/fleet"
  "$bin/fleet-sim" serve "$@" --tls --state "$dir/sim" \
    --kubeconfig "$dir/kubeconfig" >"$dir/sim.out" 2>"$dir/sim.err" &
  sim=$!
  background+=("$sim")
  for _ in $(seq 1 300); do
    [ -s "$dir/kubeconfig" ] && grep -q "metrics:" "$dir/sim.out" 2>/dev/null && return 0
    kill -0 "$sim" 2>/dev/null || { cat "$dir/sim.err" >&2; return 1; }
    sleep 0.1
  done
  echo "bench.sh: fleet-sim did not start; see $dir/sim.err" >&2
  return 1
}

run_e2e() {
  local n=${BENCH_E2E_CLUSTERS:-1000}
  echo "== e2e: rollout of $n emulated clusters: kube driver, exec + kubectl, xargs + kubectl" >&2
  local dir="$work/e2e"
  generate_fleet "$dir" "$n"
  mkdir -p "$dir/fleet/manifests"
  # One ConfigMap per cluster; each run applies its own, so no run sees another's fields.
  local manifest
  for manifest in kube exec xargs; do
    cat >"$dir/$manifest.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config-$manifest
  namespace: default
  labels: {app.kubernetes.io/name: app}
data:
  version: "{{ .version }}"
YAML
  done
  mv "$dir/kube.yaml" "$dir/fleet/manifests/configmap.yaml"
  sed -i 's/{{ .version }}/2.3.1/' "$dir/exec.yaml" "$dir/xargs.yaml"
  # kubectl from PATH, else the one Scripts/install-helm.sh unpacked beside helm.
  local kubectl
  kubectl=$(command -v kubectl || echo "$root/.tools/kubectl/kubectl")
  local upgrade="$kubectl --kubeconfig $dir/kubeconfig --context \"\$FLEETWAVE_CONTEXT\" apply --server-side --field-manager fleetwave -f $dir/exec.yaml"
  # The clusters of gen-fleet.py with a rollout policy for the run: a canary, then growing waves.
  local driver
  for driver in kube exec; do
    cat >"$dir/fleet/$driver.yaml" <<YAML
# $n clusters from Scripts/gen-fleet.py, rolled out by Scripts/bench.sh e2e.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-e2e}
release:
  name: app
  namespace: default
  version: 2.3.1
  manifests: manifests
  driver: $driver
  exec:
    upgrade: $upgrade
    timeout: 2m
defaults:
  context: "{{ .name }}"
clustersFrom: clusters/*.yaml
rollout:
  canary: {selector: canary=true}
  waves:
    - {name: one-percent, percent: 1}
    - {name: ten-percent, percent: 10}
    - {name: rest}
  maxParallel: 50
  clusterTimeout: 2m
  failurePolicy: {maxFailuresPerWave: 5%, rollback: none}
YAML
  done
  echo "== e2e: starting fleet-sim with $n virtual clusters" >&2
  start_fleet_sim "$dir" || return 1
  local contexts
  contexts=$("$kubectl" --kubeconfig "$dir/kubeconfig" config get-contexts -o name | sort)

  local rows=()
  echo "== e2e: fleetwave rollout --driver kube" >&2
  rows+=("$(measure_rollout "fleetwave rollout, \`kube\` driver" "$dir" kube \
    fleet/kube.yaml --kubeconfig "$dir/kubeconfig")")
  echo "== e2e: fleetwave rollout --driver exec (kubectl per cluster)" >&2
  rows+=("$(measure_rollout "fleetwave rollout, \`exec\` driver running kubectl" "$dir" exec \
    fleet/exec.yaml --log-dir "$dir/logs")")
  echo "== e2e: xargs -P 50 kubectl" >&2
  timed "$dir/xargs.time" sh -c "echo '$contexts' | xargs -P 50 -I{} \
    $kubectl --kubeconfig $dir/kubeconfig --context {} apply --server-side \
      --field-manager baseline -f $dir/xargs.yaml >/dev/null"
  rows+=("| \`xargs -P 50 kubectl apply --server-side\`, no waves | $(wall_seconds "$dir/xargs.time") s | $(cpu_seconds "$dir/xargs.time") s | $(peak_mib "$dir/xargs.time") MiB | - | - |")

  local outcome
  outcome=$(python3 -c "
import json, sys
for name in sys.argv[1:]:
    r = json.load(open(name))
    print(r['driver'] + ': ' + r['outcome'] + ', ' + str(r['counts']['succeeded']) + ' succeeded.', end=' ')
" "$dir/kube.json" "$dir/exec.json")
  {
    echo "## End to end: rollout of $n emulated clusters"
    echo
    echo "fleet-sim serves $n virtual clusters over TLS (client certificates), and each run puts one"
    echo "ConfigMap into every cluster with server-side apply: the \`kube\` driver (Fleetwave's own"
    echo "client: render, apply, revision record, release Lease), the \`exec\` driver running"
    echo "\`kubectl apply --server-side\` per cluster, and \`xargs -P 50\` running that same kubectl"
    echo "command with no waves, no gates and no records. Both rollouts: canary, 1%, 10%, rest;"
    echo "maxParallel 50. Outcomes: $outcome"
    echo
    echo "| run | wall | CPU, with children | peak RSS, largest process | CPU, fleetwave alone | peak RSS, fleetwave alone |"
    echo "|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Wall, CPU and the first peak RSS are GNU time's (\`/usr/bin/time -v\`; its peak RSS is the"
    echo "largest single process, kubectl included). \"Alone\" figures are read from /proc for the"
    echo "fleetwave process every 0.2 s. Commands, in \`$dir\`:"
    echo "\`fleetwave rollout fleet/kube.yaml --kubeconfig kubeconfig\`,"
    echo "\`fleetwave rollout fleet/exec.yaml\`, and"
    echo "\`sh -c \"... | xargs -P 50 -I{} kubectl --context {} apply --server-side -f xargs.yaml\"\`."
    echo
  } >>"$out"
  kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
  echo "== e2e done" >&2
}

# The kube driver rendering the demo chart, side by side with what it saves and what it
# replaces: values shared by environment and region (one `helm template` per distinct input),
# values made distinct per cluster (one per cluster), the same objects from a manifests
# directory (no helm at all), and the helm driver (one `helm upgrade` per cluster). helm runs
# through a wrapper that counts its invocations by subcommand, so the "once per distinct
# input" claim is measured, not assumed.
run_render() {
  local n=${BENCH_RENDER_CLUSTERS:-1000}
  echo "== render: chart rollout of $n emulated clusters: shared, distinct, manifests, helm driver" >&2
  local dir="$work/render"
  generate_fleet "$dir" "$n"
  mkdir -p "$dir/fleet/charts" "$dir/fleet/manifests" "$dir/fleet/values/own"
  cp -r "$root/fleets/demo/charts/checkout" "$dir/fleet/charts/checkout"
  local helm_real
  helm_real=${FLEETWAVE_HELM:-$root/.tools/helm/helm}
  [ -x "$helm_real" ] || { echo "bench.sh: helm not found at $helm_real" >&2; return 1; }
  # Counts every helm run into $HELM_CALLS (one line: the subcommand), then runs helm.
  cat >"$dir/helm" <<SH
#!/bin/sh
echo "\$1" >>"\$HELM_CALLS"
exec "$helm_real" "\$@"
SH
  chmod +x "$dir/helm"
  local distinct
  distinct=$(python3 - "$dir/fleet" <<'PY'
import glob, os, re, sys
root = sys.argv[1]
inputs = set()
for path in glob.glob(os.path.join(root, "clusters", "*.yaml")):
    text = open(path).read()
    for name, labels in re.findall(r"name: (\S+)\n\s+labels: \{([^}]*)\}", text):
        fields = dict(part.split(": ", 1) for part in labels.split(", "))
        override = os.path.exists(os.path.join(root, "values", "clusters", name + ".yaml"))
        inputs.add(name if override else (fields["env"], fields["region"]))
        with open(os.path.join(root, "values", "own", name + ".yaml"), "w") as f:
            f.write(f"config:\n  cluster: {name}\n")
print(len(inputs))
PY
)
  # The manifests run applies what the chart renders with the base values: the same objects.
  "$helm_real" template app-manifests "$dir/fleet/charts/checkout" --namespace app \
    -f "$dir/fleet/values/base.yaml" >"$dir/fleet/manifests/checkout.yaml"
  local variant release layer
  for variant in shared distinct manifests helm; do
    layer=""
    case $variant in
      distinct) release="chart: charts/checkout, driver: kube"; layer='  - values/own/{{ .name }}.yaml' ;;
      manifests) release="manifests: manifests, driver: kube" ;;
      helm) release="chart: charts/checkout, driver: helm" ;;
      *) release="chart: charts/checkout, driver: kube" ;;
    esac
    cat >"$dir/fleet/$variant.yaml" <<YAML
# $n clusters from Scripts/gen-fleet.py, rolled out by Scripts/bench.sh render.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-render-$variant}
release: {name: app-$variant, namespace: app, version: 2.3.1, $release}
values:
  - values/base.yaml
  - values/env/{{ .labels.env }}.yaml
  - values/region/{{ .labels.region }}.yaml
  - path: values/clusters/{{ .name }}.yaml
    optional: true
$layer
defaults:
  context: "{{ .name }}"
clustersFrom: clusters/*.yaml
rollout:
  canary: {selector: canary=true}
  waves:
    - {name: rest}
  maxParallel: 50
  clusterTimeout: 5m
  # A loaded machine makes TLS handshakes time out; those clusters are tried again.
  onUnreachable: defer
  failurePolicy: {maxFailuresPerWave: 5%, rollback: none}
YAML
  done
  echo "== render: starting fleet-sim with $n virtual clusters" >&2
  start_fleet_sim "$dir" || return 1
  local rows=() label calls
  for variant in shared distinct manifests helm; do
    case $variant in
      shared) label="\`kube\`, chart, values shared ($distinct distinct inputs)" ;;
      distinct) label="\`kube\`, chart, values distinct ($n distinct inputs)" ;;
      manifests) label="\`kube\`, manifests directory (no helm)" ;;
      helm) label="\`helm\` driver, chart, values shared" ;;
    esac
    echo "== render: $label" >&2
    : >"$dir/$variant.calls"
    rows+=("$(HELM_CALLS="$dir/$variant.calls" FLEETWAVE_HELM="$dir/helm" measure_rollout \
      "$label" "$dir" "$variant" "fleet/$variant.yaml" --kubeconfig "$dir/kubeconfig" \
      --log-dir "$dir/logs-$variant")")
    calls=$(sort "$dir/$variant.calls" | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
    rows[-1]="${rows[-1]} ${calls:-none} |"
  done
  local ratio
  ratio=$(awk -v a="$(cpu_seconds "$dir/shared.time")" -v b="$(cpu_seconds "$dir/distinct.time")" \
    'BEGIN {printf "%.2f", b / a}')
  {
    echo "## Rendering: once per distinct input"
    echo
    echo "A rollout of the demo chart to $n emulated clusters (fleet-sim over TLS), four ways, one"
    echo "after the other: the \`kube\` driver with values layered by environment and region as"
    echo "Scripts/gen-fleet.py writes them ($distinct distinct inputs); the same with one more layer"
    echo "that makes every cluster's values its own; the \`kube\` driver applying the same objects"
    echo "from a manifests directory; and the \`helm\` driver. helm runs through a wrapper that"
    echo "counts its invocations by subcommand. CPU with children, distinct against shared:"
    echo "**$ratio x**."
    echo
    echo "| run | wall | CPU, with children | peak RSS, largest process | CPU, fleetwave alone | peak RSS, fleetwave alone | helm invocations |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Commands, in \`$dir\`: \`fleetwave rollout fleet/VARIANT.yaml --kubeconfig kubeconfig\`"
    echo "for VARIANT in shared, distinct, manifests, helm, with \`FLEETWAVE_HELM\` the counting"
    echo "wrapper."
    echo
  } >>"$out"
  kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
  echo "== render done" >&2
}

# Samples a process from /proc every 0.1 s until it exits, keeping the peaks of its thread
# count, open descriptors and resident memory, and its last CPU time: "threads fds hwm_kib ticks".
watch_peaks() {
  local pid=$1 file=$2 threads fds hwm ticks peak_threads=0 peak_fds=0
  while [ -r "/proc/$pid/status" ]; do
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$threads" ] && [ "$threads" -gt "$peak_threads" ] && peak_threads=$threads
    [ "$fds" -gt "$peak_fds" ] && peak_fds=$fds
    [ -n "$hwm" ] && [ -n "$ticks" ] && echo "$peak_threads $peak_fds $hwm $ticks" >"$file"
    sleep 0.1
  done
}

# Runs `fleetwave rollout ARGS` in DIR with its peaks sampled; prints
# "wall_seconds threads fds rss_mib cpu_seconds" (fleetwave alone, not its children).
rollout_peaks() {
  local dir=$1 name=$2
  shift 2
  local began ended status=0
  began=$(date +%s.%N)
  ( cd "$dir" && exec "$bin/fleetwave" rollout "$@" --report-json "$dir/$name.json" \
    >"$dir/$name.out" 2>&1 ) &
  local pid=$!
  watch_peaks "$pid" "$dir/$name.peaks" &
  local watcher=$!
  wait "$pid" || status=$?
  ended=$(date +%s.%N)
  wait "$watcher" 2>/dev/null || true
  tail -n 2 "$dir/$name.out" >&2
  # Exit 1 (clusters failed) still measures the run; its report says how many.
  [ "$status" -le 1 ] && [ -s "$dir/$name.json" ] \
    || { echo "bench.sh: $name exited $status; see $dir/$name.out" >&2; return 1; }
  local threads fds hwm ticks
  read -r threads fds hwm ticks <"$dir/$name.peaks"
  awk -v b="$began" -v e="$ended" -v t="$threads" -v f="$fds" -v h="$hwm" -v c="$ticks" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f %d %d %d %.2f\n", e - b, t, f, h / 1024, c / hz}'
}

run_children() {
  local n=${BENCH_CHILDREN_CLUSTERS:-10000} parallel=2000
  echo "== children: exec driver, $n clusters, maxParallel $parallel, each sleep 1" >&2
  local dir="$work/children"
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    cat <<YAML
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-children}
release:
  name: app
  namespace: default
  version: 2.3.1
  driver: exec
  exec: {upgrade: sleep 1, timeout: 2m}
rollout:
  waves: [{name: all}]
  maxParallel: $parallel
  clusterTimeout: 2m
  failurePolicy: {maxFailuresPerWave: 0, rollback: none}
clusters:
YAML
    seq -f '  - {name: c-%05g}' 1 "$n"
  } >"$dir/fleet.yaml"
  local ideal=$(( (n + parallel - 1) / parallel ))
  # Once with the journal where it belongs, once on tmpfs: the journal syncs every record to
  # disk before the action it announces, so the first run shows the disk's share.
  local rows=() where state wall threads fds rss cpu
  for where in disk tmpfs; do
    state="$dir/state"
    [ "$where" = disk ] || state=$(mktemp -d /dev/shm/fleetwave-bench.XXXXXX)
    read -r wall threads fds rss cpu < <(rollout_peaks "$dir" "exec-$where" "$dir/fleet.yaml" \
      --log-dir "$dir/logs-$where" --state "$state")
    [ "$where" = disk ] || rm -rf "$state"
    rows+=("| journal on $where | $wall s | $(awk -v w="$wall" -v i="$ideal" 'BEGIN {printf "%.2f", w / i}') | $threads | $fds | $rss MiB | $cpu s |")
  done
  # The machine's own floor for the same children: xargs spawning `sh -c "sleep 1"`.
  timed "$dir/xargs.time" sh -c "seq 1 $n | xargs -P $parallel -I{} /bin/sh -c 'sleep 1'"
  {
    echo "## Child processes: exec driver, $n clusters at maxParallel $parallel"
    echo
    echo "One wave of $n clusters, each upgrade \`sleep 1\` in its own process group; the ideal"
    echo "wall time is $n / $parallel x 1 s = $ideal s. Threads and descriptors are the peaks of the"
    echo "fleetwave process, sampled from /proc/PID/status and /proc/PID/fd every 0.1 s (goal:"
    echo "both under $parallel + 100; wall within 1.10 x $ideal s)."
    echo
    echo "| run | wall | x ideal | peak threads | peak descriptors | peak RSS | CPU, fleetwave alone |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "The same $n children from \`xargs -P $parallel sh -c 'sleep 1'\` (no waves, no records):"
    echo "wall $(wall_seconds "$dir/xargs.time") s, CPU with children $(cpu_seconds "$dir/xargs.time") s."
    echo
    echo "Command, in \`$dir\`: \`fleetwave rollout fleet.yaml --log-dir logs --state STATE\`, STATE"
    echo "a directory beside it, then one under /dev/shm."
    echo
  } >>"$out"
  echo "== children done" >&2
}

run_scale() {
  local sizes=${BENCH_SCALE_SIZES:-1000 10000} parallel=1000
  local kubectl
  kubectl=$(command -v kubectl || echo "$root/.tools/kubectl/kubectl")
  local rows=() n
  for n in $sizes; do
    echo "== scale: kube driver, $n virtual clusters, maxParallel $parallel" >&2
    local dir="$work/scale-$n"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 "$root/Scripts/gen-fleet.py" "$n" "$dir/fleet" --layout grouped >/dev/null
    mkdir -p "$dir/fleet/manifests"
    cat >"$dir/fleet/manifests/configmap.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: default
  labels: {app.kubernetes.io/name: app}
data:
  version: "{{ .version }}"
YAML
    cat >"$dir/fleet/kube.yaml" <<YAML
# $n clusters from Scripts/gen-fleet.py, rolled out by Scripts/bench.sh scale.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-scale}
release:
  name: app
  namespace: default
  version: 2.3.1
  manifests: manifests
  driver: kube
defaults:
  context: "{{ .name }}"
clustersFrom: clusters/*.yaml
rollout:
  waves: [{name: all}]
  maxParallel: $parallel
  clusterTimeout: 5m
  failurePolicy: {maxFailuresPerWave: 100%, rollback: none}
YAML
    "$bin/fleet-sim" serve --fleet "$dir/fleet" --tls --state "$dir/sim" \
      --kubeconfig "$dir/kubeconfig" >"$dir/sim.out" 2>"$dir/sim.err" &
    local sim=$!
    background+=("$sim")
    local _
    for _ in $(seq 1 600); do
      [ -s "$dir/kubeconfig" ] && grep -q "metrics:" "$dir/sim.out" 2>/dev/null && break
      kill -0 "$sim" 2>/dev/null || { cat "$dir/sim.err" >&2; return 1; }
      sleep 0.1
    done
    local wall threads fds rss cpu
    read -r wall threads fds rss cpu < <(rollout_peaks "$dir" kube fleet/kube.yaml \
      --kubeconfig "$dir/kubeconfig")
    kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
    local outcome
    outcome=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(r["outcome"] + ", " + str(r["counts"]["succeeded"]) + " succeeded")' "$dir/kube.json")
    rows+=("| $n | $outcome | $wall s | $cpu s | $(awk -v c="$cpu" -v n="$n" 'BEGIN {printf "%.2f", c * 1000 / n}') ms | $rss MiB | $threads | $fds |")
  done
  {
    echo "## Scale: kube driver against fleet-sim, maxParallel $parallel"
    echo
    echo "fleet-sim serves the virtual clusters over TLS (client certificates, one server); each"
    echo "run applies one ConfigMap to every cluster in one wave with the \`kube\` driver (render,"
    echo "server-side apply, revision record, release Lease). Figures are fleetwave's own, sampled"
    echo "from /proc every 0.1 s; fleet-sim runs on the same two cores. Goal: CPU per cluster"
    echo "no worse at the larger size (linear)."
    echo
    echo "| clusters | outcome | wall | CPU, fleetwave | CPU per cluster | peak RSS | peak threads | peak descriptors |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Command, in \`$work/scale-N\`: \`fleetwave rollout fleet/kube.yaml --kubeconfig kubeconfig\`."
    echo
  } >>"$out"
  echo "== scale done" >&2
}

# One large values file through `values`, `plan` and a kube rollout of four clusters: peak
# RSS against the file's size (goal: under 4 x the file for the rollout).
run_memory() {
  local mb=${BENCH_MEMORY_MB:-60}
  echo "== memory: a $mb MB values file, 4 clusters, kube driver against fleet-sim" >&2
  local dir="$work/memory"
  rm -rf "$dir"
  mkdir -p "$dir/fleet/values/env" "$dir/fleet/manifests"
  python3 "$root/Scripts/gen-values.py" "$mb" "$dir/fleet/values/big.yaml"
  local env
  for env in staging prod; do
    printf 'global:\n  environment: %s\nservices:\n  service-0: {replicas: 3}\n' "$env" \
      >"$dir/fleet/values/env/$env.yaml"
  done
  cat >"$dir/fleet/manifests/configmap.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: default}
data:
  version: "{{ .version }}"
YAML
  cat >"$dir/fleet/fleet.yaml" <<YAML
# 4 clusters sharing one $mb MB values file, rolled out by Scripts/bench.sh memory.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-memory}
release: {name: app, namespace: default, version: 2.3.1, manifests: manifests, driver: kube}
values:
  - values/big.yaml
  - values/env/{{ .labels.env }}.yaml
defaults:
  context: "{{ .name }}"
clusters:
  - {name: sim-0001, labels: {env: staging}}
  - {name: sim-0002, labels: {env: staging}}
  - {name: sim-0003, labels: {env: prod}}
  - {name: sim-0004, labels: {env: prod}}
rollout:
  waves: [{name: all}]
  maxParallel: 4
  # Generous: a debug build hashes the values slowly, and this measures memory, not time.
  clusterTimeout: 30m
  failurePolicy: {maxFailuresPerWave: 0, rollback: none}
YAML
  local size
  size=$(stat -c %s "$dir/fleet/values/big.yaml")
  # fleet-sim needs only the cluster names, not the values: numbered clusters, named so.
  start_fleet_sim "$dir" --clusters 4 || return 1
  local rows=()
  # Runs a fleetwave command under GNU time and prints its table row; $1 names it.
  memory_row() {
    local label=$1 log="$dir/$2.time"
    shift 2
    (cd "$dir" && timed "$log" "$bin/fleetwave" "$@" >"$log.out" 2>&1) \
      || { echo "bench.sh: '$label' failed; see $log.out" >&2; return 1; }
    local rss
    rss=$(peak_mib "$log")
    echo "| \`$label\` | $rss MiB | $(awk -v r="$rss" -v s="$size" 'BEGIN {printf "%.2f", r * 1048576 / s}') | $(cpu_seconds "$log") s |"
  }
  rows+=("$(memory_row "values fleet --cluster sim-0003" values values fleet --cluster sim-0003)")
  rows+=("$(memory_row "plan fleet" plan plan fleet)")
  rows+=("$(memory_row "rollout fleet --kubeconfig kubeconfig" rollout rollout fleet \
    --kubeconfig "$dir/kubeconfig" --state "$dir/state")")
  kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
  {
    echo "## Memory: one $(awk -v s="$size" 'BEGIN {printf "%.1f", s / 1048576}') MiB values file"
    echo
    echo "A values file of $size bytes from \`Scripts/gen-values.py $mb\` (about 72,000 services: nested"
    echo "maps, long and multi-line strings, lists) under a small per-environment layer; 4 clusters,"
    echo "\`kube\` driver with a manifests directory, against fleet-sim over TLS. Peak RSS is GNU"
    echo "time's (\`/usr/bin/time -v\`, Maximum resident set size) for the fleetwave process."
    echo "Goal: the rollout under 4 x the file size."
    echo
    echo "| command, in \`$dir\` | peak RSS | x file size | CPU |"
    echo "|---|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
    echo
  } >>"$out"
  echo "== memory done" >&2
}

# `fleetwave preflight` over many emulated clusters: wall time, memory, and the API requests
# each cluster costs, counted from fleet-sim's request log (one line per request).
run_preflight() {
  local n=${BENCH_PREFLIGHT_CLUSTERS:-1000}
  echo "== preflight: $n emulated clusters" >&2
  local dir="$work/preflight"
  generate_fleet "$dir" "$n"
  mkdir -p "$dir/fleet/charts"
  cp -r "$root/fleets/demo/charts/checkout" "$dir/fleet/charts/checkout"
  cat >"$dir/fleet/preflight.yaml" <<YAML
# $n clusters from Scripts/gen-fleet.py, checked by Scripts/bench.sh preflight.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {name: bench-preflight}
release: {name: checkout, namespace: shop, version: 2.3.1, chart: charts/checkout, driver: kube}
values:
  - values/base.yaml
  - values/env/{{ .labels.env }}.yaml
  - values/region/{{ .labels.region }}.yaml
  - path: values/clusters/{{ .name }}.yaml
    optional: true
defaults:
  context: "{{ .name }}"
clustersFrom: clusters/*.yaml
rollout:
  waves: [{name: all}]
YAML
  echo "== preflight: starting fleet-sim with $n virtual clusters (--log-requests)" >&2
  start_fleet_sim "$dir" --fleet "$dir/fleet" --log-requests || return 1
  local before
  before=$(grep -c ' -> ' "$dir/sim.err" || true)
  echo "== preflight: fleetwave preflight" >&2
  # Exit 1 when a cluster fails a check: the figures stand either way, the outcome says it.
  timed "$dir/preflight.time" "$bin/fleetwave" preflight "$dir/fleet/preflight.yaml" \
    --kubeconfig "$dir/kubeconfig" --max-parallel "${BENCH_PREFLIGHT_PARALLEL:-64}" -o json \
    >"$dir/preflight.json" 2>"$dir/preflight.err" || true
  local counts
  counts=$(tail -n +"$((before + 1))" "$dir/sim.err" | grep ' -> ' | python3 -c "
import re, sys
per = {}
for line in sys.stdin:
    m = re.search(r' /clusters/([^/ ?]+)', line)
    if m: per[m.group(1)] = per.get(m.group(1), 0) + 1
values = sorted(per.values()) or [0]
print(len(per), sum(values), '%.1f' % (sum(values) / len(values)), values[0], values[-1])
")
  local clusters total mean least most
  read -r clusters total mean least most <<<"$counts"
  local passed
  passed=$(python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
print(sum(1 for c in r['clusters'] if c['passed']), 'of', len(r['clusters']), 'passed')
" "$dir/preflight.json" 2>/dev/null || echo "no report")
  {
    echo "## Preflight over $n emulated clusters"
    echo
    echo "\`fleetwave preflight\` on $n clusters of one fleet-sim (TLS, client certificates): the"
    echo "demo chart (ConfigMap, Service, Deployment), values shared by environment and region,"
    echo "\`--max-parallel ${BENCH_PREFLIGHT_PARALLEL:-64}\`. Outcome: $passed. API requests are counted from"
    echo "fleet-sim's request log (\`--log-requests\`, one line per request)."
    echo
    echo "| clusters | wall | CPU | peak RSS | API requests | per cluster (mean, min, max) |"
    echo "|---:|---:|---:|---:|---:|---|"
    echo "| $n | $(wall_seconds "$dir/preflight.time") s | $(cpu_seconds "$dir/preflight.time") s | $(peak_mib "$dir/preflight.time") MiB | $total ($clusters clusters) | $mean, $least, $most |"
    echo
    echo "Command, in \`$dir\`: \`fleetwave preflight fleet/preflight.yaml --kubeconfig kubeconfig -o json\`."
    echo
  } >>"$out"
  kill "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
  echo "== preflight done" >&2
}

# The journal in a home cluster (`--state kube://`): a sim-driver rollout (virtual time, so
# the journal is the work) against fleet-sim over TLS, whose --request-log counts the API
# writes to the journal's Secrets; the records are read back from the chunks.
run_statekube() {
  local n=${BENCH_STATEKUBE_CLUSTERS:-1000}
  echo "== statekube: journal of a $n-cluster run in a home cluster" >&2
  local dir="$work/statekube"
  rm -rf "$dir"
  mkdir -p "$dir/fleet"
  start_fleet_sim "$dir" --clusters 1 --request-log "$dir/requests.jsonl"
  kubectl --kubeconfig "$dir/kubeconfig" --context sim-0001 create namespace fw >/dev/null
  {
    printf 'apiVersion: fleetwave/v1\nkind: Fleet\nmetadata: {name: journal}\n'
    printf 'release: {name: app, namespace: app, driver: sim, version: 2.0.0}\n'
    printf 'rollout: {maxParallel: 50}\nclusters:\n'
    for i in $(seq 1 "$n"); do printf '  - {name: c-%05d}\n' "$i"; done
  } >"$dir/fleet/fleet.yaml"
  local start end
  start=$(date +%s.%N)
  "$bin/fleetwave" rollout "$dir/fleet" --run bench --state kube://sim-0001/fw \
    --kubeconfig "$dir/kubeconfig" >"$dir/rollout.out" 2>&1
  end=$(date +%s.%N)
  kubectl --kubeconfig "$dir/kubeconfig" --context sim-0001 -n fw get secrets \
    -l fleetwave.io/chunk -o json >"$dir/chunks.json"
  local row
  row=$(python3 - "$dir" "$n" "$start" "$end" <<'PY'
import base64, json, sys
directory, clusters, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
writes = 0
for line in open(f"{directory}/requests.jsonl"):
    entry = json.loads(line)
    # Creates of chunks (POST to .../secrets) and updates of the tail chunk (PUT).
    if "/secrets" in entry["path"] and entry["method"] in ("POST", "PUT") and entry["status"] < 300:
        writes += 1
chunks = json.load(open(f"{directory}/chunks.json"))["items"]
records = sum(base64.b64decode(c["data"]["records"]).count(b"\n") for c in chunks)
wall = end - start
per_write = records / writes
per_cluster = records / clusters
print(f"| {clusters:,} | {wall:.2f} s | {records:,} | {per_cluster:.2f} | {writes:,} | "
      f"{per_write:.2f} | {writes / wall:.0f} | {len(chunks)} | "
      f"{per_cluster * 10000 / per_write:,.0f} |")
PY
)
  {
    echo "## Journal in a home cluster: API writes against fleet-sim"
    echo
    echo "A $n-cluster rollout with the \`sim\` driver (virtual time, one wave, maxParallel 50),"
    echo "its journal in a fleet-sim virtual cluster over TLS (\`--state kube://sim-0001/fw\`)."
    echo "Writes are the creates and updates of journal Secrets in fleet-sim's \`--request-log\`;"
    echo "records are the lines read back from the chunks. API writes at 10,000 clusters ="
    echo "records per cluster x 10,000 / records per write."
    echo
    echo "Command, in \`$dir\`: \`fleetwave rollout fleet --run bench --state kube://sim-0001/fw --kubeconfig kubeconfig\`"
    echo
    echo "| clusters | wall | records | records per cluster | API writes | records per write | writes per second | chunks | API writes at 10,000 clusters |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "$row"
    echo
  } >>"$out"
  kill "$sim" 2>/dev/null || true
  wait "$sim" 2>/dev/null || true
  echo "== statekube done" >&2
}

for section in "${sections[@]}"; do
  "run_$section"
done

{
  echo "# Benchmarks"
  echo
  echo "Measured by \`Scripts/bench.sh ${sections[*]}\` on $(date -u '+%Y-%m-%d %H:%M UTC'), ${BENCH_BIN:+binaries from $BENCH_BIN, not a }release build of"
  echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), on $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB, $(swift --version 2>&1 | head -n 1); load average at the start: $load_at_start."
  echo "Each figure compares two things in the same run, so a noisy machine affects both alike."
  echo "The machine is shared with other builds: expect ±30% between runs for wall-clock figures."
  echo
  cat "$out"
} >"$destination"
cat "$destination"
echo "bench.sh: wrote $destination" >&2
