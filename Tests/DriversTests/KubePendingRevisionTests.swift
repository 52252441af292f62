// Revision records written pending before a change and settled after, as helm writes them, and
// what a resumed run learns from them: an attempt cut off mid-change is carried on under its
// own revision when the change is the same, and closed as failed when it is not.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct KubePendingRevisionTests {
  @Test func anInterruptedChangeIsCarriedOnUnderItsOwnRevision() throws {
    let loaded = try demoFleet()
    let cluster = loaded.fleet.clusters[0]
    let sim = try KubeSim(clusters: [cluster])
    func driver(tag: String) throws -> KubeDriver {
      let values = loaded.values
      return try sim.driver(
        loaded.fleet.release, fleetDirectory: loaded.fleet.directory,
        values: { (try? values.values(for: $0, sets: ["image.tag=\(tag)"])) ?? .null })
    }
    let first = try driver(tag: "1.5.0")
    #expect(try finish { first.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")

    // A process died after writing revision 2 pending and before settling it.
    let second = try driver(tag: "1.6.0")
    let history = try second.history(call(cluster))
    try leavePending(revision: 2, of: second, cluster, history)
    #expect(try revisions(history) == ["1:deployed", "2:pending-upgrade"])
    let target = try second.target(for: cluster, version: nil)
    let before = try finish { second.deployedRelease(call(cluster), completion: $0) }.get()
    #expect(before?.revision == "1")
    #expect(before?.isAt(target) == false)

    // The same change again: carried on as revision 2, one record for one change.
    #expect(try finish { second.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    #expect(try revisions(history) == ["1:superseded", "2:deployed"])
    let after = try #require(
      try finish { second.deployedRelease(call(cluster), completion: $0) }.get())
    #expect(after == DeployedRelease(revision: "2", carries: target))
    #expect(after.isAt(target))
    #expect(
      image(try sim.deployment(cluster.name, namespace: "shop", name: "checkout"))
        == "registry.example.com/shop/checkout:1.6.0")

    // A different change finds revision 3 cut off: it is closed as failed, with why.
    let third = try driver(tag: "1.7.0")
    try leavePending(revision: 3, of: try driver(tag: "1.6.1"), cluster, history)
    #expect(try finish { third.upgrade(call(cluster), from: "2", completion: $0) }.get() == "4")
    #expect(try revisions(history) == ["1:superseded", "2:superseded", "3:failed", "4:deployed"])
    let closed = try #require(try history.records().first { $0.revision == 3 })
    #expect(closed.description == "interrupted before it finished")
  }

  @Test func aFailedUpgradeSettlesItsPendingRecordAsFailed() throws {
    let loaded = try demoFleet()
    let cluster = loaded.fleet.clusters[0]
    let sim = try KubeSim(
      clusters: [cluster],
      faults: FaultSet(images: [ImageFault(match: "*:2.0.0-bad", effect: .neverReady)]))
    let values = loaded.values
    let bad = try sim.driver(
      loaded.fleet.release, fleetDirectory: loaded.fleet.directory,
      values: { (try? values.values(for: $0, sets: ["image.tag=2.0.0-bad"])) ?? .null },
      options: KubeDriverOptions(readinessTimeout: .seconds(2), firstPoll: .milliseconds(20)))
    let failure = try finish { bad.upgrade(call(cluster), from: nil, completion: $0) }
    #expect(failure.isFailure)
    #expect(try revisions(bad.history(call(cluster))) == ["1:failed"])
  }
}

extension Result {
  fileprivate var isFailure: Bool {
    if case .failure = self { return true }
    return false
  }
}
