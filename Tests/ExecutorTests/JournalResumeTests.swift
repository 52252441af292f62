// Durable runs in the executor, on a ManualClock: windows across time zones and DST, a freeze
// that begins mid-run, pause, approvals, the write-ahead hook, and resuming a recorded run.
import Drivers
import Executor
import FleetCore
import Foundation
import Planner
import Testing

private func date(_ text: String) -> Date {
  Timestamp.parse(text) ?? Date(timeIntervalSince1970: 0)
}

private func windowFleet(
  _ clusters: [Cluster], windows: [MaintenanceWindow] = [], freezes: [FreezePeriod] = []
) -> Fleet {
  Fleet(
    name: "test", directory: "/nonexistent", release: Release(name: "checkout", version: "1.4.2"),
    clusters: clusters, windows: Dictionary(uniqueKeysWithValues: windows.map { ($0.name, $0) }),
    freezes: freezes)
}

/// An executor on the sim driver and a manual clock starting at `start`.
private struct TimedRun {
  let clock: ManualClock
  let log = EventLog()
  let driver: SimDriver
  let executor: Executor

  init(
    _ plan: Plan, clusters: [Cluster], start: Date, fleet: Fleet? = nil,
    duration: Duration = .seconds(600), maxParallel: Int = 100, waiting: WaitingMode = .follow,
    resumeFrom: RecordedRun? = nil, pausedBy: (@Sendable () -> String?)? = nil,
    approvals: any ApprovalSource = StaticApprovals()
  ) throws {
    clock = ManualClock(start: start)
    driver = SimDriver(duration: .fixed(duration))
    executor = try Executor(
      plan: plan, clusters: clusters, driver: driver, clock: clock, approvals: approvals,
      options: ExecutorOptions(
        run: "run-1", maxParallel: maxParallel, startTimes: fleet.map { StartTimes(fleet: $0) },
        waiting: waiting, resumeFrom: resumeFrom, pausedBy: pausedBy))
    executor.observe { [log] in log.record($0) }
  }

  func run() -> RunSummary { executor.runInVirtualTime(clock) }
}

@Suite struct JournalResumeTests {
  @Test func windowsInTwoTimeZonesAcrossTheSpringDSTJump() throws {
    // US clocks jump 02:00 -> 03:00 on Sunday 2027-03-14; Europe stays on CET until 03-28.
    let windows = [
      MaintenanceWindow(
        name: "ny-night", days: [.sunday], from: TimeOfDay(hour: 2, minute: 30),
        to: TimeOfDay(hour: 4, minute: 0), timeZone: "America/New_York"),
      MaintenanceWindow(
        name: "berlin-morning", days: [.monday], from: TimeOfDay(hour: 9, minute: 0),
        to: TimeOfDay(hour: 10, minute: 0), timeZone: "Europe/Berlin"),
    ]
    let members = [
      Cluster(name: "ny-1", labels: ["region": "us"], windows: ["ny-night"]),
      Cluster(name: "ber-1", labels: ["region": "eu"], windows: ["berlin-morning"]),
      Cluster(name: "any-1", labels: ["region": "ap"]),
    ]
    let fleet = windowFleet(members, windows: windows)
    let run = try TimedRun(
      plan([WaveShape(name: "all", clusters: ["ny-1", "ber-1", "any-1"])]),
      clusters: members, start: date("2027-03-13T12:00:00Z"), fleet: fleet)
    let summary = run.run()
    #expect(summary.outcome == .succeeded)
    // 02:30 does not exist that night: the window opens when the clocks jump, 03:00 EDT.
    #expect(summary.record("ny-1")?.startedAt == date("2027-03-14T07:00:00Z"))
    #expect(summary.record("ber-1")?.startedAt == date("2027-03-15T08:00:00Z"))
    #expect(summary.record("any-1")?.startedAt == date("2027-03-13T12:00:00Z"))
    let waits = run.log.events.compactMap { event -> Date? in
      if case .waveWaiting(_, .waitingForWindow, let until, _) = event { return until }
      return nil
    }
    #expect(waits == [date("2027-03-14T07:00:00Z"), date("2027-03-15T08:00:00Z")])
  }

