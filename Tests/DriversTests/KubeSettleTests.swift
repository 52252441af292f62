// Settling a revision, the two writes after readiness: the old revision superseded, then the
// new one deployed. `Scripts/chaos.sh --driver kube` found clusters left with two deployed
// revisions when a kill fell between the two writes in the other order.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct KubeSettleTests {
  @Test func theOldRevisionIsSupersededBeforeTheNewOneIsDeployed() throws {
    let (loaded, cluster, sim) = try installedRevisionOne()
    let second = try driver(loaded, sim, tag: "1.6.0")
    #expect(try finish { second.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    #expect(try revisions(second.history(call(cluster))) == ["1:superseded", "2:deployed"])

    // The store stamps every write with the next resourceVersion: revision 1's last write
    // (superseded) must come before revision 2's (deployed), so that a process killed
    // between them leaves nothing deployed rather than two revisions.
    let client = try sim.client(cluster.name)
    func written(_ revision: Int) throws -> Int {
      let secret = try #require(
        try client.get(
          apiVersion: "v1", kind: "Secret", namespace: "shop",
          name: RevisionRecord.secretName(release: "checkout", revision: revision)))
      return try #require(secret["metadata"]?["resourceVersion"]?.string.flatMap { Int($0) })
    }
    #expect(try written(1) < written(2))
  }

  @Test func aChangeCutOffWhileSettlingIsCarriedOnAndPrunesWhatRanBefore() throws {
    let (loaded, cluster, sim) = try installedRevisionOne()
    let history = try driver(loaded, sim, tag: "1.5.0").history(call(cluster))

    // Revision 1 also ran a ConfigMap that revision 2 no longer has.
    let legacy: Value = [
      "apiVersion": "v1", "kind": "ConfigMap",
      "metadata": ["name": "checkout-legacy", "namespace": "shop"], "data": ["old": "yes"],
    ]
    let client = try sim.client(cluster.name)
    try client.apply(legacy)
    var ran = try #require(try history.records().first)
    ran.objects.append(legacy)

    // A process killed between the two settle writes: revision 1 already superseded,
    // revision 2 applied and ready but still pending.
    ran.status = .superseded
    let superseded = ran
    try Blocking.wait { () async throws(KubeError) in try await history.save(superseded) }
    let second = try driver(loaded, sim, tag: "1.6.0")
    try leavePending(revision: 2, of: second, cluster, history)
    #expect(try revisions(history) == ["1:superseded", "2:pending-upgrade"])
    #expect(try finish { second.deployedRelease(call(cluster), completion: $0) }.get() == nil)

    // The resumed run upgrades again: the same change goes on as revision 2 and the
    // ConfigMap only revision 1 had is pruned.
    #expect(try finish { second.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    #expect(try revisions(history) == ["1:superseded", "2:deployed"])
    #expect(
      try client.get(
        apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "checkout-legacy")
        == nil)
    #expect(
      image(try sim.deployment(cluster.name, namespace: "shop", name: "checkout"))
        == "registry.example.com/shop/checkout:1.6.0")
  }

  /// fleet-sim serving the demo fleet's first cluster, revision 1 (image 1.5.0) installed.
  private func installedRevisionOne() throws -> (LoadedFleet, Cluster, KubeSim) {
    let loaded = try demoFleet()
    let cluster = loaded.fleet.clusters[0]
    let sim = try KubeSim(clusters: [cluster])
    let first = try driver(loaded, sim, tag: "1.5.0")
    #expect(try finish { first.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    return (loaded, cluster, sim)
  }

  private func driver(_ loaded: LoadedFleet, _ sim: KubeSim, tag: String) throws -> KubeDriver {
    let values = loaded.values
    return try sim.driver(
      loaded.fleet.release, fleetDirectory: loaded.fleet.directory,
      values: { (try? values.values(for: $0, sets: ["image.tag=\(tag)"])) ?? .null })
  }
}
