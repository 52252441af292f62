// `onUnreachable: defer`: a cluster whose API cannot be reached leaves flight, waits out a
// backoff on the run's clock and is tried again in its wave, failing (and counting against
// the budget) only once its attempts are spent. Virtual time throughout, no sleeps.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

@testable import Report

/// A driver whose clusters cannot be reached until a given time: every call before it fails
/// `unreachable` as the kube driver reports a refused connection. Others answer at once, and
/// an upgrade takes five seconds of the call's clock. `rejected` clusters answer 403.
private final class ReachabilityDriver: Driver, @unchecked Sendable {
  let name = "scripted"
  let unreachableUntil: [String: Date]
  let rejected: Set<String>
  private let lock = NSLock()
  private var calls: [String] = []

  init(unreachableUntil: [String: Date], rejected: Set<String> = []) {
    self.unreachableUntil = unreachableUntil
    self.rejected = rejected
  }

  /// "cluster read" / "cluster upgrade" at each call, with its virtual second.
  var log: [String] { lock.withLock { calls } }

  private func note(_ call: DriverCall, _ what: String) -> DriverError? {
    let now = call.clock.now()
    let second = Int(now.timeIntervalSince(ExecutorClock.start))
    lock.withLock { calls.append("\(second)s \(call.cluster.name) \(what)") }
    if let until = unreachableUntil[call.cluster.name], now < until {
      return DriverError(
        .unreachable,
        "\(call.cluster.name): read release history: GET https://\(call.cluster.name).test"
          + "/api/v1/namespaces/shop/secrets: connection refused")
    }
    if rejected.contains(call.cluster.name) {
      return DriverError(
        .failed, "\(call.cluster.name): read release history: 403 Forbidden: secrets is forbidden")
    }
    return nil
  }

  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    if let error = note(call, "upgrade") { return completion(.failure(error)) }
    call.clock.schedule(at: call.clock.now().addingTimeInterval(5), on: call.queue) {
      completion(.success("2"))
    }
  }

  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    completion(.success("3"))
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    completion(.success("1"))
  }

  func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>
  ) {
    if let error = note(call, "read") { return completion(.failure(error)) }
    completion(
      .success(DeployedRelease(revision: "1", carries: ReleaseTarget(version: "1.4.1"))))
  }
}

private enum ExecutorClock {
  static let start = Date(timeIntervalSince1970: 1_800_000_000)
  static func at(_ seconds: TimeInterval) -> Date { start.addingTimeInterval(seconds) }
}

/// The executor's write-ahead records, as the journal would get them: each cluster phase with
/// its virtual second, and for a deferral the attempt and when the retry is due.
private final class WriteAheadLog: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  private(set) var lastRecord: [String: ClusterRunRecord] = [:]

  func record(_ event: RolloutEvent, _ cluster: ClusterRunRecord?) {
    lock.withLock {
      switch event {
      case .clusterPhase(let name, _, let phase, _, let at):
        let second = Int(at.timeIntervalSince(ExecutorClock.start))
        var line = "\(second)s \(name) \(phase.rawValue)"
        if phase == .deferred, let cluster, let until = cluster.deferredUntil {
          line +=
            " attempt \(cluster.deferrals) until "
            + "\(Int(until.timeIntervalSince(ExecutorClock.start)))s"
        }
        lines.append(line)
        if let cluster { lastRecord[name] = cluster }
      case .waveHalted(let wave, let reason, let at):
        lines.append(
          "\(Int(at.timeIntervalSince(ExecutorClock.start)))s wave \(wave) halted: \(reason)")
      case .wavePromoted(let wave, let at):
        lines.append("\(Int(at.timeIntervalSince(ExecutorClock.start)))s wave \(wave) promoted")
      default: break
      }
    }
  }

  var records: [String] { lock.withLock { lines } }
}

private let deferring = UnreachablePolicy(
  action: .defer, attempts: 3, backoff: .seconds(10), maxBackoff: .seconds(120))

