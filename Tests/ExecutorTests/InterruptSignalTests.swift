// Real signals, delivered to this process through InterruptSignals' dispatch sources, drive the
// executor's two-step interruption. SIGUSR2 stands in for SIGINT so that no signal can stop the
// test runner itself.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

@Suite(.serialized) struct InterruptSignalTests {
  @Test func twoSignalsStopNewWorkThenCancelWhatIsInFlight() throws {
    let run = try SimRun(
      plan([WaveShape(name: "all", clusters: names("c", 5), maxParallel: 2)]),
      clusters: clusters(names("c", 5)))
    let counted = DispatchSemaphore(value: 0)
    let signals = InterruptSignals(signals: [SIGUSR2]) { _, _ in
      run.executor.interrupt()
      counted.signal()
    }
    defer { signals.cancel() }
    run.executor.start()
    run.executor.settle()

    kill(getpid(), SIGUSR2)
    #expect(counted.wait(timeout: .now() + 30) == .success)
    run.executor.settle()
    #expect(!run.executor.isFinished)
    #expect(run.log.events.contains(.interruptRequested(forced: false, at: run.clock.now())))

    kill(getpid(), SIGUSR2)
    #expect(counted.wait(timeout: .now() + 30) == .success)
    run.executor.settle()
    let summary = run.executor.summary()
    #expect(summary.outcome == .interrupted)
    #expect(summary.midUpgrade == ["c1", "c2"])
    #expect(summary.names(in: .pending) == ["c3", "c4", "c5"])
  }
}
