// Two `rollout`s of one fleet from two copies of its directory, each with its own local state,
// started together against the same clusters: their runs cannot see each other's journals, so
// only the per-cluster release Leases keep them apart. Each cluster is changed by one run.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Journal
import Kube
import Testing

@Suite struct SameSecondRolloutTests {
  let clusters = [
    Cluster(name: "can-1", labels: ["canary": "true"]),
    Cluster(name: "eu-1", labels: ["env": "prod"]),
    Cluster(name: "eu-2", labels: ["env": "prod"]),
    Cluster(name: "us-1", labels: ["env": "prod"]),
  ]

  /// A copy of the fleet in `name`: a ConfigMap per cluster, a canary that bakes two seconds
  /// (the window in which the other run arrives), then the prod wave.
  func writeFleet(_ sim: KubeSim, _ name: String) throws -> String {
    try sim.writeConfigMapFleet(
      name,
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: twin}
      release: {name: shop, namespace: shop, driver: kube, manifests: m, version: 1.0.0}
      clusters:
        - {name: can-1, labels: {canary: "true"}, context: can-1}
        - {name: eu-1, labels: {env: prod}, context: eu-1}
        - {name: eu-2, labels: {env: prod}, context: eu-2}
        - {name: us-1, labels: {env: prod}, context: us-1}
      rollout:
        canary: {selector: canary=true, bake: 2s}
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 4
        clusterTimeout: 20s
        failurePolicy: {maxFailuresPerWave: 0, rollback: none}
      """)
  }

  @Test func sameSecondRolloutsFromTwoStateDirectoriesNeverChangeOneClusterTwice() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleets = [try writeFleet(sim, "first"), try writeFleet(sim, "second")]
    let results = ResultSlots(count: 2)
    let finished = StartBarrier.run(workers: 2, timeout: 180) { index in
      results.set(
        index,
        Result {
          try fleetwave(
            ["rollout", fleets[index], "--kubeconfig", sim.kubeconfig, "--skip-preflight"],
            environment: ["USER": "ops"], timeout: 150)
        })
    }
    #expect(finished)
    let outcomes = try (0..<2).map { index in try #require(results.get(index)).get() }
    let winners = outcomes.indices.filter { outcomes[$0].status == 0 }
    #expect(winners.count == 1, "\(outcomes.map { "\($0.stdout)\($0.stderr)" })")
    let winner = try #require(winners.first)
    let loser = 1 - winner
    #expect(outcomes[loser].status == 1, "\(outcomes[loser].stdout)\(outcomes[loser].stderr)")

    // The loser's canary names the winner's process as the Lease's holder.
    let runs = try FileManager.default.contentsOfDirectory(
      atPath: fleets[winner] + "/.fleetwave/runs")
    let run = try #require(runs.first)
    let journal = try JournalFile.read(path: "\(fleets[winner])/.fleetwave/runs/\(run)/journal.log")
    let header = try #require(RunState(records: journal.records).header)
    let holder = "\(header.id)/\(try #require(header.instance))"
    #expect(
      outcomes[loser].stdout.contains(
        "another operation is in progress on can-1: held by \(holder)"),
      "\(outcomes[loser].stdout)")

    // From the clusters: each holds exactly one revision, deployed, written by the winner.
    for cluster in clusters {
      let records = try RevisionHistory(
        client: try sim.client(cluster.name), release: "shop", namespace: "shop"
      ).records()
      #expect(records.map(\.revision) == [1], "\(cluster.name)")
      #expect(records.map(\.status) == [.deployed], "\(cluster.name)")
    }
  }
}

/// One result per worker, written from its thread.
final class ResultSlots: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [Result<ProcessResult, any Error>?]

  init(count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ index: Int, _ result: Result<ProcessResult, any Error>) {
    lock.withLock { slots[index] = result }
  }

  func get(_ index: Int) -> Result<ProcessResult, any Error>? { lock.withLock { slots[index] } }
}
