// The kube driver keeps a cluster's release Lease from a successful upgrade until the run is
// done with the cluster (`releaseKept`), renewing it meanwhile, so that another run cannot
// upgrade the cluster again while this one is still judging its health.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct KubeKeptLeaseTests {
  @Test func anUpgradedClustersLeaseIsKeptRenewedAndGivenBackByReleaseKept() throws {
    let cluster = Cluster(name: "eu-1", labels: [:])
    let sim = try KubeSim(clusters: [cluster], requestLog: true)
    let fleet = try sim.writeConfigMapFleet(
      "fleet",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: kept}
      release: {name: shop, namespace: shop, driver: kube, manifests: m, version: 1.0.0}
      clusters: [{name: eu-1, context: eu-1}]
      """)
    let loaded = try FleetLoader.load(directory: fleet)
    let driver = try sim.driver(loaded.fleet.release, fleetDirectory: loaded.fleet.directory) {
      _ in [:]
    }
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    func call(_ run: String, _ token: String) -> DriverCall {
      DriverCall(
        cluster: cluster, run: run, instance: RunInstance(run: run, token: token),
        timeout: .seconds(60), clock: clock, queue: DispatchQueue(label: "kept-lease"))
    }
    let lease = ReleaseLease(
      client: try sim.client("eu-1"), cluster: "eu-1", release: "shop", namespace: "shop",
      holder: "observer", clock: SystemClock())

    #expect(
      try finish { driver.upgrade(call("r1", "aaaaaa"), from: nil, completion: $0) }.get() == "1")
    // Past the upgrade, through the health window: still ours.
    let taken = try #require(try lease.read())
    #expect(taken["spec"]?["holderIdentity"]?.string == "r1/aaaaaa")
    let other = try finish { driver.upgrade(call("r2", "bbbbbb"), from: "1", completion: $0) }
    let since = try #require(taken["spec"]?["acquireTime"]?.string)
    guard case .failure(let refusal) = other else {
      Issue.record("a second run upgraded a cluster the first still held")
      return
    }
    #expect(
      refusal.message
        == "another operation is in progress on eu-1: held by r1/aaaaaa since \(since)")

    // Renewed every third of the lease duration (60 s) on one timer.
    #expect(clock.waitForTimers(1))
    clock.advance(by: .seconds(20))
    let renewedAt = ReleaseLease.microTime(clock.now())
    // The renewal runs on the driver's queue, not this thread: wait until it landed.
    #expect(eventually { (try? lease.read()?["spec"]?["renewTime"]?.string) == renewedAt })

    // The run is done with the cluster: the lease goes back before releaseKept returns.
    driver.releaseKept([cluster])
    #expect(try lease.read()?["spec"]?["holderIdentity"] == nil)
    #expect(
      try finish { driver.upgrade(call("r2", "bbbbbb"), from: "1", completion: $0) }.get() == "2")
    // r2's upgrade kept the lease in turn, until r2's run is done with the cluster.
    #expect(try lease.read()?["spec"]?["holderIdentity"]?.string == "r2/bbbbbb")
    driver.releaseKept([cluster])
    #expect(try lease.read()?["spec"]?["holderIdentity"] == nil)

    // The cluster's request log names the process behind each write: every write of the
    // driver came from r1's instance, then r2's, never interleaved.
    let writers = try String(contentsOfFile: sim.requestLogPath, encoding: .utf8)
      .split(separator: "\n").compactMap { line in
        line.firstMatch(of: /"userAgent":"fleetwave \(run (\w+); instance (\w+)\)"/)
          .map { "\($0.1)/\($0.2)" }
      }
    #expect(Set(writers) == ["r1/aaaaaa", "r2/bbbbbb"])
    #expect(writers == writers.sorted())
  }
}
