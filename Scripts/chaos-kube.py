#!/usr/bin/env python3
"""Chaos test of the kube driver against fleet-sim (run by `Scripts/chaos.sh --driver kube`).

The demo fleet's 60 clusters (its chart, values and clusters; no windows; an HTTP gate on
each cluster's application in fleet-sim): the 36 prod clusters are installed at 1.0.0, then a
rollout of 2.0.0 to all 60 (prod upgraded, dev and staging installed) is killed with SIGKILL
20 times and resumed after each kill. The kills rotate through the moments that matter to
revision records and resume, each found in fleet-sim's request log or the journal as it
happens:

  pending    the release's history was read under its Lease: the pending record is being
             written (or about to be)
  apply      the first object of a cluster was applied: the rest are being applied
  readiness  the Deployment was first read back: the driver is polling for readiness
  records    a revision record was written after readiness: the next record write (the
             settle of the new revision or the supersede of the old) is in flight
  verifying  the health gate probed the cluster's application once: it needs two in a row
  bake       a wave started baking
  random     at a random moment

Every answer of fleet-sim is delayed 30 ms during the chaos run, so each kill lands while
a request is in flight (the server has acted, the answer is lost with the process).

Then the clusters themselves are read through fleet-sim's API: each must hold one record per
change (prod: 1.0.0 superseded and 2.0.0 deployed; dev and staging: 2.0.0 deployed), exactly
one deployed, carrying 2.0.0 and the cluster's values digest, no failed or pending ones, and
run the 2.0.0 image. From the request log: a cluster's Deployment is applied again only after
a kill that found the cluster mid-change (journal), so re-applies per kill are at most the
clusters in flight at that kill. The journal must
pass `status --check` and the run must succeed.
"""
import argparse
import base64
import ctypes
import gzip
import hashlib
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
import urllib.request
from concurrent.futures import ThreadPoolExecutor

KINDS = ["pending", "apply", "readiness", "records", "verifying", "bake", "random"]
RUN = "chaos-kube"
LATENCY = "30ms"
# How long a kill waits for its moment before it strikes anyway.
TRIGGER_TIMEOUT = 6.0

def die_with_parent():
    """Run in a child before exec: it gets SIGKILL when this script dies, however it dies,
    so neither fleet-sim nor a rollout outlives a killed CI job."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


REQUEST = re.compile(r"^(GET|PATCH|PUT|POST|DELETE) /clusters/([^/]+)/(\S*)")


def classify(method, path):
    """What a request of the kube driver is doing, from fleet-sim's log line."""
    if path.startswith("app/healthz"):
        return "probe"
    if "/leases" in path:
        return "lease"
    if "/secrets/fleetwave.release.v1." in path:
        return "record" if method == "PATCH" else "history"
    if "/secrets?" in path:
        return "history"
    if path.endswith("deployments/checkout") and method == "GET":
        return "readiness"
    if method == "PATCH" and re.search(r"/(configmaps|services|deployments)/", path):
        return "apply-deployment" if "/deployments/" in path else "apply"
    return "other"


