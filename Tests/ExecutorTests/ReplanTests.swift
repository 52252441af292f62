// Resuming a recorded run on a changed plan (`--replan`): state is carried by wave and cluster
// name, never by position, and a change that would strand a cluster is refused.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

@Suite struct ReplanTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  /// The run as it stood when it stopped: wave `first` promoted, `second` half done (b1
  /// upgraded and baking, b2 not started), `third` not started.
  func recorded() -> RecordedRun {
    RecordedRun(
      clusters: [
        "a1": ClusterRunRecord(
          name: "a1", wave: 0, phase: .succeeded, fromRevision: "1", toRevision: "2"),
        "b1": ClusterRunRecord(
          name: "b1", wave: 1, phase: .baking, fromRevision: "1", toRevision: "2"),
      ],
      promoted: ["first"])
  }

  struct Outcome {
    let summary: RunSummary
    let driver: SimDriver
    /// Wave names in the order they started.
    let started: [String]
  }

  func resume(_ shapes: [WaveShape], from recorded: RecordedRun) throws -> Outcome {
    let changed = plan(shapes)
    let clock = ManualClock(start: start)
    let driver = SimDriver(duration: .fixed(.seconds(60)))
    let log = EventLog()
    let executor = try Executor(
      plan: changed, clusters: clusters(shapes.flatMap(\.clusters)), driver: driver, clock: clock,
      options: ExecutorOptions(run: "run-1", resumeFrom: recorded))
    executor.observe { log.record($0) }
    let summary = executor.runInVirtualTime(clock)
    let started = log.events.compactMap { event -> String? in
      guard case .waveStarted(let index, _) = event else { return nil }
      return changed.waves[index].name
    }
    return Outcome(summary: summary, driver: driver, started: started)
  }

  @Test func aWaveInsertedInFrontRunsInsteadOfInheritingThePromotedState() throws {
    let outcome = try resume(
      [
        WaveShape(name: "hotfix", clusters: ["h1"]),
        WaveShape(name: "first", clusters: ["a1"]),
        WaveShape(name: "second", clusters: ["b1", "b2"]),
        WaveShape(name: "third", clusters: ["c1"]),
      ], from: recorded())
    #expect(outcome.summary.outcome == .succeeded)
    #expect(outcome.started == ["hotfix", "second", "third"])
    #expect(outcome.driver.history(of: "h1") == [1, 2])
    #expect(outcome.driver.history(of: "a1") == [1])
    #expect(outcome.driver.history(of: "b1") == [1])
    #expect(outcome.driver.history(of: "b2") == [1, 2])
    #expect(outcome.summary.record("h1")?.phase == .succeeded)
  }

  @Test func aPlanWithFewerWavesGoesOnWithTheOnesLeft() throws {
    var state = recorded()
    state.promoted = ["first", "second"]
    state.clusters["b1"]?.phase = .succeeded
    state.clusters["b2"] = ClusterRunRecord(
      name: "b2", wave: 1, phase: .succeeded, fromRevision: "1", toRevision: "2")
    let outcome = try resume(
      [WaveShape(name: "first", clusters: ["a1"]), WaveShape(name: "third", clusters: ["c1"])],
      from: state)
    #expect(outcome.summary.outcome == .succeeded)
    #expect(outcome.started == ["third"])
    #expect(outcome.driver.history(of: "c1") == [1, 2])
  }

  @Test func aRenamedWaveIsANewWaveWhoseDoneClustersAreNotUpgradedAgain() throws {
    let outcome = try resume(
      [
        WaveShape(name: "first", clusters: ["a1"]),
        WaveShape(name: "middle", clusters: ["b1", "b2"]),
        WaveShape(name: "third", clusters: ["c1"]),
      ], from: recorded())
    #expect(outcome.summary.outcome == .succeeded)
    #expect(outcome.started == ["middle", "third"])
    #expect(outcome.driver.history(of: "b1") == [1])
    #expect(outcome.driver.history(of: "b2") == [1, 2])
    #expect(outcome.summary.record("b1")?.phase == .succeeded)
  }

  @Test func reorderedWavesRunInTheNewOrder() throws {
    let outcome = try resume(
      [
        WaveShape(name: "third", clusters: ["c1"]),
        WaveShape(name: "second", clusters: ["b1", "b2"]),
        WaveShape(name: "first", clusters: ["a1"]),
      ], from: recorded())
    #expect(outcome.summary.outcome == .succeeded)
    #expect(outcome.started == ["third", "second"])
    #expect(outcome.driver.history(of: "a1") == [1])
    #expect(outcome.driver.history(of: "c1") == [1, 2])
  }

  @Test func aClusterMovedIntoALaterWaveIsUpgradedThere() throws {
    let outcome = try resume(
      [
        WaveShape(name: "first", clusters: ["a1"]),
        WaveShape(name: "second", clusters: ["b1"]),
        WaveShape(name: "third", clusters: ["c1", "b2"]),
      ], from: recorded())
    #expect(outcome.summary.outcome == .succeeded)
    #expect(outcome.driver.history(of: "b2") == [1, 2])
    #expect(outcome.summary.record("b2")?.wave == 2)
  }

  @Test func aClusterMovedIntoAnEarlierPromotedWaveIsRefused() throws {
    let shapes = [
      WaveShape(name: "first", clusters: ["a1", "b2"]),
      WaveShape(name: "second", clusters: ["b1"]),
      WaveShape(name: "third", clusters: ["c1"]),
    ]
    #expect(
      throws: ExecutorError(
        "cannot carry run run-1's recorded state onto this plan:\n  cluster 'b2' is now in wave "
          + "'first', which the run already promoted, but was never upgraded there; move it to a "
          + "wave that has not run yet")
    ) {
      try resume(shapes, from: recorded())
    }
  }
}

@Suite struct ResumedStartTests {
  @Test func aResumedRunReportsTheRunsStartNotThePasss() throws {
    let began = Date(timeIntervalSince1970: 1_800_000_000)
    let clock = ManualClock(start: began.addingTimeInterval(3600))
    var options = ExecutorOptions(
      run: "run-1",
      resumeFrom: RecordedRun(clusters: [
        "a1": ClusterRunRecord(
          name: "a1", wave: 0, phase: .succeeded, toRevision: "2", startedAt: began)
      ]))
    options.startedAt = began
    let executor = try Executor(
      plan: plan([WaveShape(name: "first", clusters: ["a1", "a2"])]),
      clusters: clusters(["a1", "a2"]), driver: SimDriver(duration: .fixed(.seconds(60))),
      clock: clock, options: options)
    let summary = executor.runInVirtualTime(clock)
    #expect(summary.outcome == .succeeded)
    #expect(summary.startedAt == began)
    #expect(summary.finishedAt == began.addingTimeInterval(3660))
  }
}
