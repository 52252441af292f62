#!/usr/bin/env python3
"""HA chaos test of `rollout --follow --standby` (run by Scripts/test.sh).

fleet-sim serves 60 virtual clusters; the first is also the home (`kube://sim-0001/fw`). The
fleet is rolled out to all of them by the kube driver: a one-replica Deployment, which
fleet-sim makes ready about 2 s after each upgrade. Two runner processes, each with its own
working directory and HOME, both run `rollout --follow --standby --state kube://sim-0001/fw
--lease-duration 5s`. The active one (the runner that said it took the run lock) is SIGKILLed
KILLS times, each time at a random moment (up to 2 s) after it has upgraded at least one
cluster, and restarted as a new standby. Checked: the other runner takes over each time,
within the lease duration and one renew period (about 7 s) plus start-up; the rollout
succeeds; checked from the clusters, every cluster holds exactly one `deployed` release record,
at the target version, and its records repeat upgrades at most for the clusters in flight at
each kill (maxParallel per kill); the journal passes `status --check`; and fleet-sim's request
log (`--request-log`, one JSON line per write, the writer's run and instance in its
User-Agent, for the home cluster and the clusters alike) shows no two instances writing in
overlapping spans of time.
"""
import argparse
import base64
import ctypes
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CLUSTERS = 60
PARALLEL = 3
# Short, so ten takeovers fit in a couple of minutes (the default is 15 s).
LEASE = "5s"
# Lease duration 5 s + renew period 1.7 s, plus a process start and a journal read on a busy
# machine.
TAKEOVER_LIMIT = 20.0


def die_with_parent():
    """SIGKILL for the child when this script dies, so nothing outlives a killed CI job."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class Chaos:
    def __init__(self, args):
        self.args = args
        args.bin = os.path.abspath(args.bin)
        self.work = tempfile.mkdtemp(prefix="fleetwave-chaos-ha.", dir=os.environ.get("TMPDIR"))
        self.kubeconfig = os.path.join(self.work, "kubeconfig")
        self.fleet = os.path.join(self.work, "fleet")
        self.request_log = os.path.join(self.work, "requests.jsonl")
        self.sim = None
        self.runners = {}
        seed = args.seed if args.seed is not None else random.randrange(1 << 32)
        print(f"chaos(ha): seed {seed} (--seed {seed} repeats the kill times)")
        self.random = random.Random(seed)

    def fail(self, message):
        print(f"chaos(ha): FAILED: {message}", file=sys.stderr)
        for name in self.runners:
            path = os.path.join(self.work, name, "out.log")
            if os.path.exists(path):
                print(f"chaos(ha): {name} output:\n" + open(path).read()[-3000:], file=sys.stderr)
        print(f"chaos(ha): work directory kept: {self.work}", file=sys.stderr)
        raise SystemExit(1)

    def write_fleet(self):
        os.makedirs(os.path.join(self.fleet, "values"))
        os.makedirs(os.path.join(self.fleet, "manifests"))
        with open(os.path.join(self.fleet, "values", "base.yaml"), "w") as f:
            f.write("replicas: 1\n")
        with open(os.path.join(self.fleet, "manifests", "deployment.yaml"), "w") as f:
            f.write("""apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: app, image: "registry.example.com/checkout:{{ .version }}"}]}
""")
        clusters = ["  - {name: sim-0001, labels: {canary: \"true\"}}"]
        clusters += [f"  - {{name: {name}}}" for name in self.cluster_names()[1:]]
        with open(os.path.join(self.fleet, "fleet.yaml"), "w") as f:
            f.write(f"""apiVersion: fleetwave/v1
kind: Fleet
metadata: {{name: ha}}
release:
  name: checkout
  namespace: shop
  driver: kube
  version: 2.0.0
  manifests: manifests
values:
  - values/base.yaml
defaults:
  context: "{{{{ .name }}}}"
