// Fidelity gaps closed against the real kubectl: namespace deletion resetting the controllers.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct SimGapsTests {
  private static let shopDeployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - {name: web, image: app:1}

    """

  /// The deployment's readiness as kubectl shows it, without the wall-clock AGE column.
  private func readiness(_ sim: SimFixture) throws -> String {
    sim.server.settle()
    let listed = try sim.kubectl([
      "get", "deployments", "-n", "shop", "-o",
      "custom-columns=NAME:.metadata.name,READY:.status.readyReplicas,"
        + "UPDATED:.status.updatedReplicas",
    ])
    return listed.stdout + listed.stderr
  }

  @Test func aReCreatedNamespaceStartsFresh() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let file = try sim.directory.write("web.yaml", Self.shopDeployment)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == "deployment.apps/web created\n")
    for _ in 0..<3 {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    #expect(try readiness(sim) == "NAME   READY   UPDATED\nweb    3       3\n")

    let deleted = try sim.kubectl(["delete", "namespace", "shop"])
    #expect(deleted.stdout == "namespace \"shop\" deleted\n", "\(deleted.stderr)")
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == "deployment.apps/web created\n")
    // Nothing carried over: no replica is ready before the clock moves, one pod is starting.
    let fresh = try readiness(sim)
    #expect(fresh == "NAME   READY   UPDATED\nweb    0       1\n", "\(fresh)")
    let pods = try sim.kubectl([
      "get", "pods", "-n", "shop", "-o",
      "custom-columns=PHASE:.status.phase,READY:.status.containerStatuses[0].ready",
    ])
    #expect(pods.stdout == "PHASE     READY\nPending   false\n", "\(pods.stderr)")
    clock.advance(by: .seconds(RolloutController.replicaInterval))
    let first = try readiness(sim)
    #expect(first == "NAME   READY   UPDATED\nweb    1       2\n", "\(first)")

    // The controller manager's per-namespace objects come back with the namespace.
    let defaults = try sim.kubectl([
      "get", "serviceaccounts,configmaps", "-n", "shop", "-o", "name",
    ])
    #expect(
      defaults.stdout == "serviceaccount/default\nconfigmap/kube-root-ca.crt\n",
      "\(defaults.stderr)")
  }
}
