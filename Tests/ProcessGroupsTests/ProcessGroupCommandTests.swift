// Children run without a thread each, and a cancellation kills a child's whole group at once.
import FleetCore
import FleetwaveTestSupport
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
    let watch = try #require(ProcessExitWatch(grandchild))
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

extension ProcessGroupCommandTests {
  /// Arguments fleetwave builds (a chart reference, a values path) are data: with no shell
  /// between, nothing in them is expanded or run.
  @Test func aProgramGetsItsArgumentsVerbatimAndItsStdinFromAFile() throws {
    let directory = try scratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let hostile = "x; touch \(directory)/PWNED; $(touch \(directory)/PWNED2) `id` *"
    let printed = ProcessGroupCommand(
      program: .executable("/usr/bin/printf", arguments: ["[%s][%s]", "a  b", hostile]),
      environment: [:], logPath: directory + "/err", stdoutPath: directory + "/out",
      timeout: .seconds(60)
    ).run(clock: ManualClock(), cancellation: Cancellation())
    #expect(printed == .exited(0))
    #expect(try String(contentsOfFile: directory + "/out", encoding: .utf8) == "[a  b][\(hostile)]")
    #expect(!FileManager.default.fileExists(atPath: directory + "/PWNED"))
    #expect(!FileManager.default.fileExists(atPath: directory + "/PWNED2"))

    try "secret from a file\n".write(
      toFile: directory + "/in", atomically: true, encoding: .utf8)
    let copied = ProcessGroupCommand(
      program: .executable("/bin/cat", arguments: []), environment: [:],
      logPath: directory + "/err", stdoutPath: directory + "/copy", stdinPath: directory + "/in",
      timeout: .seconds(60)
    ).run(clock: ManualClock(), cancellation: Cancellation())
    #expect(copied == .exited(0))
    #expect(
      try String(contentsOfFile: directory + "/copy", encoding: .utf8) == "secret from a file\n")

    let missing = ProcessGroupCommand(
      program: .executable(directory + "/no-such-helm", arguments: []), environment: [:],
      logPath: directory + "/err", timeout: .seconds(60)
    ).run(clock: ManualClock(), cancellation: Cancellation())
    #expect(
      missing == .spawnFailed("cannot start \(directory)/no-such-helm: No such file or directory"))
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

extension ProcessGroupCommandTests {
  /// A captured program gets its input, directory and environment, keeps stdout and stderr
  /// apart, and inherits none of this process's descriptors beyond stdio: a pipe opened without
  /// O_CLOEXEC, as Foundation's are, stays out of it.
  @Test func aCapturedProgramInheritsOnlyStdioAndRunsWhereItIsTold() throws {
    var ends: [Int32] = [0, 0]
    #expect(pipe(&ends) == 0)
    defer { for end in ends { close(end) } }
    let script = """
      cat; pwd; echo "$GREETING"; echo oops >&2
      ls /proc/self/fd | sort -n | tr '\\n' ' '
      exit 3
      """
    let captured = ProcessGroupCommand.capture(
      "/bin/sh", ["-c", script], environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"],
      stdin: Data("input\n".utf8), workingDirectory: "/usr/share", timeout: .seconds(60))
    #expect(captured.outcome == .exited(3))
    #expect(captured.exitStatus == 3)
    // `ls` lists its own descriptors: stdio and the directory it reads.
    #expect(
      String(decoding: captured.stdout, as: UTF8.self) == "input\n/usr/share\nhello\n0 1 2 3 ")
    #expect(captured.errorText == "oops")

    let nowhere = ProcessGroupCommand.capture(
      "/bin/pwd", [], environment: [:], workingDirectory: "/no/such/directory",
      timeout: .seconds(60))
    #expect(nowhere.outcome == .spawnFailed("cannot start /bin/pwd: No such file or directory"))
  }
}
