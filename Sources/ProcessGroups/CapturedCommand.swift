// A short program run to completion with its output kept: a credential plugin, `helm show`,
// openssl. Built on ProcessGroupCommand, so it has the same bounds (a timeout, a kill of the
// whole group) and spawns with posix_spawn, inheriting no descriptor but stdin, stdout and
// stderr. (Foundation's Process lists /proc/self/fd before each spawn and, with a few thousand
// descriptors open, reads past the end of its directory buffer and crashes.)
import FleetCore
import Foundation

/// What a captured command printed, and how it ended.
public struct CapturedOutput: Sendable {
  public var outcome: CommandOutcome
  public var stdout: Data
  public var stderr: Data

  /// The exit status when the command exited, nil when it was signalled, timed out or never
  /// started.
  public var exitStatus: Int32? {
    if case .exited(let status) = outcome { return status }
    return nil
  }

  /// stderr as trimmed text.
  public var errorText: String {
    String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

extension ProcessGroupCommand {
  /// Runs `executable` with `arguments` to completion, blocking the calling thread, and returns
  /// what it wrote. stdout and stderr go to files in a private scratch directory (mode 0700,
  /// removed before this returns), so a chatty program can never block on a full pipe.
  public static func capture(
    _ executable: String, _ arguments: [String], environment: [String: String],
    stdin: Data? = nil, workingDirectory: String? = nil, timeout: Duration,
    killGrace: TimeInterval = 5, cancellation: Cancellation = Cancellation()
  ) -> CapturedOutput {
    let capture: Capture
    switch Capture.prepare(
      executable, arguments, environment: environment, stdin: stdin,
      workingDirectory: workingDirectory, timeout: timeout, killGrace: killGrace)
    {
    case .success(let prepared): capture = prepared
    case .failure(let failed): return failed.output
    }
    return capture.finish(capture.command.run(clock: SystemClock(), cancellation: cancellation))
  }

  /// `capture`, suspended rather than blocking until the program is gone, its timeout on
  /// `clock`; `cancellation` stops it.
  public static func capture(
    _ executable: String, _ arguments: [String], environment: [String: String],
    stdin: Data? = nil, workingDirectory: String? = nil, timeout: Duration,
    killGrace: TimeInterval = 5, clock: any RolloutClock, cancellation: Cancellation
  ) async -> CapturedOutput {
    let capture: Capture
    switch Capture.prepare(
      executable, arguments, environment: environment, stdin: stdin,
      workingDirectory: workingDirectory, timeout: timeout, killGrace: killGrace)
    {
    case .success(let prepared): capture = prepared
    case .failure(let failed): return failed.output
    }
    return capture.finish(await capture.command.outcome(clock: clock, cancellation: cancellation))
  }
}

/// One captured run's private directory and command.
private struct Capture {
  struct Failed: Error {
    var output: CapturedOutput
    init(_ message: String) {
      output = CapturedOutput(outcome: .spawnFailed(message), stdout: Data(), stderr: Data())
    }
  }

  let directory: String
  let command: ProcessGroupCommand

  static func prepare(
    _ executable: String, _ arguments: [String], environment: [String: String], stdin: Data?,
    workingDirectory: String?, timeout: Duration, killGrace: TimeInterval
  ) -> Result<Capture, Failed> {
    let directory: String
    do {
      directory = try RunScratch.current.get().makeDirectory("command")
    } catch {
      return .failure(Failed("cannot make a directory for the output of \(executable): \(error)"))
    }
    var stdinPath: String?
    if let stdin {
      stdinPath = "\(directory)/stdin"
      guard FileManager.default.createFile(atPath: "\(directory)/stdin", contents: stdin) else {
        try? FileManager.default.removeItem(atPath: directory)
        return .failure(Failed("cannot write the input of \(executable)"))
      }
    }
    let command = ProcessGroupCommand(
      program: .executable(executable, arguments: arguments), environment: environment,
      logPath: "\(directory)/stderr", stdoutPath: "\(directory)/stdout", stdinPath: stdinPath,
      workingDirectory: workingDirectory, timeout: timeout, killGrace: killGrace)
    return .success(Capture(directory: directory, command: command))
  }

  /// What the program wrote, its directory removed.
  func finish(_ outcome: CommandOutcome) -> CapturedOutput {
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return CapturedOutput(
      outcome: outcome,
      stdout: FileManager.default.contents(atPath: "\(directory)/stdout") ?? Data(),
      stderr: FileManager.default.contents(atPath: "\(directory)/stderr") ?? Data())
  }
}
