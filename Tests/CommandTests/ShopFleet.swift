// The fleet the run-verb tests share, on the sim driver.
import FleetwaveTestSupport
import Foundation

/// A canary that bakes 10 minutes, `europe` (two clusters, bakes 30 minutes), and `rest`,
/// which needs an approval; each simulated upgrade takes 5 minutes.
func writeShopFleet(_ dir: TemporaryDirectory) throws {
  _ = try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: shop}
    release: {name: checkout, namespace: shop, driver: sim, version: 2.0.0}
    clusters:
      - {name: can-1, labels: {canary: "true"}}
      - {name: eu-1, labels: {w: eu}}
      - {name: eu-2, labels: {w: eu}}
      - {name: us-1, labels: {w: us}}
    rollout:
      expectedDuration: 5m
      canary: {selector: canary=true, bake: 10m}
      waves:
        - {name: europe, selector: w=eu, bake: 30m}
        - {name: rest, approval: true}
    """)
}