  @Test func theAutumnRepeatedHourOpensAtItsFirstOccurrence() throws {
    // Berlin's clocks go 03:00 -> 02:00 on Sunday 2027-10-31: 02:30 happens twice.
    let window = MaintenanceWindow(
      name: "night", days: [.sunday], from: TimeOfDay(hour: 2, minute: 30),
      to: TimeOfDay(hour: 3, minute: 30), timeZone: "Europe/Berlin")
    let fleet = windowFleet([Cluster(name: "a", windows: ["night"])], windows: [window])
    let times = StartTimes(fleet: fleet)
    #expect(
      times.next(for: "a", atOrAfter: date("2027-10-30T12:00:00Z")) == date("2027-10-31T00:30:00Z"))
    #expect(
      times.wait(for: "a", at: date("2027-10-30T12:00:00Z"))
        == StartWait(
          opensAt: date("2027-10-31T00:30:00Z"),
          reason: "window 'night' opens at 2027-10-31T00:30:00.000Z"))
    #expect(times.wait(for: "a", at: date("2027-10-31T01:00:00Z")) == nil)
  }

  @Test func aFreezeThatBeginsMidRunStopsNewStartsButNotClustersInFlight() throws {
    let start = date("2027-01-15T08:00:00Z")
    let members = clusters(names("c", 6))
    let freeze = FreezePeriod(
      from: start.addingTimeInterval(15 * 60), to: start.addingTimeInterval(2 * 3600),
      reason: "incident review")
    let fleet = windowFleet(members, freezes: [freeze])
    let shape = WaveShape(name: "all", clusters: names("c", 6), maxParallel: 2)
    let run = try TimedRun(plan([shape]), clusters: members, start: start, fleet: fleet)
    let summary = run.run()
    #expect(summary.outcome == .succeeded)
    let starts = names("c", 6).map { summary.record($0)?.startedAt?.timeIntervalSince(start) }
    // c3/c4 start at 10 min and finish during the freeze; c5/c6 wait for its end.
    #expect(starts == [0, 0, 600, 600, 7200, 7200])

    let blocked = try TimedRun(
      plan([shape]), clusters: members, start: start, fleet: fleet, waiting: .untilBlocked)
    let stopped = blocked.run()
    #expect(stopped.outcome == .interrupted)
    #expect(stopped.names(in: .succeeded) == [])
    #expect(stopped.names(in: .baking) == ["c1", "c2", "c3", "c4"])
    #expect(
      blocked.executor.blockedBy
        == Blocked(
          reason: "freeze 'incident review' (until 2027-01-15T10:00:00.000Z) at "
            + "2027-01-15T10:00:00.000Z", until: start.addingTimeInterval(7200)))
  }

  @Test func untilBlockedStopsAtABakeAndAResumeAfterItPromotes() throws {
    let start = date("2027-01-15T08:00:00Z")
    let members = clusters(["a1", "b1"])
    let shapes = [
      WaveShape(name: "first", clusters: ["a1"], bake: .seconds(3600)),
      WaveShape(name: "second", clusters: ["b1"]),
    ]
    let first = try TimedRun(
      plan(shapes), clusters: members, start: start, waiting: .untilBlocked)
    let stopped = first.run()
    #expect(
      first.executor.blockedBy
        == Blocked(
          reason: "the bake of wave 'first' to end at 2027-01-15T09:10:00.000Z",
          until: date("2027-01-15T09:10:00Z")))
    let recorded = RecordedRun(
      clusters: Dictionary(uniqueKeysWithValues: stopped.clusters.map { ($0.name, $0) }),
      bakeStarted: ["first": date("2027-01-15T08:10:00Z")])
    let early = try TimedRun(
      plan(shapes), clusters: members, start: date("2027-01-15T09:00:00Z"),
      waiting: .untilBlocked, resumeFrom: recorded)
    _ = early.run()
    #expect(early.executor.blockedBy?.until == date("2027-01-15T09:10:00Z"))
    let later = try TimedRun(
      plan(shapes), clusters: members, start: date("2027-01-15T09:10:00Z"),
      waiting: .untilBlocked, resumeFrom: recorded)
    let done = later.run()
    #expect(done.outcome == .succeeded)
    #expect(later.driver.history(of: "a1") == [1])
    #expect(later.driver.history(of: "b1") == [1, 2])
  }

  @Test func aPauseLetsClustersInFlightFinishAndStartsNothingNew() throws {
    let members = clusters(names("c", 4))
    let paused = PauseSwitch()
    let run = try TimedRun(
      plan([WaveShape(name: "all", clusters: names("c", 4))]), clusters: members,
      start: date("2027-01-15T08:00:00Z"), maxParallel: 2, waiting: .untilBlocked,
      pausedBy: { paused.by })
    run.executor.observe { event in
      if case .clusterPhase("c1", _, .upgrading, _, _) = event { paused.by = "alice" }
    }
    let summary = run.run()
    #expect(summary.outcome == .interrupted)
    #expect(summary.names(in: .baking) == ["c1", "c2"])
    #expect(summary.names(in: .pending) == ["c3", "c4"])
    #expect(
      run.executor.blockedBy
        == Blocked(
          reason: "the run to be resumed (paused by alice; fleetwave resume run-1)", until: nil))
  }

  @Test func anApprovalGateBlocksWithTheCommandThatLiftsIt() throws {
    let members = clusters(["a1", "b1"])
    let shapes = [
      WaveShape(name: "first", clusters: ["a1"]),
      WaveShape(name: "prod", clusters: ["b1"], approval: true),
    ]
    let run = try TimedRun(
      plan(shapes), clusters: members, start: date("2027-01-15T08:00:00Z"), waiting: .untilBlocked)
    let summary = run.run()
    #expect(summary.waitingForApproval == "prod")
    #expect(
      run.executor.blockedBy
        == Blocked(
          reason: "approval of wave 'prod' (fleetwave approve run-1 --wave prod)", until: nil))
    let approved = try TimedRun(
      plan(shapes), clusters: members, start: date("2027-01-15T09:00:00Z"),
      resumeFrom: RecordedRun(
        clusters: Dictionary(uniqueKeysWithValues: summary.clusters.map { ($0.name, $0) }),
        promoted: ["first"]),
      approvals: StaticApprovals(["prod"]))
    #expect(approved.run().outcome == .succeeded)
    #expect(approved.driver.history(of: "a1") == [1])
    #expect(approved.driver.history(of: "b1") == [1, 2])
  }

  @Test func aResumedRunLeavesDoneClustersAloneAndReexaminesTheOnesMidChange() throws {
    let members = clusters(["a1", "b1", "b2", "b3", "b4"])
    let shapes = [
      WaveShape(name: "first", clusters: ["a1"]),
      WaveShape(name: "second", clusters: ["b1", "b2", "b3", "b4"], allowed: 1),
    ]
    let recorded = RecordedRun(
      clusters: [
        "a1": ClusterRunRecord(name: "a1", wave: 0, phase: .succeeded, toRevision: "2"),
        "b1": ClusterRunRecord(
          name: "b1", wave: 1, phase: .failed, startedAt: Date(), error: "boom"),
        // Upgraded before the crash: the driver says it is at its target, so only verified.
        "b2": ClusterRunRecord(
          name: "b2", wave: 1, phase: .verifying, fromRevision: "0", toRevision: "1",
          startedAt: Date()),
        // Mid-upgrade at the crash and not at the target: upgraded again.
        "b3": ClusterRunRecord(name: "b3", wave: 1, phase: .upgrading, startedAt: Date()),
      ],
      promoted: ["first"])
    let run = try TimedRun(
      plan(shapes), clusters: members, start: date("2027-01-15T08:00:00Z"), resumeFrom: recorded)
    let summary = run.run()
    #expect(summary.outcome == .failed)
    #expect(run.driver.history(of: "a1") == [1])
    #expect(run.driver.history(of: "b1") == [1])
    #expect(run.driver.history(of: "b2") == [1])
    #expect(run.driver.history(of: "b3") == [1, 2])
    #expect(run.driver.history(of: "b4") == [1, 2])
    #expect(run.log.clusters(entering: .upgrading).sorted() == ["b2", "b3", "b4"])
    #expect(summary.record("b2")?.fromRevision == "0")
    #expect(summary.waves[1].failures == 1)
  }

  @Test func aFailureRecordedBeforeTheCrashCountsAgainstTheBudget() throws {
    let members = clusters(["b1", "b2", "b3"])
    let shape = WaveShape(name: "only", clusters: ["b1", "b2", "b3"], maxParallel: 1, allowed: 1)
    let driver = SimFaults(upgrade: .init(names: ["b2"]))
    let recorded = RecordedRun(clusters: [
      "b1": ClusterRunRecord(name: "b1", wave: 0, phase: .failed, startedAt: Date(), error: "boom")
    ])
    let clock = ManualClock(start: date("2027-01-15T08:00:00Z"))
    let sim = SimDriver(duration: .fixed(.seconds(60)), faults: driver)
    let executor = try Executor(
      plan: plan([shape]), clusters: members, driver: sim, clock: clock,
      options: ExecutorOptions(
        run: "run-1", failurePolicy: FailurePolicy(rollback: .none), resumeFrom: recorded))
    let summary = executor.runInVirtualTime(clock)
    #expect(summary.outcome == .halted)
    #expect(summary.reason == "wave 'only' has 2 failed of 3 clusters; its budget allows 1")
    #expect(sim.history(of: "b3") == [1])
  }

  @Test func aWriteAheadFailureStopsTheRunBeforeTheActionItWouldAnnounce() throws {
    let members = clusters(names("c", 3))
    let run = try TimedRun(
      plan([WaveShape(name: "all", clusters: names("c", 3), maxParallel: 1)]), clusters: members,
      start: date("2027-01-15T08:00:00Z"))
    let written = EventLog()
    run.executor.recordAhead { event, _ in
      if case .clusterPhase("c2", _, .upgrading, _, _) = event {
        throw ExecutorError("disk full")
      }
      written.record(event)
    }
    let summary = run.run()
    #expect(summary.outcome == .interrupted)
    #expect(summary.reason == "cannot write the journal: disk full")
    #expect(run.driver.history(of: "c2") == [1])
    #expect(run.driver.history(of: "c3") == [1])
    #expect(summary.record("c2")?.phase == .pending)
    #expect(written.clusters(entering: .upgrading) == ["c1", "c1"])
  }
}

private final class PauseSwitch: @unchecked Sendable {
  private let lock = NSLock()
  private var who: String?

  var by: String? {
    get {
      lock.lock()
      defer { lock.unlock() }
      return who
    }
    set {
      lock.lock()
      who = newValue
      lock.unlock()
    }
  }
}
