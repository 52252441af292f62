// The progress view: CI lines for a halted run, and the terminal frame's content.
import Drivers
import Executor
import FleetCore
import Foundation
import Report
import Testing

final class Captured: @unchecked Sendable {
  private let lock = NSLock()
  private var text = ""
  func append(_ chunk: String) {
    lock.lock()
    text += chunk
    lock.unlock()
  }
  var all: String {
    lock.lock()
    defer { lock.unlock() }
    return text
  }
}

@Suite struct ProgressViewTests {
  func haltedRun(style: ProgressView.Style) throws -> (Captured, ProgressView) {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1"], canary: true),
      WaveShape(name: "prod", clusters: ["p1", "p2"], maxParallel: 1),
    ]
    let captured = Captured()
    let run = try SimRun(
      plan(shapes), clusters: clusters(["k1", "p1", "p2"]),
      faults: SimFaults(upgrade: .init(names: ["p1"])), policy: FailurePolicy(rollback: .failed))
    let view = ProgressView(
      plan: plan(shapes), style: style, maxParallel: 4, clock: run.clock, width: 120,
      write: { captured.append($0) })
    run.executor.observe { view.handle($0) }
    _ = run.run()
    view.finish()
    return (captured, view)
  }

  @Test func ciLinesAreTimestampedAndShowTheHaltAndTheRollback() throws {
    let (captured, _) = try haltedRun(style: .lines)
    #expect(
      captured.all == """
        2027-01-15T08:00:00.000Z run run-1 started: 3 clusters in 2 waves
        2027-01-15T08:00:00.000Z wave 0 canary started (1 clusters)
        2027-01-15T08:00:00.000Z wave 0 canary k1 upgrading
        2027-01-15T08:00:10.000Z wave 0 canary k1 verifying
        2027-01-15T08:00:10.000Z wave 0 canary k1 baking
        2027-01-15T08:00:10.000Z wave 0 canary k1 succeeded
        2027-01-15T08:00:10.000Z wave 0 canary promoted
        2027-01-15T08:00:10.000Z wave 1 prod started (2 clusters)
        2027-01-15T08:00:10.000Z wave 1 prod p1 upgrading
        2027-01-15T08:00:20.000Z wave 1 prod p1 failed: simulated upgrade failure
        2027-01-15T08:00:20.000Z wave 1 prod HALTED: wave 'prod' has 1 failed of 2 clusters; \
        its budget allows 0
        2027-01-15T08:00:20.000Z wave 1 prod p1 rolling-back
        2027-01-15T08:00:30.000Z wave 1 prod p1 rolled-back
        2027-01-15T08:00:30.000Z run finished: halted

        """)
  }

  @Test func theTerminalFrameShowsWavesCountsAndTheHalt() throws {
    let (captured, _) = try haltedRun(style: .terminal)
    let frame = captured.all.replacingOccurrences(of: "\u{1B}[2K", with: "")
    #expect(
      frame == """
        fleetwave rollout test  elapsed 30s
        ✓ 0 canary (canary)  promoted  1/1  succeeded 1
        ✗ 1 prod  halted  1/2  rolled-back 1
        p1 failed: simulated upgrade failure
        halted: wave 'prod' has 1 failed of 2 clusters; its budget allows 0

        """)
  }
}
