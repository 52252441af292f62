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

  /// Runs a forced acquire on a thread of its own, returning once it is watching the lease
  /// (its wake-up is scheduled on the clock); `result` then waits for its outcome.
  final class ForcedTake: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: String?

    init(_ lease: ReleaseLease, clock: ManualClock) {
      Thread.detachNewThread { [self] in
        do throws(LeaseError) {
          try lease.acquire(force: true)
          outcome = "taken"
        } catch {
          outcome = error.message
        }
        done.signal()
      }
      #expect(clock.waitForTimers())
    }

    /// "taken", or why not; nil when the taker hung.
    func result() -> String? {
      done.wait(timeout: .now() + 30) == .success ? outcome : nil
    }
  }

  @Test func aSecondHolderIsRefusedAndAForcedTakerWaitsALeaseDurationOfItsOwnClock() throws {
    let sim = try Sim()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    let first = sim.lease("run-a/p1", clock: clock)
    let second = sim.lease("run-b/q1", clock: clock)
    try first.acquire()
    let held =
      "another operation is in progress on sim-0001: held by run-a/p1 since 2027-01-15T08:00:00.000000Z"
    #expect(throws: LeaseError(held)) { try second.acquire() }
    // Re-entrant for its own holder.
    try first.acquire()

    // A holder that renews while the taker watches keeps the lease.
    let watching = ForcedTake(second, clock: clock)
    clock.advance(by: .seconds(20))
    try first.renew()
    clock.advance(by: .seconds(40))
    #expect(watching.result() == held + " (still renewing: not taken over)")

    // Silent for a whole lease duration of the taker's clock: taken, and the old holder lost it.
    let taking = ForcedTake(second, clock: clock)
    clock.advance(by: .seconds(59))
    #expect(try second.read()?["spec"]?["holderIdentity"] == "run-a/p1")
    clock.advance(by: .seconds(1))
    #expect(taking.result() == "taken")
    let spec = try #require(try second.read()?["spec"])
    #expect(spec["holderIdentity"] == "run-b/q1")
    #expect(spec["leaseTransitions"] == 1)
    #expect(spec["leaseDurationSeconds"] == 60)
    #expect(spec["acquireTime"] == "2027-01-15T08:02:00.000000Z")
    #expect(throws: LeaseError("lost the lock on sim-0001: it is held by run-b/q1 now")) {
      try first.renew()
    }
    // The loser's release leaves the winner's lock alone; the winner's clears it.
    try first.relinquish()
    #expect(try second.read()?["spec"]?["holderIdentity"] == "run-b/q1")
    try second.relinquish()
    #expect(try second.read()?["spec"]?["holderIdentity"] == nil)
    try first.acquire()
    #expect(try first.read()?["spec"]?["holderIdentity"] == "run-a/p1")
  }

  @Test func aRenewTimeWrittenByASkewedClockIsNotTrusted() throws {
    let sim = try Sim()
    // The holder's clock is ten minutes behind: by its renewTime the lease expired long ago.
    let holderClock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000 - 600))
    let takerClock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    let holder = sim.lease("run-a/p1", clock: holderClock)
    let taker = sim.lease("run-b/q1", clock: takerClock)
    try holder.acquire()
    let watching = ForcedTake(taker, clock: takerClock)
    holderClock.advance(by: .seconds(20))
    try holder.renew()
    takerClock.advance(by: .seconds(60))
    #expect(watching.result()?.hasSuffix("(still renewing: not taken over)") == true)
    #expect(try taker.read()?["spec"]?["holderIdentity"] == "run-a/p1")
  }

  @Test func aProcessTakesOverItsRunsEarlierProcessesAtOnceAndNoOneElse() throws {
    let sim = try Sim()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    try sim.lease("demo-1/p1", clock: clock).acquire()
    // Same run id, a process the journal does not list: another machine's run, refused.
    let stranger = sim.lease("demo-1/x9", clock: clock)
    #expect(throws: LeaseError.self) { try stranger.acquire() }
    // The run's next process (its journal lists p1, and it holds the run lock) takes over.
    let successor = RunInstance(run: "demo-1", token: "p2", predecessors: ["p1"])
    let lease = ReleaseLease(
      client: sim.client, cluster: "sim-0001", release: "checkout", namespace: "shop",
      holder: successor.identity, succeeds: successor.succeeds, duration: .seconds(60),
      clock: clock)
    try lease.acquire()
    let spec = try #require(try lease.read()?["spec"])
    #expect(spec["holderIdentity"] == "demo-1/p2")
    #expect(spec["leaseTransitions"] == 1)
  }

  @Test func ofManyTakersRacingForAStaleLeaseExactlyOneWins() throws {
    let sim = try Sim()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    try sim.lease("crashed-run", clock: clock).acquire()
    let takers = 6
    let ready = DispatchGroup()
    let release = DispatchSemaphore(value: 0)
    let finished = DispatchGroup()
    let winners = Collected()
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
    // Each watches the silent holder for a lease duration, then they race to write.
    #expect(clock.waitForTimers(takers))
    clock.advance(by: .seconds(60))
    #expect(finished.wait(timeout: .now() + 60) == .success)
    let won = winners.items
    #expect(won.count == 1)
    let holder = try sim.lease("observer", clock: clock).read()?["spec"]?["holderIdentity"]?.string
    #expect(holder == won.first)
  }
}
