// Children run without a thread each, and a cancellation kills a child's whole group at once.
import FleetCore
import Foundation
import ProcessGroups
import Testing

@Suite(.serialized) struct ProcessGroupCommandTests {
  private func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
  }

  private func scratchDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("fleetwave-pg-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func fiveHundredChildrenInFlightHoldNoThreadEach() throws {
    let directory = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Warm the reaper and Dispatch's threads up so the baseline includes them.
    let warm = ProcessGroupCommand(
      command: "true", environment: [:], logPath: directory + "/warm.log", timeout: .seconds(60)
    ).run(clock: ManualClock(), cancellation: Cancellation())
    #expect(warm == .exited(0))
    let baseline = threadCount()

    let cancellation = Cancellation()
    let finished = DispatchGroup()
    let outcomes = Outcomes()
    // The children wait for the cancellation rather than a time, so all 500 are in flight
    // when the threads are counted.
    for index in 0..<500 {
      finished.enter()
      ProcessGroupCommand(
        command: "exec sleep 300", environment: [:], logPath: directory + "/\(index).log",
        timeout: .seconds(600)
      ).start(clock: ManualClock(), cancellation: cancellation) { outcome in
        outcomes.append(outcome)
        finished.leave()
      }
    }
    let inFlight = threadCount()
    #expect(outcomes.all.isEmpty)
    #expect(inFlight - baseline <= 16, "threads went from \(baseline) to \(inFlight)")

    cancellation.cancel()
    #expect(finished.wait(timeout: .now() + 60) == .success)
    #expect(outcomes.all == Array(repeating: .cancelled, count: 500))
  }

  @Test func aCancellationKillsTheWholeGroupAtOnce() throws {
    let directory = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let fifo = directory + "/started"
    #expect(mkfifo(fifo, 0o600) == 0)
    let cancellation = Cancellation()
    let finished = DispatchSemaphore(value: 0)
    let outcomes = Outcomes()
    // The leader starts a grandchild in its group, reports its pid through the FIFO, and waits.
    // A kill grace far longer than the test's wait shows the group went on the first signal.
    ProcessGroupCommand(
      command: "sleep 300 & echo $! > \(fifo); wait", environment: [:],
      logPath: directory + "/log", timeout: .seconds(600), killGrace: 600
    ).start(clock: ManualClock(), cancellation: cancellation) { outcome in
      outcomes.append(outcome)
      finished.signal()
    }
    // Opening the FIFO blocks until the leader writes: the start barrier.
    let reported = readAll(fifo)
    let grandchild = try #require(pid_t(reported.trimmingCharacters(in: .whitespacesAndNewlines)))
    let watch = try #require(PidDescriptor(grandchild))
    defer { close(watch.descriptor) }

    cancellation.cancel()
    #expect(finished.wait(timeout: .now() + 10) == .success)
    #expect(outcomes.all == [.cancelled])
    #expect(watch.exited(withinMilliseconds: 10_000))
  }

  @Test func aChildExitStatusAndTimeoutAreReported() throws {
    let directory = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let exited = ProcessGroupCommand(
      command: "echo out; exit 3", environment: [:], logPath: directory + "/log",
      timeout: .seconds(60)
    ).run(clock: ManualClock(), cancellation: Cancellation())
    #expect(exited == .exited(3))
    #expect(try String(contentsOfFile: directory + "/log", encoding: .utf8) == "out\n")

    let clock = ManualClock()
    let timedOut = DispatchSemaphore(value: 0)
    let outcomes = Outcomes()
    ProcessGroupCommand(
      command: "exec sleep 300", environment: [:], logPath: directory + "/log",
      timeout: .seconds(5), killGrace: 600
    ).start(clock: clock, cancellation: Cancellation()) { outcome in
      outcomes.append(outcome)
      timedOut.signal()
    }
    clock.advance(by: .seconds(5))
    #expect(timedOut.wait(timeout: .now() + 10) == .success)
    #expect(outcomes.all == [.timedOut])
  }
}

/// Reads a FIFO to its end; opening it waits for the writer.
private func readAll(_ path: String) -> String {
  let descriptor = open(path, O_RDONLY)
  guard descriptor >= 0 else { return "" }
  defer { close(descriptor) }
  var bytes: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 64)
  while true {
    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    if count <= 0 { break }
    bytes += buffer[0..<count]
  }
  return String(decoding: bytes, as: UTF8.self)
}

private final class Outcomes: @unchecked Sendable {
  private let lock = NSLock()
  private var outcomes: [CommandOutcome] = []

  func append(_ outcome: CommandOutcome) {
    lock.lock()
    defer { lock.unlock() }
    outcomes.append(outcome)
  }

  var all: [CommandOutcome] {
    lock.lock()
    defer { lock.unlock() }
    return outcomes
  }
}

/// A pidfd on a process the test did not spawn, to see it exit without polling /proc.
private struct PidDescriptor {
  let descriptor: Int32

  init?(_ pid: pid_t) {
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else {
      return nil
    }
    descriptor = unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
    if descriptor < 0 { return nil }
  }

  func exited(withinMilliseconds limit: Int32) -> Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, limit) == 1
  }
}
