// clusterTimeout held by the engine, at virtual time: a driver that never answers still
// frees its cluster's slot at the deadline, with the step it was stuck in.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

/// A driver whose upgrades and rollbacks never finish on their own: they answer only when
/// cancelled, as a hung API request or a command that never exits would once aborted.
final class HangingDriver: Driver, @unchecked Sendable {
  let name = "hanging"
  private let lock = NSLock()
  private var cancelledCalls = 0

  var cancelled: Int {
    lock.lock()
    defer { lock.unlock() }
    return cancelledCalls
  }

  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    hang(call, completion)
  }

  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    hang(call, completion)
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    completion(.success("1"))
  }

  private func hang(_ call: DriverCall, _ completion: @escaping DriverCompletion<String>) {
    call.cancellation.onCancel { [self] in
      lock.lock()
      cancelledCalls += 1
      lock.unlock()
      completion(.failure(DriverError(.cancelled, "cancelled")))
    }
  }
}

@Suite struct DeadlineTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  @Test func aThousandHungClustersEachFailAtTheirClusterTimeout() throws {
    let members = names("c", 1000)
    let clock = ManualClock(start: start)
    let driver = HangingDriver()
    let executor = try Executor(
      plan: plan([WaveShape(name: "all", clusters: members, maxParallel: 1000, allowed: 1000)]),
      clusters: clusters(members), driver: driver, clock: clock,
      options: ExecutorOptions(
        run: "run-1", maxParallel: 1000, failurePolicy: FailurePolicy(rollback: .none),
        clusterTimeout: .seconds(20)))
    let summary = executor.runInVirtualTime(clock)
    #expect(summary.outcome == .failed)
    #expect(summary.clusters.count == 1000)
    let late = summary.clusters.filter { record in
      guard let began = record.startedAt, let ended = record.finishedAt else { return true }
      return abs(ended.timeIntervalSince(began) - 20) > 1
    }
    #expect(late.map(\.name) == [])
    #expect(
      Set(summary.clusters.map(\.error)) == ["timed out after 20s while upgrading"])
    #expect(Set(summary.clusters.map(\.phase)) == [.failed])
    #expect(driver.cancelled == 1000)
    #expect(summary.finishedAt == start.addingTimeInterval(20))
  }

  @Test func aHungRollbackFailsAtItsDeadlineWithTheStepItWasIn() throws {
    let clock = ManualClock(start: start)
    let driver = HangingDriver()
    let executor = try Executor(
      plan: plan([WaveShape(name: "all", clusters: ["a", "b"], maxParallel: 1)]),
      clusters: clusters(["a", "b"]), driver: driver, clock: clock,
      options: ExecutorOptions(
        run: "run-1", failurePolicy: FailurePolicy(rollback: .failed),
        clusterTimeout: .seconds(90)))
    let summary = executor.runInVirtualTime(clock)
    #expect(summary.outcome == .halted)
    #expect(summary.record("a")?.error == "timed out after 1m30s while upgrading")
    #expect(summary.record("a")?.phase == .rollbackFailed)
    #expect(summary.record("a")?.rollbackError == "timed out after 1m30s while rolling-back")
    #expect(summary.record("b")?.phase == .pending)
    #expect(summary.finishedAt == start.addingTimeInterval(180))
  }
}
