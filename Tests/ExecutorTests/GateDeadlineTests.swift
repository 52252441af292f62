// A gate's own time limit held by the engine, on a ManualClock: a gate that never answers is
// cancelled at its limit and fails with `timed out after 30s`, without a thread waiting on it.
import Drivers
import Executor
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

/// A driver whose calls succeed at once, so the run reaches its gates without waiting.
private struct InstantDriver: Driver {
  let name = "instant"

  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    completion(.success("2"))
  }

  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    completion(.success("3"))
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    completion(.success("1"))
  }
}

/// A gate that answers only when cancelled, as a probe against a host that never replies
/// would; it counts the calls that started and the ones that were cancelled.
private final class HangingGate: HealthGate, @unchecked Sendable {
  let name: String
  let limit: Duration?
  private let lock = NSLock()
  private var startedCalls = 0
  private var cancelledCalls = 0

  init(name: String, limit: Duration?) {
    self.name = name
    self.limit = limit
  }

  var started: Int { lock.withLock { startedCalls } }
  var cancelled: Int { lock.withLock { cancelledCalls } }

  func timeLimit(for clusters: [Cluster]) -> Duration? { limit }

  func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation) async
    -> GateResult
  {
    lock.withLock { startedCalls += 1 }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      cancellation.onCancel { continuation.resume() }
    }
    lock.withLock { cancelledCalls += 1 }
    return GateResult(gate: name, passed: false, summary: "cancelled")
  }
}

@Suite struct GateDeadlineTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  /// Starts the run, waits (real time, as a barrier only) until `gate` has `calls` calls
  /// parked, advances the clock by `by`, and returns the run's summary.
  private func run(
    _ executor: Executor, gate: HangingGate, calls: Int, clock: ManualClock, by: Duration
  ) throws -> RunSummary {
    let finished = DispatchSemaphore(value: 0)
    let summary = SummaryBox()
    executor.start { result in
      summary.value = result
      finished.signal()
    }
    #expect(eventually(timeout: 30) { gate.started == calls })
    // One tick short of the limit nothing has moved.
    clock.advance(by: by - .seconds(1))
    #expect(summary.value == nil)
    #expect(gate.cancelled == 0)
    clock.advance(by: .seconds(1))
    #expect(finished.wait(timeout: .now() + 30) == .success)
    return try #require(summary.value)
  }

  @Test func aHungClusterGateIsCutAtItsLimit() throws {
    let members = names("c", 200)
    let clock = ManualClock(start: start)
    let gate = HangingGate(name: "probe", limit: .seconds(30))
    let executor = try Executor(
      plan: plan([WaveShape(name: "all", clusters: members, maxParallel: 200, allowed: 200)]),
      clusters: clusters(members), driver: InstantDriver(), gates: [gate], clock: clock,
      options: ExecutorOptions(
        run: "run-1", maxParallel: 200, failurePolicy: FailurePolicy(rollback: .none),
        clusterTimeout: .seconds(600)))
    let summary = try run(executor, gate: gate, calls: 200, clock: clock, by: .seconds(30))
    #expect(summary.outcome == .failed)
    #expect(
      Set(summary.clusters.map(\.error)) == ["health gate 'probe' failed: timed out after 30s"])
    #expect(Set(summary.clusters.map(\.phase)) == [.failed])
    #expect(Set(summary.clusters.map(\.finishedAt)) == [start.addingTimeInterval(30)])
    #expect(
      summary.record("c1")?.gates == [
        GateResult(gate: "probe", passed: false, summary: "timed out after 30s")
      ])
    // Each hung gate was told to stop, not left running behind the verdict.
    #expect(eventually(timeout: 30) { gate.cancelled == 200 })
  }

  @Test func aHungWaveGateHaltsTheRunAtItsLimit() throws {
    let clock = ManualClock(start: start)
    let gate = HangingGate(name: "fleet errors", limit: .seconds(90))
    let executor = try Executor(
      plan: plan([
        WaveShape(name: "canary", clusters: ["a"]), WaveShape(name: "rest", clusters: ["b"]),
      ]),
      clusters: clusters(["a", "b"]), driver: InstantDriver(), waveGates: [gate], clock: clock,
      options: ExecutorOptions(
        run: "run-1", failurePolicy: FailurePolicy(rollback: .none),
        clusterTimeout: .seconds(600)))
    let summary = try run(executor, gate: gate, calls: 1, clock: clock, by: .seconds(90))
    #expect(summary.outcome == .halted)
    #expect(summary.reason == "wave gate 'fleet errors' failed: timed out after 1m30s")
    #expect(summary.record("b")?.phase == .pending)
    #expect(eventually(timeout: 30) { gate.cancelled == 1 })
  }
}

private final class SummaryBox: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: RunSummary?
  var value: RunSummary? {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}
