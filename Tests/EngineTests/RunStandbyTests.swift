// `rollout --follow --standby`: a replica waits out the fleet's run lock in the home cluster
// (fleet-sim over TLS) on the manual clock, and claims it only once its holder has gone.
import Engine
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Kube
import Testing

@Suite struct RunStandbyTests {
  typealias Home = KubeStateStoreTests.Home
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  @Test func aRenewingHolderKeepsTheLockAndTheStandbyClaimsItOnceReleased() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let store = try home.store(clock: clock)
    let held = try store.lock(
      fleet: "demo", instance: RunInstance(run: "demo-1", token: "aaaaaa"), at: clock.now())
    let standby = StandbyAttempt(RunStandby(store: store, fleet: "demo"), run: "demo-1")
    // A minute of renewals every 5 s: the standby reads the lock every 5 s and keeps waiting.
    // Each renewal lands in the Lease before time moves on, as it would on a real clock; time
    // moving past a renewal still on the wire would only show the standby a silent holder.
    let lease = try store.lockLease(fleet: "demo", holder: "observer", annotations: [:])
    for _ in 0..<12 {
      #expect(clock.waitForWaiters(1))
      clock.advance(by: .seconds(5))
      let renewedAt = ReleaseLease.microTime(clock.now())
      #expect(
        eventually(timeout: 10) {
          (try? lease.read())?["spec"]?["renewTime"]?.string == renewedAt
        })
    }
    #expect(clock.waitForWaiters(1))
    #expect(standby.outcome == nil)
    #expect(standby.announced.count == 1)
    #expect(standby.announced.first?.hasPrefix("run demo-1 (host ") == true)
    // The holder ends and releases: the standby claims the lock at its next look.
    held.release()
    clock.advance(by: .seconds(5))
    let claim = try #require(standby.result())
    #expect(claim.run == "demo-1")
    #expect(claim.claim.hasPrefix("demo-1/"))
    // The run action that follows takes the claimed lock at once, from the standby's claim.
    let lock = try claim.store.lock(
      fleet: "demo", instance: RunInstance(run: "demo-1", token: "cccccc"), at: clock.now())
    #expect(lock.previousHolder?.run == "demo-1")
    lock.release()
  }

  @Test func aSilentHolderIsWaitedOutForOneLeaseDurationFromItsLastWrite() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let store = try home.store(clock: clock)
    // A holder that died without releasing: its Lease is never written again.
    try store.lockLease(
      fleet: "demo", holder: "demo-1/dead00",
      annotations: [
        "fleetwave.io/run": "demo-1", "fleetwave.io/host": "ci-9", "fleetwave.io/pid": "7",
        "fleetwave.io/since": "2027-01-15T08:00:00.000Z",
      ]
    ).acquire()
    let standby = StandbyAttempt(RunStandby(store: store, fleet: "demo"), run: "demo-1")
    for _ in 0..<2 {
      #expect(clock.waitForWaiters(1))
      clock.advance(by: .seconds(5))
    }
    // 10 s after the first look: not yet.
    #expect(clock.waitForWaiters(1))
    #expect(standby.outcome == nil)
    #expect(
      standby.announced == ["run demo-1 (host ci-9, pid 7, since 2027-01-15T08:00:00.000Z)"])
    clock.advance(by: .seconds(5))
    let claim = try #require(standby.result())
    #expect(claim.run == "demo-1")
    let lease = try #require(
      try store.lockLease(fleet: "demo", holder: "x", annotations: [:]).read())
    #expect(lease["spec"]?["holderIdentity"]?.string == claim.claim)
    #expect(lease["metadata"]?["annotations"]?["fleetwave.io/run"]?.string == "demo-1")
  }

  @Test func aFreeLockIsClaimedAtOnceAndCancellingEndsTheWait() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let store = try home.store(clock: clock)
    let free = StandbyAttempt(RunStandby(store: store, fleet: "demo"), run: "demo-2")
    #expect(try #require(free.result()).run == "demo-2")
    #expect(free.announced == [])

    // A second standby waits for the first one's claim; SIGINT (the cancellation) ends it.
    let waiting = StandbyAttempt(RunStandby(store: store, fleet: "demo"), run: "demo-3")
    #expect(clock.waitForWaiters(1))
    waiting.cancellation.cancel()
    #expect(waiting.cancelled())
    #expect(waiting.announced.first?.hasPrefix("run demo-2 (host ") == true)
  }
}

/// A standby's wait on a thread of its own.
final class StandbyAttempt: @unchecked Sendable {
  struct Claim {
    var run: String
    var claim: String
    var store: KubeStateStore
  }

  let cancellation = Cancellation()
  private let done = DispatchSemaphore(value: 0)
  private let lock = NSLock()
  private var ended: RunStandby.Outcome?
  private let holders = Collected()

  init(_ standby: RunStandby, run: String) {
    Thread.detachNewThread { [self] in
      let outcome =
        (try? standby.wait(
          chooseRun: { _ in run }, cancellation: cancellation,
          waiting: { holders.add($0.description) })) ?? .cancelled
      lock.withLock { ended = outcome }
      done.signal()
    }
  }

  /// How the wait ended so far; nil while it goes on.
  var outcome: RunStandby.Outcome? { lock.withLock { ended } }

  /// The holders the standby said it waits for.
  var announced: [String] { holders.items }

  /// The claim, once the wait ended; nil when it hung or was cancelled.
  func result() -> Claim? {
    guard done.wait(timeout: .now() + 60) == .success,
      case .claimed(let run, let claim, let store) = outcome
    else { return nil }
    return Claim(run: run, claim: claim, store: store)
  }

  /// Whether the wait ended cancelled.
  func cancelled() -> Bool {
    done.wait(timeout: .now() + 60) == .success && outcome == .cancelled
  }
}
