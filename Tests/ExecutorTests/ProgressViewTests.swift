// The progress view: CI lines for a halted run, and the terminal frame's content.
import Drivers
import Executor
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import Report

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
    #expect(
      captured.all
        == """
        \r\u{1B}[2Kfleetwave rollout test  elapsed 30s\u{1B}[K
        ✓ 0 canary (canary)  promoted  1/1  succeeded 1\u{1B}[K
        ✗ 1 prod  halted  1/2  rolled-back 1\u{1B}[K
        p1 failed: simulated upgrade failure\u{1B}[K
        halted: wave 'prod' has 1 failed of 2 clusters; its budget allows 0\u{1B}[K
        \u{1B}[J
        """.replacingOccurrences(of: "\u{1B}[2K", with: ""))
  }

  static let start = Date(timeIntervalSince1970: 1_800_000_000)
  static let shapes = [
    WaveShape(name: "canary", clusters: ["k1"], bake: .seconds(90), canary: true),
    WaveShape(name: "prod", clusters: ["p1", "p2", "p3"]),
  ]

  /// A terminal view on a manual clock, started, with the run and the canary begun.
  func startedView(width: Int = 100, colour: Bool = false) -> (ManualClock, Captured, ProgressView)
  {
    let clock = ManualClock(start: Self.start)
    let captured = Captured()
    let view = ProgressView(
      plan: plan(Self.shapes), style: .terminal, maxParallel: 4, clock: clock, width: width,
      colour: colour, write: { captured.append($0) })
    view.handle(.runStarted(run: "r1", at: Self.start))
    view.handle(.waveStarted(wave: 0, at: Self.start))
    view.start()
    return (clock, captured, view)
  }

  /// The last frame written, escape sequences and all.
  func lastFrame(_ captured: Captured) -> String {
    String(captured.all.split(separator: "\r", omittingEmptySubsequences: false).last ?? "")
  }

  @Test func theClockTicksEverySecondAndTheBakeCountsDown() throws {
    let (clock, captured, view) = startedView()
    defer { view.finish() }
    view.handle(
      .clusterPhase(cluster: "k1", wave: 0, phase: .upgrading, detail: nil, at: Self.start))
    clock.advance(by: .seconds(10))
    view.handle(
      .clusterPhase(
        cluster: "k1", wave: 0, phase: .succeeded, detail: nil, at: clock.now()))
    view.handle(.waveBaking(wave: 0, until: clock.now().addingTimeInterval(90), at: clock.now()))
    clock.advance(by: .seconds(1))
    // Ticks run on the view's queue; wait for the frame of the 11th second, not for a time.
    #expect(eventually(timeout: 10) { lastFrame(captured).contains("elapsed 11s") })
    #expect(
      view.frame() == [
        "fleetwave rollout test  elapsed 11s  about 1m39s left",
        "▸ 0 canary (canary)  baking 1m29s left  1/1  succeeded 1",
        "· 1 prod  pending  0/3",
      ])
    clock.advance(by: .seconds(1))
    #expect(eventually(timeout: 10) { lastFrame(captured).contains("elapsed 12s") })
    #expect(view.frame()[1] == "▸ 0 canary (canary)  baking 1m28s left  1/1  succeeded 1")
  }

  @Test func aShorterFrameClearsTheLinesTheLongerOneLeft() throws {
    let (clock, captured, view) = startedView()
    view.handle(
      .clusterPhase(cluster: "k1", wave: 0, phase: .upgrading, detail: nil, at: Self.start))
    clock.advance(by: .seconds(1))
    #expect(eventually(timeout: 10) { lastFrame(captured).contains("now: k1") })
    view.handle(
      .clusterPhase(cluster: "k1", wave: 0, phase: .succeeded, detail: nil, at: clock.now()))
    view.handle(.wavePromoted(wave: 0, at: clock.now()))
    view.finish()
    // Four lines up to the top of the frame, three lines, then everything below cleared: the
    // line that listed k1 in flight does not survive.
    #expect(
      lastFrame(captured) == """
        \u{1B}[4Afleetwave rollout test  elapsed 1s  about 1s left\u{1B}[K
        ✓ 0 canary (canary)  promoted  1/1  succeeded 1\u{1B}[K
        · 1 prod  pending  0/3\u{1B}[K
        \u{1B}[J
        """)
  }

  @Test func aLongGateNameIsElidedAndItsValueIsKeptWhole() throws {
    let (clock, _, view) = startedView(width: 60)
    let gate =
      "prometheus sum(rate(app_request_errors_total{cluster=\"k1\"}[1m])) "
      + "/ sum(rate(app_requests_total{cluster=\"k1\"}[1m]))"
    let result = GateResult(
      gate: gate, passed: false,
      measurements: [
        Measurement(
          gate: gate, at: Self.start, value: 0.27900000000000003, outcome: .failed,
          detail: "0.27900000000000003 > 0.05")
      ],
      summary: "failed (1) > failureLimit (0); last: 0.27900000000000003 > 0.05")
    view.handle(
      .clusterPhase(cluster: "k1", wave: 0, phase: .verifying, detail: nil, at: Self.start))
    view.handle(.gateResult(cluster: "k1", wave: 0, result))
    view.handle(
      .clusterPhase(
        cluster: "k1", wave: 0, phase: .failed,
        detail: "health gate '\(gate)' failed: \(result.summary)", at: clock.now()))
    view.finish()
    #expect(
      view.frame() == [
        "fleetwave rollout test  elapsed 0s  about 1m30s left",
        "▸ 0 canary (canary)  running  1/1  failed 1  gates 0/1 passed, last 0.279 > 0.05",
        "· 1 prod  pending  0/3",
        "k1 failed: gate prometheus…1\"}[1m])): failed (1) > failureLimit (0); "
          + "last: 0.279 > 0.05",
      ])
    // At 60 columns the long lines wrap at spaces, never beside a comparison; nothing is cut.
    #expect(
      view.terminalLines() == [
        "fleetwave rollout test  elapsed 0s  about 1m30s left",
        "▸ 0 canary (canary)  running  1/1  failed 1  gates 0/1",
        "  passed, last 0.279 > 0.05",
        "· 1 prod  pending  0/3",
        "k1 failed: gate prometheus…1\"}[1m])): failed",
        "  (1) > failureLimit (0); last: 0.279 > 0.05",
      ])
  }

  @Test func aComparisonIsNeverSplitAcrossLines() {
    #expect(
      TerminalText.wrap("wave prod gate error ratio: last 0.279 > 0.05 in 3", width: 40) == [
        "wave prod gate error ratio: last",
        "  0.279 > 0.05 in 3",
      ])
    #expect(
      TerminalText.elide("prod-eu-west-1-a-very-long-cluster-name", to: 15)
        == "prod-eu…er-name")
  }

  @Test func coloursFollowTheStateAndOnlyWhenAsked() throws {
    let (_, captured, view) = startedView(colour: true)
    view.finish()
    #expect(
      lastFrame(captured) == """
        \u{1B}[3Afleetwave rollout test  elapsed 0s\u{1B}[K
        \u{1B}[36m▸ 0 canary (canary)  running  0/1\u{1B}[0m\u{1B}[K
        \u{1B}[2m· 1 prod  pending  0/3\u{1B}[0m\u{1B}[K
        \u{1B}[J
        """)
    let pipe = Pipe()
    let fd = pipe.fileHandleForWriting.fileDescriptor
    #expect(!ProgressView.colours(for: fd, environment: [:]))
    #expect(ProgressView.style(for: fd) == .lines)
  }

  @Test func afterAnInterruptTheFinalFrameSaysHowToResume() throws {
    let (clock, captured, view) = startedView()
    view.handle(.interruptRequested(forced: false, at: clock.now()))
    view.handle(.waveWaiting(wave: 0, phase: .interrupted, until: nil, at: clock.now()))
    view.handle(.runFinished(outcome: .interrupted, at: clock.now()))
    view.finish()
    #expect(
      lastFrame(captured).hasSuffix(
        """
        interrupted: finishing in-flight clusters; interrupt again to cancel them\u{1B}[K
        to continue: fleetwave resume r1\u{1B}[K
        \u{1B}[J
        """))
  }

  @Test func ciLinesCarryEveryGateResultAndTheResumeCommand() throws {
    let captured = Captured()
    let clock = ManualClock(start: Self.start)
    let view = ProgressView(
      plan: plan(Self.shapes), style: .lines, maxParallel: 4, clock: clock,
      write: { captured.append($0) })
    let gate = "prometheus error_ratio{cluster=\"k1\"}"
    view.handle(.runStarted(run: "r1", at: Self.start))
    view.handle(
      .gateResult(
        cluster: "k1", wave: 0,
        GateResult(
          gate: gate, passed: true,
          measurements: [
            Measurement(
              gate: gate, at: Self.start.addingTimeInterval(5), value: 0.0030000000000000001,
              outcome: .passed, detail: "0.0030000000000000001 not > 0.05")
          ],
          summary: "1 of 1 measurements passed, 0 failed (failureLimit 0); last: 0.003 not > 0.05")
      ))
    view.handle(
      .gateResult(
        cluster: nil, wave: 1,
        GateResult(gate: "command ./smoke.sh", passed: false, summary: "exit status 3")))
    view.handle(.interruptRequested(forced: false, at: Self.start.addingTimeInterval(9)))
    view.handle(.runFinished(outcome: .interrupted, at: Self.start.addingTimeInterval(10)))
    #expect(
      captured.all == """
        2027-01-15T08:00:00.000Z run r1 started: 4 clusters in 2 waves
        2027-01-15T08:00:05.000Z wave 0 canary k1 gate prometheus error_ratio{cluster="k1"} \
        passed: 1 of 1 measurements passed, 0 failed (failureLimit 0); last: 0.003 not > 0.05
        2027-01-15T08:00:00.000Z wave 1 prod wave gate gate command ./smoke.sh FAILED: exit status 3
        2027-01-15T08:00:09.000Z interrupt: no new clusters start; in-flight clusters finish
        2027-01-15T08:00:10.000Z run finished: interrupted
        to continue: fleetwave resume r1

        """)
  }
}