private func executor(
  _ driver: ReachabilityDriver, _ log: WriteAheadLog, clock: ManualClock,
  waves: [WaveShape] = [WaveShape(name: "all", clusters: ["a", "b", "c"], maxParallel: 1)],
  unreachable: UnreachablePolicy = deferring, waveUnreachable: [String: UnreachablePolicy] = [:],
  canaryUnreachable: UnreachablePolicy? = nil, resumeFrom: RecordedRun? = nil
) throws -> Executor {
  var options = ExecutorOptions(
    run: "run-1", failurePolicy: FailurePolicy(rollback: .none), resumeFrom: resumeFrom)
  options.unreachable = unreachable
  options.waveUnreachable = waveUnreachable
  options.canaryUnreachable = canaryUnreachable
  let executor = try Executor(
    plan: plan(waves), clusters: clusters(waves.flatMap(\.clusters)), driver: driver,
    clock: clock, options: options)
  executor.recordAhead { event, record in log.record(event, record) }
  return executor
}

@Suite struct DeferralTests {
  @Test func aDeferredClusterFreesItsSlotAndSucceedsOnceReachable() throws {
    let driver = ReachabilityDriver(unreachableUntil: ["b": ExecutorClock.at(25)])
    let log = WriteAheadLog()
    let clock = ManualClock(start: ExecutorClock.start)
    let summary = try executor(driver, log, clock: clock).runInVirtualTime(clock)
    #expect(summary.outcome == .succeeded)
    // One slot: `c` takes it while `b` waits; `b` is tried at 15s (still refused, the wait
    // doubles to 20s) and again at 35s, when it is reachable.
    #expect(
      log.records == [
        "0s a upgrading", "0s a upgrading", "5s a verifying", "5s a baking",
        "5s b upgrading", "5s b deferred attempt 1 until 15s",
        "5s c upgrading", "5s c upgrading", "10s c verifying", "10s c baking",
        "15s b upgrading", "15s b deferred attempt 2 until 35s",
        "35s b upgrading", "35s b upgrading", "40s b verifying", "40s b baking",
        "40s a succeeded", "40s b succeeded", "40s c succeeded", "40s wave 0 promoted",
      ])
    #expect(
      driver.log == [
        "0s a read", "0s a upgrade", "5s b read", "5s c read", "5s c upgrade", "15s b read",
        "35s b read", "35s b upgrade",
      ])
    let b = try #require(summary.record("b"))
    #expect(b.deferrals == 2)
    #expect(b.error == nil)
    #expect(b.deferredUntil == nil)
    #expect(summary.waves[0].failures == 0)
  }

  @Test func aClusterStillUnreachableAfterItsAttemptsFailsAndOnlyThenCountsAgainstTheBudget()
    throws
  {
    let driver = ReachabilityDriver(unreachableUntil: ["b": .distantFuture])
    let log = WriteAheadLog()
    let clock = ManualClock(start: ExecutorClock.start)
    let policy = UnreachablePolicy(
      action: .defer, attempts: 2, backoff: .seconds(10), maxBackoff: .seconds(15))
    let summary = try executor(driver, log, clock: clock, unreachable: policy)
      .runInVirtualTime(clock)
    #expect(summary.outcome == .halted)
    // The wave budget (0) is crossed only by the final failure at 30s, not by the deferrals;
    // the second wait is capped at 15s.
    #expect(
      log.records == [
        "0s a upgrading", "0s a upgrading", "5s a verifying", "5s a baking",
        "5s b upgrading", "5s b deferred attempt 1 until 15s",
        "5s c upgrading", "5s c upgrading", "10s c verifying", "10s c baking",
        "15s b upgrading", "15s b deferred attempt 2 until 30s",
        "30s b upgrading", "30s b failed",
        "30s wave 0 halted: wave 'all' has 1 failed of 3 clusters; its budget allows 0",
      ])
    let b = try #require(summary.record("b"))
    #expect(
      b.error
        == "cannot read the current revision: b: read release history: GET https://b.test/api/v1/namespaces/shop/secrets: "
        + "connection refused (still unreachable after 2 deferrals)")
    #expect(b.deferrals == 2)
    #expect(summary.waves[0].failures == 1)
  }

  @Test func failIsTheDefaultAndAForbiddenAnswerIsNeverDeferred() throws {
    let driver = ReachabilityDriver(unreachableUntil: ["b": ExecutorClock.at(25)], rejected: ["c"])
    let log = WriteAheadLog()
    let clock = ManualClock(start: ExecutorClock.start)
    // The fleet fails unreachable clusters; wave `later` defers them, but `c` was reached.
    let waves = [
      WaveShape(name: "first", clusters: ["a", "b"], maxParallel: 1, allowed: 1),
      WaveShape(name: "later", clusters: ["c"], allowed: 1),
    ]
    let summary = try executor(
      driver, log, clock: clock, waves: waves, unreachable: UnreachablePolicy(),
      waveUnreachable: ["later": deferring]
    ).runInVirtualTime(clock)
    #expect(summary.outcome == .failed)
    #expect(
      log.records == [
        "0s a upgrading", "0s a upgrading", "5s a verifying", "5s a baking",
        "5s b upgrading", "5s b failed",
        "5s a succeeded", "5s wave 0 promoted",
        "5s c upgrading", "5s c failed",
        "5s wave 1 promoted",
      ])
    #expect(summary.record("b")?.deferrals == 0)
    #expect(
      summary.record("b")?.error
        == "cannot read the current revision: b: read release history: GET "
        + "https://b.test/api/v1/namespaces/shop/secrets: connection refused")
    #expect(summary.record("c")?.deferrals == 0)
  }

  @Test func theCanaryMayFailWhatTheFleetDefers() throws {
    let driver = ReachabilityDriver(unreachableUntil: ["k": ExecutorClock.at(25)])
    let log = WriteAheadLog()
    let clock = ManualClock(start: ExecutorClock.start)
    let waves = [
      WaveShape(name: "canary", clusters: ["k"], canary: true),
      WaveShape(name: "rest", clusters: ["a"]),
    ]
    let summary = try executor(
      driver, log, clock: clock, waves: waves, canaryUnreachable: UnreachablePolicy()
    ).runInVirtualTime(clock)
    #expect(summary.outcome == .halted)
    #expect(
      log.records == [
        "0s k upgrading", "0s k failed",
        "0s wave 0 halted: wave 'canary' has 1 failed of 1 clusters; its budget allows 0",
      ])
  }

  @Test func aRunKilledMidDeferralResumesWithTheAttemptsLeftAfterTheBackoff() throws {
    let driver = ReachabilityDriver(unreachableUntil: ["b": ExecutorClock.at(25)])
    let log = WriteAheadLog()
    let clock = ManualClock(start: ExecutorClock.start)
    let first = try executor(driver, log, clock: clock)
    first.start()
    // Run until 12s, while `b` waits for its retry at 15s; then the process is gone.
    while true {
      first.settle()
      guard let next = clock.nextDeadline, next <= ExecutorClock.at(12) else { break }
      clock.advance(to: next)
    }
    #expect(
      log.records.suffix(2) == ["10s c verifying", "10s c baking"])
    let recorded = log.lastRecord
    #expect(recorded["b"]?.phase == .deferred)
    #expect(recorded["b"]?.deferrals == 1)
    #expect(recorded["b"]?.deferredUntil == ExecutorClock.at(15))

    // The resumed process starts at 12s with what was recorded.
    let resumedLog = WriteAheadLog()
    let resumedClock = ManualClock(start: ExecutorClock.at(12))
    let resumed = try executor(
      driver, resumedLog, clock: resumedClock,
      resumeFrom: RecordedRun(clusters: recorded))
    let summary = resumed.runInVirtualTime(resumedClock)
    #expect(summary.outcome == .succeeded)
    // Not before its backoff ends, and counting on from the first process's attempt.
    #expect(
      resumedLog.records == [
        "15s b upgrading", "15s b deferred attempt 2 until 35s",
        "35s b upgrading", "35s b upgrading", "40s b verifying", "40s b baking",
        "40s a succeeded", "40s b succeeded", "40s c succeeded", "40s wave 0 promoted",
      ])
    #expect(summary.record("b")?.deferrals == 2)
  }

  @Test func theBackoffDoublesUpToItsCap() {
    let policy = UnreachablePolicy(
      action: .defer, attempts: 6, backoff: .seconds(10), maxBackoff: .seconds(60))
    #expect(
      (1...6).map { policy.delay(beforeRetry: $0) } == [
        .seconds(10), .seconds(20), .seconds(40), .seconds(60), .seconds(60), .seconds(60),
      ])
  }

  @Test func theLiveViewCountsDeferredClustersAndNotesWhy() {
    let clock = ManualClock(start: ExecutorClock.start)
    let shapes = [WaveShape(name: "all", clusters: ["a", "b", "c"])]
    let view = ProgressView(
      plan: plan(shapes), style: .terminal, maxParallel: 3, clock: clock, width: 120,
      write: { _ in })
    let start = ExecutorClock.start
    view.handle(.runStarted(run: "r1", at: start))
    view.handle(.waveStarted(wave: 0, at: start))
    for name in ["a", "b", "c"] {
      view.handle(.clusterPhase(cluster: name, wave: 0, phase: .upgrading, detail: nil, at: start))
    }
    view.handle(
      .clusterPhase(
        cluster: "b", wave: 0, phase: .deferred, detail: "b: connection refused", at: start))
    clock.advance(by: .seconds(4))
    // `b` is out of flight (not in "now:"), not done (0/3), and said why.
    #expect(
      view.frame() == [
        "fleetwave rollout test  elapsed 4s",
        "▸ 0 all  running  0/3  upgrading 2  deferred 1",
        "now: a (upgrading 4s), c (upgrading 4s)",
        "b deferred, unreachable: b: connection refused",
      ])
    #expect(
      ProgressView.line(
        for: .clusterPhase(
          cluster: "b", wave: 0, phase: .deferred, detail: "b: connection refused", at: start),
        plan: plan(shapes), at: start)
        == "2027-01-15T08:00:00.000Z wave 0 all b deferred: b: connection refused")
  }

  @Test func reportsSayHowOftenAndWhyEachClusterWasDeferred() throws {
    let driver = ReachabilityDriver(unreachableUntil: ["b": ExecutorClock.at(25)])
    let clock = ManualClock(start: ExecutorClock.start)
    let summary = try executor(driver, WriteAheadLog(), clock: clock).runInVirtualTime(clock)
    let markdown = RunMarkdown.string(summary)
    let reason =
      "cannot read the current revision: b: read release history: GET "
      + "https://b.test/api/v1/namespaces/shop/secrets: connection refused"
    #expect(
      markdown.hasSuffix(
        """
        ### Deferred clusters (unreachable)

        | cluster | wave | state | deferrals | last reason |
        |---|---|---|---:|---|
        | `b` | all | succeeded | 2 | \(reason) |

        """))
    let junit = RunJUnit.string(summary, hostname: "ci")
    #expect(
      junit.contains(
        """
            <testcase classname="test.all" name="a" time="5.000"/>
            <testcase classname="test.all" name="b" time="35.000">
              <system-out>deferred 2 times, unreachable: \(reason)</system-out>
            </testcase>
            <testcase classname="test.all" name="c" time="5.000"/>

        """))
    let html = RunHTML.string(summary)
    #expect(
      html.contains(
        """
        <h2 id="deferred">Deferred, unreachable (1)</h2>
        <table><tr><th>cluster</th><th>wave</th><th>state</th><th>deferrals</th>\
        <th>last reason</th></tr>
        <tr><td><code>b</code></td><td>all</td><td class="succeeded">succeeded</td><td>2</td>\
        <td>\(reason)</td></tr>
        </table>

        """))
  }
}
