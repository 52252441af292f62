// A process that continues a run takes over the leases its run's earlier processes left behind,
// and only those: a lease naming the same run id but a process the journal never saw belongs to
// another machine's run and is refused.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Journal
import Kube
import Testing

@Suite struct KubeLeaseSuccessionTests {
  @Test func resumeTakesOverItsPredecessorsLeaseAndRefusesAStrangersOfTheSameRunID() throws {
    let clusters = [
      Cluster(name: "can-1", labels: ["canary": "true"]),
      Cluster(name: "eu-1", labels: ["env": "prod"]),
      Cluster(name: "us-1", labels: ["env": "prod"]),
    ]
    let sim = try KubeSim(clusters: clusters)
    let fleet = try sim.writeConfigMapFleet(
      "fleet",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: mini}
      release: {name: shop, namespace: shop, driver: kube, manifests: m, version: 1.0.0}
      clusters:
        - {name: can-1, labels: {canary: "true"}, context: can-1}
        - {name: eu-1, labels: {env: prod}, context: eu-1}
        - {name: us-1, labels: {env: prod}, context: us-1}
      rollout:
        canary: {selector: canary=true, bake: 0s}
        waves: [{name: prod, selector: env=prod, approval: true}]
        clusterTimeout: 20s
        failurePolicy: {maxFailuresPerWave: 1, rollback: none}
      """)
    let first = try fleetwave(
      ["rollout", fleet, "--run", "r1", "--kubeconfig", sim.kubeconfig],
      environment: ["USER": "ops"])
    #expect(first.status == 3, "\(first.stdout)\(first.stderr)")

    // The journal names the process that started the run.
    let journal = try JournalFile.read(path: fleet + "/.fleetwave/runs/r1/journal.log")
    let token = try #require(RunState(records: journal.records).header?.instance)
    #expect(token.count == 6)

    // As if that process had died mid-change on eu-1, and a second machine running a run that
    // happens to be called r1 too held us-1.
    for (cluster, holder) in [("eu-1", "r1/\(token)"), ("us-1", "r1/stranger")] {
      let client = try sim.client(cluster)
      try client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
      try ReleaseLease(
        client: client, cluster: cluster, release: "shop", namespace: "shop", holder: holder,
        clock: SystemClock()
      ).acquire()
    }
    let strangerSince = try #require(
      try ReleaseLease(
        client: try sim.client("us-1"), cluster: "us-1", release: "shop", namespace: "shop",
        holder: "observer", clock: SystemClock()
      ).read()?["spec"]?["acquireTime"]?.string)

    let approve = try fleetwave(
      ["approve", "r1", "--wave", "prod", "--fleet", fleet], environment: ["USER": "ops"])
    #expect(approve.status == 0, "\(approve.stderr)")
    // The preflight names the stranger's Lease, not the predecessor's, which resume takes over.
    let checked = try fleetwave(["resume", "r1", "--fleet", fleet], environment: ["USER": "ops"])
    #expect(checked.status == 1, "\(checked.stdout)\(checked.stderr)")
    #expect(
      checked.stderr
        == "preflight: us-1: release shop is locked: the Lease shop/fleetwave-shop is held by "
        + "r1/stranger since \(strangerSince)\n")
    // Past the preflight, the driver itself refuses the stranger's Lease.
    let resume = try fleetwave(
      ["resume", "r1", "--fleet", fleet, "--skip-preflight"], environment: ["USER": "ops"])
    #expect(resume.status == 1, "\(resume.stdout)\(resume.stderr)")
    #expect(
      resume.stdout.contains(
        "another operation is in progress on us-1: held by r1/stranger since \(strangerSince)"),
      "\(resume.stdout)")

    // eu-1 was taken over and upgraded; the lease was given back after.
    let euLease = try ReleaseLease(
      client: try sim.client("eu-1"), cluster: "eu-1", release: "shop", namespace: "shop",
      holder: "observer", clock: SystemClock()
    ).read()
    #expect(euLease?["spec"]?["holderIdentity"] == nil)
    #expect(euLease?["spec"]?["leaseTransitions"] == 1)
    let eu = try RevisionHistory(client: try sim.client("eu-1"), release: "shop", namespace: "shop")
      .current()
    #expect(eu?.status == .deployed)
    #expect(
      try RevisionHistory(client: try sim.client("us-1"), release: "shop", namespace: "shop")
        .current() == nil)
  }
}
