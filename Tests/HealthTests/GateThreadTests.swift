// Gates in flight hold no thread each: 500 command gates wait on their children, and 500
// HTTP probes on their interval timers, while the process's thread count stays flat.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Health
import Testing

@Suite(.serialized) struct GateThreadTests {
  /// The process's thread count, as the kernel reports it in /proc/self/status.
  private func threads() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
    return line.flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) }
      ?? -1
  }

  /// Starts `count` runs of `gate`, waits until `parked` says they are all waiting, counts the
  /// threads, then cancels them and returns (threads before, threads while parked, results).
  private func inFlight(
    _ gate: any HealthGate, count: Int, clock: any RolloutClock, parked: () -> Bool
  ) -> (before: Int, during: Int, results: [GateResult]) {
    let before = threads()
    let cancellation = Cancellation()
    let finished = DispatchGroup()
    let results = Locked<[GateResult]>([])
    for index in 0..<count {
      finished.enter()
      gate.start(
        clusters: [Cluster(name: "c\(index)")], clock: clock, cancellation: cancellation
      ) { result in
        results.update { $0.append(result) }
        finished.leave()
      }
    }
    #expect(eventually(timeout: 60) { parked() })
    let during = threads()
    cancellation.cancel()
    #expect(finished.wait(timeout: .now() + 60) == .success)
    return (before, during, results.value)
  }

  @Test func fiveHundredCommandGatesWaitWithoutAThreadEach() throws {
    let directory = try TemporaryDirectory("fleetwave-gate-threads")
    defer { directory.remove() }
    // Each child leaves a file once it runs, then waits for the cancellation.
    let gate = HealthGates.make(
      spec: .command(
        CommandCheckSpec(
          command: "touch \(directory.path)/$FLEETWAVE_CLUSTER; exec sleep 300",
          timeout: .seconds(600))),
      transport: transport)
    let counted = inFlight(gate, count: 500, clock: ManualClock(start: start)) {
      ((try? FileManager.default.contentsOfDirectory(atPath: directory.path).count) ?? 0) == 500
    }
    // Other suites may run beside this one; 500 parked threads could not hide in the margin.
    #expect(
      counted.during - counted.before <= 64,
      "threads went from \(counted.before) to \(counted.during)")
    #expect(counted.results.count == 500)
    #expect(Set(counted.results.map(\.summary)) == ["cancelled"])
  }

  @Test func fiveHundredProbesBetweenIntervalsHoldNoThreadEach() throws {
    let server = try scriptedServer([.respond(status: 503)])
    defer { server.stop() }
    let gate = HealthGates.make(
      spec: .http(
        HTTPProbeSpec(
          url: server.baseURL + "/{{ .name }}", interval: .seconds(5), timeout: .seconds(600))),
      transport: transport)
    let clock = CountingClock(ManualClock(start: start))
    // Every probe has been answered and each gate sleeps on a clock timer until the next one.
    let counted = inFlight(gate, count: 500, clock: clock) {
      server.requests.count == 500 && clock.scheduled == 500
    }
    #expect(
      counted.during - counted.before <= 64,
      "threads went from \(counted.before) to \(counted.during)")
    #expect(counted.results.count == 500)
    #expect(Set(counted.results.map(\.summary)) == ["cancelled"])
  }
}

/// A ManualClock that counts the timers set on it: a gate sleeping between probes sets one.
private final class CountingClock: RolloutClock, @unchecked Sendable {
  let base: ManualClock
  private let count = Locked(0)

  init(_ base: ManualClock) { self.base = base }

  var scheduled: Int { count.value }

  func now() -> Date { base.now() }

  func wait(until deadline: Date, cancellation: Cancellation?) -> Bool {
    base.wait(until: deadline, cancellation: cancellation)
  }

  func schedule(at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void)
    -> Cancellation
  {
    count.update { $0 += 1 }
    return base.schedule(at: deadline, on: queue, work)
  }
}
