// Runs helm for fleetwave's own needs (template, pull, login, dependency build): its arguments
// passed as they are (no shell), its output in files, bounded in time, and killed with every
// process it started when the time is up, so a helm that hangs on a registry or a chart that
// never finishes rendering cannot hold a render slot or outlive the run.
import FleetCore
import Foundation
import ProcessGroups

/// What one helm run printed, and how it ended.
struct HelmOutput {
  var status: Int32
  var stdout: String
  var stderr: String
}

struct HelmProcess {
  let helm: String
  let environment: [String: String]
  let timeout: Duration

  /// Runs `helm ARGUMENTS` with stdout and stderr in files of `scratch` and `stdin` (a file)
  /// as its input. A run that does not finish in `timeout` is killed with its process group
  /// and reported as `helm SUBCOMMAND did not finish within T`.
  func run(_ arguments: [String], in scratch: PrivateDirectory, stdin: String? = nil)
    throws(DriverError) -> HelmOutput
  {
    let files = OutputFiles(scratch)
    let outcome = command(arguments, files, stdin: stdin)
      .run(clock: SystemClock(), cancellation: Cancellation())
    return try finished(outcome, arguments, files)
  }

  /// `run`, suspended rather than blocking while helm works (`helm test` as a health gate, on
  /// the executor's clock): holds no thread until helm is gone, and stops helm on
  /// `cancellation`.
  func outcome(
    _ arguments: [String], in scratch: PrivateDirectory, clock: any RolloutClock,
    cancellation: Cancellation
  ) async throws(DriverError) -> HelmOutput {
    let files = OutputFiles(scratch)
    let outcome = await command(arguments, files, stdin: nil)
      .outcome(clock: clock, cancellation: cancellation)
    return try finished(outcome, arguments, files)
  }

  /// Where one helm run's stdout and stderr go.
  private struct OutputFiles {
    let out: String
    let err: String

    init(_ scratch: PrivateDirectory) {
      let name = "helm-\(UUID().uuidString)"
      out = scratch.path + "/\(name).out"
      err = scratch.path + "/\(name).err"
    }
  }

  private func command(_ arguments: [String], _ files: OutputFiles, stdin: String?)
    -> ProcessGroupCommand
  {
    ProcessGroupCommand(
      program: .executable(helm, arguments: arguments), environment: environment,
      logPath: files.err, stdoutPath: files.out, stdinPath: stdin, timeout: timeout)
  }

  /// Reads what helm printed, removes its files, and turns an abnormal end into an error.
  private func finished(
    _ outcome: CommandOutcome, _ arguments: [String], _ files: OutputFiles
  ) throws(DriverError) -> HelmOutput {
    defer {
      try? FileManager.default.removeItem(atPath: files.out)
      try? FileManager.default.removeItem(atPath: files.err)
    }
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    let subcommand = arguments.first.map { "helm \($0)" } ?? "helm"
    switch outcome {
    case .exited(let status):
      return HelmOutput(status: status, stdout: read(files.out), stderr: read(files.err))
    case .signaled(let signal):
      throw DriverError(.setup, "\(subcommand) was killed by signal \(signal)")
    case .timedOut:
      throw DriverError(
        .setup, "\(subcommand) did not finish within \(DurationText.format(timeout)); killed")
    case .cancelled:
      throw DriverError(.cancelled, "\(subcommand) cancelled")
    case .spawnFailed(let message):
      throw DriverError(.setup, "cannot run helm: \(message)")
    }
  }
}
