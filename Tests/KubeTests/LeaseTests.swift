// The release Lease against fleet-sim over TLS: one holder at a time, takeover of stale ones.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct LeaseTests {
  final class Sim: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: FleetSimServer
    let client: KubeClient

    init() throws {
      directory = try TemporaryDirectory("kube-lease")
      server = try FleetSimServer.start(
        clusters: VirtualClusterSpec.numbered(1),
        options: FleetSimOptions(tls: true, stateDirectory: directory.file("state"), threads: 2))
      let path = directory.file("kubeconfig")
      try server.writeKubeconfig(to: path, tls: true)
      client = KubeClient(
        connection: try Kubeconfig.load(paths: [path], explicit: true).connection(
          context: "sim-0001"))
      try client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
    }

    deinit {
      server.shutdown()
      directory.remove()
    }

    func lease(_ holder: String, clock: ManualClock) -> ReleaseLease {
      ReleaseLease(
        client: client, cluster: "sim-0001", release: "checkout", namespace: "shop", holder: holder,
        duration: .seconds(60), clock: clock)
    }
  }

  @Test func aSecondHolderIsRefusedAndOnlyAStaleLeaseIsTakenOver() throws {
    let sim = try Sim()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    let first = sim.lease("run-a", clock: clock)
    let second = sim.lease("run-b", clock: clock)
    try first.acquire()
    let held =
      "another operation is in progress on sim-0001: held by run-a since 2027-01-15T08:00:00.000000Z"
    #expect(throws: LeaseError(held)) { try second.acquire() }
    // Still renewing: --force-unlock does not take it.
    clock.advance(by: .seconds(50))
    try first.renew()
    clock.advance(by: .seconds(50))
    #expect(throws: LeaseError(held)) { try second.acquire(force: true) }
    // Re-entrant for its own holder.
    try first.acquire()

    // Silent for longer than the lease duration: the forced taker wins, the old holder has lost.
    clock.advance(by: .seconds(61))
    #expect(throws: LeaseError(held)) { try second.acquire() }
    try second.acquire(force: true)
    let spec = try #require(try second.read()?["spec"])
    #expect(spec["holderIdentity"] == "run-b")
    #expect(spec["leaseTransitions"] == 1)
    #expect(spec["leaseDurationSeconds"] == 60)
    #expect(spec["acquireTime"] == "2027-01-15T08:02:41.000000Z")
    #expect(throws: LeaseError("lost the lock on sim-0001: it is held by run-b now")) {
      try first.renew()
    }
    // The loser's release leaves the winner's lock alone; the winner's clears it.
    try first.relinquish()
    #expect(try second.read()?["spec"]?["holderIdentity"] == "run-b")
    try second.relinquish()
    #expect(try second.read()?["spec"]?["holderIdentity"] == nil)
    try first.acquire()
    #expect(try first.read()?["spec"]?["holderIdentity"] == "run-a")
  }

  @Test func ofManyTakersRacingForAStaleLeaseExactlyOneWins() throws {
    let sim = try Sim()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    try sim.lease("crashed-run", clock: clock).acquire()
    clock.advance(by: .seconds(120))
    let takers = 6
    let ready = DispatchGroup()
    let release = DispatchSemaphore(value: 0)
    let finished = DispatchGroup()
    let winners = Winners()
    for index in 0..<takers {
      ready.enter()
      finished.enter()
      Thread.detachNewThread {
        let lease = sim.lease("taker-\(index)", clock: clock)
        ready.leave()
        release.wait()
        if (try? lease.acquire(force: true)) != nil {
          winners.add("taker-\(index)")
        }
        finished.leave()
      }
    }
    ready.wait()
    for _ in 0..<takers { release.signal() }
    #expect(finished.wait(timeout: .now() + 60) == .success)
    let won = winners.names
    #expect(won.count == 1)
    let holder = try sim.lease("observer", clock: clock).read()?["spec"]?["holderIdentity"]?.string
    #expect(holder == won.first)
  }
}

final class Winners: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [String] = []
  func add(_ name: String) {
    lock.lock()
    stored.append(name)
    lock.unlock()
  }
  var names: [String] {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }
}
