#!/usr/bin/env python3
"""Writes a YAML file of about N MB shaped like real values and manifests (for Scripts/bench.sh)."""
import random
import sys

target = int(float(sys.argv[1]) * 1024 * 1024) if len(sys.argv) > 1 else 10 * 1024 * 1024
out = sys.argv[2] if len(sys.argv) > 2 else "/dev/stdout"
rng = random.Random(42)
regions = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1"]
with open(out, "w") as f:
    size = 0
    i = 0
    while size < target:
        doc = f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: service-{i}
  namespace: shop
  labels: {{app: service-{i}, tier: "backend", region: {rng.choice(regions)}}}
  annotations:
    fleetwave.io/owner: "team-{i % 17}"
    description: >-
      A folded description of service {i} that spans
      two lines of text.
spec:
  replicas: {rng.randint(1, 9)}
  selector:
    matchLabels: &labels
      app: service-{i}
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: app
          image: "registry.example.com/service-{i}:1.{i % 9}.{i % 7}"
          ports: [{{containerPort: 8080, name: http}}, {{containerPort: 9090, name: metrics}}]
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: RATIO, value: "0.{rng.randint(1, 99)}"}}
          resources:
            limits: {{cpu: 500m, memory: 256Mi}}
            requests: {{cpu: 100m, memory: 128Mi}}
          readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 5}}
"""
        f.write(doc)
        size += len(doc)
        i += 1
