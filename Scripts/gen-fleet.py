#!/usr/bin/env python3
"""Writes a synthetic fleet of N clusters into DIR, for benchmarks and scale tests.

usage: gen-fleet.py N DIR [--layout per-cluster|grouped|auto] [--seed S]

The fleet has three environments, twenty regions with three zones each, canary clusters,
values overlays per environment and region, and optional per-cluster overrides for one
cluster in a hundred. Clusters come through `clustersFrom` in one of two forms:
  per-cluster  clusters/REGION/NAME.yaml, one file per cluster (pattern clusters/*/*.yaml)
  grouped      clusters/REGION.yaml, a list per region (pattern clusters/*.yaml)
`auto` (the default) is per-cluster up to 10,000 clusters and grouped above, so the usual
benchmark sizes exercise both. The output is deterministic for a given N, layout and seed.
"""
import argparse
import os
import random
import shutil

ENVS = [("dev", 0.2), ("staging", 0.2), ("prod", 0.6)]
REGIONS = [f"{geo}-{n}" for geo in ("eu-west", "eu-central", "us-east", "us-west", "ap-south")
           for n in range(1, 5)]
ZONES = ["a", "b", "c"]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def base_values():
    lines = ["# Shared by every cluster.", "image:", "  repository: registry.example.com/app",
             '  tag: "2.3.1"', "  pullPolicy: IfNotPresent", "replicaCount: 2", "service:",
             "  type: ClusterIP", "  port: 8080", "resources:",
             "  requests: {cpu: 100m, memory: 128Mi}", "  limits: {cpu: 500m, memory: 256Mi}",
             "config:"]
    for i in range(40):
        lines.append(f"  setting{i:02d}: value-{i}")
    lines += ["features:"] + [f"  flag{i:02d}: {'true' if i % 3 == 0 else 'false'}"
                              for i in range(20)]
    lines += ["tolerations:", "  - {key: dedicated, operator: Equal, value: app, effect: NoSchedule}"]
    return "\n".join(lines) + "\n"


def cluster_yaml(c, indent):
    labels = ", ".join(f"{k}: {v}" for k, v in c["labels"].items())
    pad = " " * indent
    return f"{pad}name: {c['name']}\n{pad}labels: {{{labels}}}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("dir")
    parser.add_argument("--layout", choices=["per-cluster", "grouped", "auto"], default="auto")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    layout = args.layout
    if layout == "auto":
        layout = "per-cluster" if args.n <= 10_000 else "grouped"
    rng = random.Random(args.seed)
    if os.path.exists(args.dir):
        shutil.rmtree(args.dir)

    clusters = []
    for i in range(args.n):
        roll = rng.random()
        env = "prod" if roll < 0.6 else ("staging" if roll < 0.8 else "dev")
        region = REGIONS[i % len(REGIONS)]
        zone = ZONES[(i // len(REGIONS)) % len(ZONES)]
        name = f"{env}-{region}-{zone}-{i:06d}"
        labels = {"env": env, "region": region, "zone": zone,
                  "tier": rng.choice(["gold", "silver", "bronze"])}
        if i % 500 == 0:
            labels["canary"] = '"true"'
        clusters.append({"name": name, "labels": labels, "region": region})

    by_region = {}
    for c in clusters:
        by_region.setdefault(c["region"], []).append(c)
    if layout == "per-cluster":
        pattern = "clusters/*/*.yaml"
        for c in clusters:
            write(os.path.join(args.dir, "clusters", c["region"], c["name"] + ".yaml"),
                  cluster_yaml(c, 0))
    else:
        pattern = "clusters/*.yaml"
        for region, members in by_region.items():
            text = "".join("-" + cluster_yaml(c, 2)[1:] for c in members)
            write(os.path.join(args.dir, "clusters", region + ".yaml"), text)

    write(os.path.join(args.dir, "values", "base.yaml"), base_values())
    for env, _ in ENVS:
        replicas = {"dev": 1, "staging": 2, "prod": 6}[env]
        write(os.path.join(args.dir, "values", "env", env + ".yaml"),
              f"replicaCount: {replicas}\nconfig:\n  environment: {env}\n  setting01: {env}-1\n"
              f"features:\n  flag01: {'true' if env != 'prod' else 'false'}\n")
    for region in REGIONS:
        write(os.path.join(args.dir, "values", "region", region + ".yaml"),
              f"config:\n  region: {region}\n  endpoint: https://api.{region}.example\n"
              f"nodeSelector:\n  topology.kubernetes.io/region: {region}\n")
    for c in clusters[::100]:
        write(os.path.join(args.dir, "values", "clusters", c["name"] + ".yaml"),
              f"replicaCount: 3\nconfig:\n  cluster: {c['name']}\n  setting02: null\n")

    write(os.path.join(args.dir, "fleet.yaml"), f"""# Synthetic fleet of {args.n} clusters ({layout} cluster files), from Scripts/gen-fleet.py.
apiVersion: fleetwave/v1
kind: Fleet
metadata: {{name: synthetic-{args.n}}}
release: {{name: app, namespace: app, driver: sim, version: 2.3.1}}
values:
  - values/base.yaml
  - values/env/{{{{ .labels.env }}}}.yaml
  - values/region/{{{{ .labels.region }}}}.yaml
  - path: values/clusters/{{{{ .name }}}}.yaml
    optional: true
defaults:
  labels: {{team: platform}}
clustersFrom: {pattern}
rollout:
  canary: {{selector: canary=true, bake: 10m}}
  waves:
    - {{name: dev, selector: env=dev}}
    - {{name: staging, selector: env=staging}}
    - {{name: prod-1pc, percent: 1}}
    - {{name: prod-gold, selector: "env=prod,tier=gold"}}
    - {{name: rest}}
  maxParallel: 50
  spreadBy: region
  maxPerDomain: 5
  bake: 5m
  failurePolicy: {{maxFailuresPerWave: 5%, maxFailuresTotal: 1%, rollback: wave}}
  health:
    - http: {{url: "https://{{{{ .name }}}}.example/healthz", successes: 2, interval: 5s}}
windows:
  nights: {{days: Mon-Fri, from: "22:00", to: "05:00", timezone: Europe/Berlin}}
freeze:
  - {{from: 2026-12-20, to: 2027-01-05, reason: holiday freeze}}
""")
    print(f"{args.dir}: {args.n} clusters, {layout} cluster files, "
          f"{len(clusters[::100])} per-cluster overrides")


if __name__ == "__main__":
    main()