clusters:
""" + "\n".join(clusters) + f"""
rollout:
  maxParallel: {PARALLEL}
  canary: {{selector: canary=true}}
  waves:
    - {{name: rest, selector: "!canary"}}
""")

    @staticmethod
    def cluster_names():
        return [f"sim-{i:04d}" for i in range(1, CLUSTERS + 1)]

    def start_sim(self):
        log = open(os.path.join(self.work, "sim.log"), "w")
        self.sim = subprocess.Popen(
            [os.path.join(self.args.bin, "fleet-sim"), "serve", "--clusters", str(CLUSTERS), "--tls",
             "--speed", "1",
             "--state", os.path.join(self.work, "sim"), "--kubeconfig", self.kubeconfig,
             "--request-log", self.request_log],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        limit = time.time() + 30
        while time.time() < limit:
            if os.path.exists(self.kubeconfig) and os.path.getsize(self.kubeconfig) > 0:
                result = subprocess.run(
                    ["kubectl", "--kubeconfig", self.kubeconfig, "--context", "sim-0001",
                     "create", "namespace", "fw"], capture_output=True, text=True)
                if result.returncode == 0:
                    return
            time.sleep(0.2)
        self.fail("fleet-sim did not start")

    def start_runner(self, name):
        home = os.path.join(self.work, name)
        os.makedirs(home, exist_ok=True)
        out = open(os.path.join(home, "out.log"), "a")
        out.write(f"--- started at {time.time():.3f}\n")
        out.flush()
        environment = dict(os.environ, HOME=home)
        environment.pop("FLEETWAVE_STATE", None)
        self.runners[name] = subprocess.Popen(
            [os.path.join(self.args.bin, "fleetwave"), "rollout", self.fleet, "--follow",
             "--standby", "--state", "kube://sim-0001/fw", "--kubeconfig", self.kubeconfig,
             "--lease-duration", LEASE],
            cwd=home, env=environment, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent)

    def output(self, name):
        return open(os.path.join(self.work, name, "out.log")).read().split("--- started")[-1]

    def active(self):
        """The runner whose current process says it took the run lock."""
        for name, process in self.runners.items():
            if process.poll() is None and "standby: took the run lock" in self.output(name):
                return name
        return None

    def upgraded(self):
        """Release records created on the clusters so far, from fleet-sim's request log."""
        if not os.path.exists(self.request_log):
            return 0
        with open(self.request_log) as log:
            # A record is applied (PATCH); the server answers 201 when it created it.
            return sum(1 for line in log if "/namespaces/shop/secrets/" in line
                       and '"status":201' in line)

    def records(self, cluster):
        """The cluster's release records, read with kubectl: [(version, status)] by revision."""
        result = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, "--context", cluster, "get", "secrets",
             "-n", "shop", "-l", "owner=fleetwave,name=checkout", "-o", "json"],
            capture_output=True, text=True)
        if result.returncode != 0:
            self.fail(f"kubectl get secrets on {cluster}: {result.stderr}")
        records = []
        for item in json.loads(result.stdout)["items"]:
            # data.release: the record's JSON payload, gzip-compressed (docs/driver-kube.md).
            payload = json.loads(gzip.decompress(base64.b64decode(item["data"]["release"])))
            labels = item["metadata"]["labels"]
            records.append((int(labels["revision"]), payload.get("version"), labels["status"]))
        return [(version, status) for _, version, status in sorted(records)]

    def run(self):
        self.write_fleet()
        self.start_sim()
        self.start_runner("a")
        self.start_runner("b")
        kills = 0
        while kills < self.args.kills:
            since = time.time()
            while (name := self.active()) is None:
                if time.time() - since > TAKEOVER_LIMIT:
                    self.fail(f"no runner took the run lock within {TAKEOVER_LIMIT:.0f}s of kill {kills}")
                if all(p.poll() is not None for p in self.runners.values()):
                    self.fail("both runners ended before the rollout was killed enough")
                time.sleep(0.1)
            took = time.time() - since
            before = self.upgraded()
            while self.upgraded() == before:
                if self.runners[name].poll() is not None:
                    self.fail(f"runner {name} ended before {self.args.kills} kills")
                time.sleep(0.05)
            time.sleep(self.random.uniform(0, 2))
            if self.runners[name].poll() is not None:
                self.fail(f"runner {name} ended before {self.args.kills} kills")
            self.runners[name].kill()
            self.runners[name].wait()
            kills += 1
            print(f"chaos(ha): kill {kills}: runner {name} (it took the lock {took:.1f}s after the previous kill or the start)")
            self.start_runner(name)
        limit = time.time() + 300
        while any(p.poll() is None for p in self.runners.values()):
            if time.time() > limit:
                self.fail("the rollout did not end within 5 minutes of the last kill")
            time.sleep(0.2)
        codes = {name: p.returncode for name, p in self.runners.items()}
        if codes != {"a": 0, "b": 0}:
            self.fail(f"runners exited with {codes}")
        finished = [n for n in self.runners if "rollout " in self.output(n) and ": succeeded" in self.output(n)]
        if len(finished) != 1:
            self.fail(f"expected one runner to report the run succeeded, got {finished}")
        idle = [n for n in self.runners if "nothing to do" in self.output(n)]
        if len(idle) != 1:
            self.fail(f"expected the other runner to find nothing to do, got {idle}")
        repeats = 0
        for cluster in self.cluster_names():
            records = self.records(cluster)
            deployed = [version for version, status in records if status == "deployed"]
            if deployed != ["2.0.0"]:
                self.fail(f"{cluster}: deployed records {deployed}, expected one at 2.0.0 "
                          f"(all: {records})")
            repeats += len(records) - 1
        if repeats > kills * PARALLEL:
            self.fail(f"{repeats} repeated upgrades, more than {PARALLEL} in flight at each of {kills} kills")
        run = next(line.split()[1].rstrip(":") for line in self.output(finished[0]).splitlines()
                   if line.startswith("rollout ") and ": succeeded" in line)
        check = subprocess.run(
            [os.path.join(self.args.bin, "fleetwave"), "status", run, "--check", "--state",
             "kube://sim-0001/fw"],
            capture_output=True, text=True,
            env=dict(os.environ, HOME=self.work, KUBECONFIG=self.kubeconfig))
        if check.returncode != 0:
            self.fail("status --check: " + check.stdout + check.stderr)
        instances = self.check_request_log()
        print(f"chaos(ha): passed: {kills} kills, run {run} succeeded, {CLUSTERS} clusters, "
              f"{repeats} repeated upgrades, {instances} instances wrote one after another")

    def check_request_log(self):
        """Each instance's writes span [first, last]; no two spans may overlap."""
        spans = {}
        with open(self.request_log) as log:
            for line in log:
                entry = json.loads(line)
                match = re.search(r"\(run (\S+); instance (\w+)\)", entry["userAgent"])
                if not match:
                    continue
                at = entry["time"]
                first, last = spans.get(match.group(2), (at, at))
                spans[match.group(2)] = (min(first, at), max(last, at))
        ordered = sorted(spans.items(), key=lambda item: item[1][0])
        for (before, (_, ended)), (after, (began, _)) in zip(ordered, ordered[1:]):
            if began < ended:
                self.fail(f"instance {after} wrote from {began} while instance {before} wrote "
                          f"until {ended}")
        if len(ordered) < self.args.kills + 1:
            self.fail(f"only {len(ordered)} instances wrote, expected at least {self.args.kills + 1}")
        return len(ordered)

    def close(self):
        for process in list(self.runners.values()) + [self.sim]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="directory holding fleetwave and fleet-sim")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, help="for the random kill times")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    chaos = Chaos(args)
    try:
        chaos.run()
        shutil.rmtree(chaos.work, ignore_errors=True)
    finally:
        chaos.close()


if __name__ == "__main__":
    main()