class Chaos:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin
        self.root = args.root
        self.rng = random.Random(args.seed)
        self.work = tempfile.mkdtemp(prefix="fleetwave-chaos-kube.", dir=os.environ.get("TMPDIR"))
        self.fleet = os.path.join(self.work, "fleet")
        self.kubeconfig = os.path.join(self.work, "kubeconfig")
        self.sim_log = os.path.join(self.work, "sim.log")
        self.out_log = os.path.join(self.work, "out.log")
        self.journal = os.path.join(self.fleet, ".fleetwave", "runs", RUN, "journal.log")
        self.sim = None
        self.child = None
        self.port = None
        # Per kill: its kind, what struck it, the clusters the journal shows mid-change and
        # which of them already run 2.0.0.
        self.kills = []
        self.keep = False
        # Offsets into the request log where each process of the chaos run started.
        self.segments = []

    # --- plumbing ---------------------------------------------------------------------

    def fail(self, message):
        print(f"chaos(kube): FAILED (seed {self.args.seed}): {message}", file=sys.stderr)
        try:
            with open(self.out_log) as log:
                tail = log.readlines()[-20:]
            print("chaos(kube): last output:", file=sys.stderr)
            sys.stderr.write("".join(tail))
        except OSError:
            pass
        print(f"chaos(kube): work directory kept: {self.work}", file=sys.stderr)
        self.keep = True
        raise SystemExit(1)

    def cleanup(self):
        for process in (self.child, self.sim):
            if process and process.poll() is None:
                process.kill()
                process.wait()
        if not self.keep and not os.environ.get("CHAOS_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)

    def fleetwave(self, *arguments, check=True):
        result = subprocess.run(
            [os.path.join(self.bin, "fleetwave"), *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if check and result.returncode != 0:
            self.fail(f"fleetwave {' '.join(arguments)} exited {result.returncode}: "
                      + result.stderr.strip()[-2000:])
        return result

    def api(self, method, path, body=None):
        """fleet-sim's plain HTTP listener (loopback only, no credentials)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=body.encode() if body is not None else None,
            headers={"Content-Type": "application/yaml"} if body is not None else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    # --- setup --------------------------------------------------------------------------

    def write_fleet(self, version, clusters="clusters/*.yaml", gate=False):
        """The demo fleet's chart, values and clusters, under a rollout made for chaos; with
        `gate`, each cluster is verified by probing its application in fleet-sim."""
        demo = os.path.join(self.root, "fleets", "demo")
        if not os.path.isdir(self.fleet):
            for part in ("charts", "values", "clusters"):
                shutil.copytree(os.path.join(demo, part), os.path.join(self.fleet, part))
            # Maintenance windows would hold clusters back for hours.
            for name in os.listdir(os.path.join(self.fleet, "clusters")):
                path = os.path.join(self.fleet, "clusters", name)
                with open(path) as file:
                    lines = [line for line in file if not line.strip().startswith("windows:")]
                with open(path, "w") as file:
                    file.writelines(lines)
            os.makedirs(os.path.join(self.fleet, "values", "chaos"))
        with open(os.path.join(self.fleet, "values", "chaos", "target.yaml"), "w") as file:
            file.write(f'image: {{tag: "{version}"}}\n')
        with open(os.path.join(self.fleet, "fleet.yaml"), "w") as file:
            file.write(f"""apiVersion: fleetwave/v1
kind: Fleet
metadata: {{name: chaos-kube}}
release:
  name: checkout
  namespace: shop
  driver: kube
  chart: charts/checkout
  version: {version}
values:
  - values/base.yaml
  - values/env/{{{{ .labels.env }}}}.yaml
  - values/region/{{{{ .labels.region }}}}.yaml
  - path: values/clusters/{{{{ .name }}}}.yaml
    optional: true
  - values/chaos/target.yaml
defaults:
  context: "{{{{ .name }}}}"
clustersFrom: {clusters}
rollout:
  canary: {{selector: canary=true, maxFailures: 0, bake: 1s}}
  # Small waves first: the kills fall mostly early in the run, and so do these bakes.
  waves:
    - {{name: first, percent: 5}}
    - {{name: second, percent: 10}}
    - {{name: third, percent: 20}}
    - {{name: rest}}
  maxParallel: 4
  bake: 1s
  clusterTimeout: 2m
  failurePolicy: {{maxFailuresPerWave: 0, rollback: none}}
""")
            if gate:
                file.write(f"""  health:
    - http:
        url: "http://127.0.0.1:{self.port}/clusters/{{{{ .name }}}}/app/healthz"
        successes: 2
        interval: 200ms
        timeout: 30s
""")

    def start_sim(self):
        out = os.path.join(self.work, "sim.out")
        with open(out, "w") as stdout, open(self.sim_log, "w") as stderr:
            self.sim = subprocess.Popen(
                [os.path.join(self.bin, "fleet-sim"), "serve", "--fleet", self.fleet, "--tls",
                 "--state", os.path.join(self.work, "sim"), "--speed", "10",
                 "--kubeconfig", self.kubeconfig, "--log-requests"],
                stdout=stdout, stderr=stderr, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(out) as file:
                banner = file.read()
            found = re.search(r"http:\s+http://127\.0\.0\.1:(\d+)/", banner)
            if (found and "metrics:" in banner and os.path.exists(self.kubeconfig)
                    and os.path.getsize(self.kubeconfig) > 0):
                self.port = int(found.group(1))
                return
            if self.sim.poll() is not None:
                break
            time.sleep(0.1)
        with open(self.sim_log) as log:
            self.fail("fleet-sim did not start: " + log.read()[-2000:])

    # --- the chaos run -------------------------------------------------------------------

    def start(self, *extra):
        """The first start creates the run; every later one resumes it."""
        if os.path.exists(self.journal):
            command = ["resume", RUN, "--fleet", self.fleet, *extra]
        else:
            command = ["rollout", self.fleet, "--run", RUN, "--kubeconfig", self.kubeconfig,
                       *extra]
        self.segments.append(os.path.getsize(self.sim_log))
        with open(self.out_log, "a") as log:
            self.child = subprocess.Popen(
                [os.path.join(self.bin, "fleetwave"), *command], stdout=log, stderr=log,
                preexec_fn=die_with_parent)

    def wait_for(self, kind):
        """Waits for `kind`'s moment in this process's life; returns what was seen, or None
        when the moment did not come in time (the kill then strikes anyway)."""
        if kind == "random":
            time.sleep(self.rng.uniform(0.3, 2.0))
            return "at random"
        log_offset = self.segments[-1]
        journal_offset = os.path.getsize(self.journal) if os.path.exists(self.journal) else 0
        last = {}
        leased = set()
        pending = ""
        deadline = time.monotonic() + TRIGGER_TIMEOUT
        while time.monotonic() < deadline and self.child.poll() is None:
            if kind == "bake":
                if os.path.exists(self.journal):
                    with open(self.journal, "rb") as journal:
                        journal.seek(journal_offset)
                        appended = journal.read().decode(errors="replace")
                    # Only whole lines: the last one may be half written.
                    for line in appended.split("\n")[:-1]:
                        if '"type":"wave"' in line and '"state":"baking"' in line:
                            return "wave " + json.loads(line[9:])["waveName"] + " baking"
            else:
                with open(self.sim_log, "rb") as log:
                    log.seek(log_offset)
                    chunk = log.read()
                log_offset += len(chunk)
                pending += chunk.decode(errors="replace")
                *lines, pending = pending.split("\n")
                for line in lines:
                    match = REQUEST.match(line)
                    if not match:
                        continue
                    method, cluster, path = match.groups()
                    step = classify(method, path)
                    before = last.get(cluster)
                    last[cluster] = step
                    if step == "lease":
                        leased.add(cluster)
                    if kind == "pending" and step == "history" and cluster in leased:
                        return f"{cluster} writing its pending record"
                    if kind == "apply" and step == "apply":
                        return f"{cluster} applying"
                    if kind == "readiness" and step == "readiness" and before == "apply-deployment":
                        return f"{cluster} waiting for readiness"
                    if kind == "records" and step == "record" and before == "readiness":
                        return f"{cluster} settling its revision records"
                    if kind == "verifying" and step == "probe":
                        return f"{cluster} being verified"
            time.sleep(0.005)
        return None

    def chaos(self):
        kinds = []
        while len(kinds) < self.args.kills:
            block = KINDS[:]
            self.rng.shuffle(block)
            kinds += block
        for number, kind in enumerate(kinds[: self.args.kills], start=1):
            self.start()
            seen = self.wait_for(kind)
            if self.child.poll() is not None:
                self.fail(f"the run ended after {number - 1} kills, before all {self.args.kills}")
            self.child.send_signal(signal.SIGKILL)
            self.child.wait()
            self.child = None
            status = json.loads(self.fleetwave("status", RUN, "--fleet", self.fleet,
                                               "-o", "json").stdout)
            in_flight = sorted(status["inFlight"])
            records = {cluster: self.records(cluster) for cluster in in_flight}
            self.kills.append({
                "kind": kind if seen else "random",
                "seen": seen or f"no {kind} moment within {TRIGGER_TIMEOUT:.0f}s",
                "inFlight": in_flight,
                # Mid-change clusters whose change had landed: resume must verify them, not
                # apply them again.
                "landed": [c for c in in_flight if any(
                    r["status"] == "deployed" and r["version"] == "2.0.0" for r in records[c])],
                # Caught between the two settle writes: the old revision superseded, the new
                # one not yet deployed.
                "settling": [c for c in in_flight
                             if any(r["status"] == "superseded" for r in records[c])
                             and not any(r["status"] == "deployed" for r in records[c])],
            })
            with open(self.out_log, "a") as log:
                log.write(f"chaos(kube): kill {number} ({kind}): {self.kills[-1]['seen']}; "
                          f"mid-change: {', '.join(self.kills[-1]['inFlight']) or 'none'}; "
                          f"2.0.0 deployed: {', '.join(self.kills[-1]['landed']) or 'none'}\n")
        report = os.path.join(self.work, "report.json")
        self.start("--report-json", report)
        if self.child.wait() != 0:
            self.child = None
            self.fail("the last resume did not succeed")
        self.child = None
        check = self.fleetwave("status", RUN, "--fleet", self.fleet, "--check", "-o", "json",
                               check=False)
        if check.returncode != 0:
            self.fail("journal integrity: " + check.stderr.strip())
        return json.loads(check.stdout), json.load(open(report))

    # --- verification ---------------------------------------------------------------------

    def expected_digest(self, cluster):
        """SHA-256 of the cluster's merged values as JSON with sorted keys, as fleetwave
        records it (docs/driver-kube.md), computed here from the values helm is given
        (`fleetwave values --overlays-only`)."""
        values = json.loads(self.fleetwave("values", self.fleet, "--cluster", cluster,
                                           "--overlays-only", "-o", "json").stdout)
        text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def records(self, cluster):
        """The release's revision records as the cluster holds them."""
        listing = self.api(
            "GET", f"/clusters/{cluster}/api/v1/namespaces/shop/secrets"
            "?labelSelector=owner%3Dfleetwave%2Cname%3Dcheckout")
        records = []
        for secret in listing["items"]:
            payload = json.loads(gzip.decompress(base64.b64decode(secret["data"]["release"])))
            records.append({
                "revision": int(secret["metadata"]["labels"]["revision"]),
                "status": secret["metadata"]["labels"]["status"],
                "version": payload.get("version"),
                "valuesDigest": payload.get("valuesDigest"),
                "description": payload.get("description"),
            })
        return sorted(records, key=lambda record: record["revision"])

    def deployment_applies(self):
        """Per process of the chaos run, how often each cluster's Deployment was applied."""
        with open(self.sim_log, "rb") as log:
            data = log.read()
        bounds = self.segments + [len(data)]
        segments = []
        for start, end in zip(bounds, bounds[1:]):
            counts = {}
            for line in data[start:end].decode(errors="replace").splitlines():
                match = REQUEST.match(line)
                if match and classify(match.group(1), match.group(3)) == "apply-deployment":
                    counts[match.group(2)] = counts.get(match.group(2), 0) + 1
            segments.append(counts)
        return segments

    def verify(self, status, report, clusters):
        problems = []
        # Two at a time: each is a fleetwave process, and the machine has two cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            digests = dict(zip(clusters, pool.map(self.expected_digest, clusters)))
        if status["outcome"] != "succeeded" or report["outcome"] != "succeeded":
            problems.append(f"outcome: journal {status['outcome']}, report {report['outcome']}")
        for cluster in clusters:
            records = self.records(cluster)
            shown = ", ".join(f"{r['revision']}:{r['status']}:{r['version']}" for r in records)
            deployed = [r for r in records if r["status"] == "deployed"]
            if len(deployed) != 1:
                problems.append(f"{cluster}: {len(deployed)} deployed records ({shown})")
            elif deployed[0]["version"] != "2.0.0":
                problems.append(f"{cluster}: deployed record is at {deployed[0]['version']}")
            elif deployed[0]["valuesDigest"] != digests[cluster]:
                problems.append(f"{cluster}: deployed record carries values digest "
                                f"{deployed[0]['valuesDigest']}, not the cluster's values")
            for record in records:
                if record["status"] == "failed" or record["status"].startswith("pending-"):
                    problems.append(f"{cluster}: revision {record['revision']} is "
                                    f"{record['status']} ({record['description']})")
            expected = ("1:superseded:1.0.0, 2:deployed:2.0.0" if cluster.startswith("prod-")
                        else "1:deployed:2.0.0")
            if shown != expected:
                problems.append(f"{cluster}: records {shown}, expected {expected} "
                                "(one record per change)")
            deployment = self.api(
                "GET", f"/clusters/{cluster}/apis/apps/v1/namespaces/shop/deployments/checkout")
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            if not image.endswith(":2.0.0"):
                problems.append(f"{cluster}: the Deployment runs {image}")
        # Re-applies: the first process applies each Deployment at most once; a later one
        # applies again only clusters the kill before it found mid-change.
        segments = self.deployment_applies()
        applied = set()
        reapplied = 0
        for index, counts in enumerate(segments):
            kill = self.kills[index - 1] if index > 0 else {"inFlight": [], "landed": []}
            allowed = set(kill["inFlight"]) - set(kill["landed"])
            again = set()
            for cluster, count in counts.items():
                repeats = count - 1 + (1 if cluster in applied else 0)
                if repeats > 0:
                    again.add(cluster)
                if count > 1:
                    problems.append(f"{cluster}: Deployment applied {count} times by one process")
                applied.add(cluster)
            if again - allowed:
                problems.append(
                    f"process {index + 1} applied again {', '.join(sorted(again - allowed))}; at "
                    f"kill {index} mid-change: {', '.join(kill['inFlight']) or 'none'}, of "
                    f"them with 2.0.0 deployed: {', '.join(kill['landed']) or 'none'}")
            reapplied += len(again)
        missing = set(clusters) - applied
        if missing:
            problems.append("never applied: " + ", ".join(sorted(missing)))
        journal = {c["name"]: c["state"] for c in status["clusters"]}
        if journal != {c["name"]: c["state"] for c in report["clusters"]}:
            problems.append("report and journal disagree")
        if sorted(journal) != sorted(clusters) or set(journal.values()) != {"succeeded"}:
            problems.append("journal: " + json.dumps(journal))
        return problems, reapplied

    def run(self):
        began = time.monotonic()
        self.write_fleet("2.0.0")
        self.start_sim()
        clusters = [c["name"] for c in self.api("GET", "/admin/clusters")["clusters"]]
        # Prod runs 1.0.0 before the chaos run, which upgrades it and installs dev and staging.
        self.write_fleet("1.0.0", "clusters/prod.yaml")
        self.fleetwave("rollout", self.fleet, "--run", "baseline", "--kubeconfig",
                       self.kubeconfig, "--max-parallel", "36")
        installed = time.monotonic()
        self.write_fleet("2.0.0", gate=True)
        self.api("PUT", "/admin/faults", f"api:\n  - latency: {LATENCY}\n")
        status, report = self.chaos()
        upgraded = time.monotonic()
        self.api("DELETE", "/admin/faults")
        problems, reapplied = self.verify(status, report, clusters)
        timings = (f"{installed - began:.0f}s to install 1.0.0 on prod, "
                   f"{upgraded - installed:.0f}s to roll 2.0.0 out under kills, "
                   f"{time.monotonic() - upgraded:.0f}s to check")
        for problem in problems:
            print("chaos(kube): " + problem, file=sys.stderr)
        if problems:
            self.fail(f"{len(problems)} violations")
        kinds = {}
        for kill in self.kills:
            kinds[kill["kind"]] = kinds.get(kill["kind"], 0) + 1
        mid_change = {name for kill in self.kills for name in kill["inFlight"]}
        landed = sum(len(kill["landed"]) for kill in self.kills)
        settling = sum(len(kill["settling"]) for kill in self.kills)
        print(f"chaos(kube): {len(self.kills)} kills ("
              + ", ".join(f"{kinds.get(k, 0)} {k}" for k in KINDS)
              + f"), {len(clusters)} clusters, {len(mid_change)} clusters mid-change at a kill "
              f"({landed} times with 2.0.0 deployed, {settling} with nothing deployed by a settle cut "
              "short), "
              f"{reapplied} Deployments applied again, each after a kill that found its cluster "
              "mid-change and 2.0.0 not deployed; one deployed record per cluster, at 2.0.0 with "
              f"its values digest, no failed or pending records, journal sound ({timings}), "
              f"passed (seed {self.args.seed})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="directory holding fleetwave and fleet-sim")
    parser.add_argument("--root", required=True, help="the repository (for fleets/demo)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 32768)
    chaos = Chaos(parser.parse_args())
    # SIGTERM (a CI timeout) cleans up as an exception does: no fleet-sim left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        chaos.run()
    finally:
        chaos.cleanup()


if __name__ == "__main__":
    main()
