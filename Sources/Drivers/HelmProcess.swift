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
    let name = "helm-\(UUID().uuidString)"
    let outPath = scratch.path + "/\(name).out"
    let errPath = scratch.path + "/\(name).err"
    let outcome = ProcessGroupCommand(
      program: .executable(helm, arguments: arguments), environment: environment,
      logPath: errPath, stdoutPath: outPath, stdinPath: stdin, timeout: timeout
    ).run(clock: SystemClock(), cancellation: Cancellation())
    defer {
      try? FileManager.default.removeItem(atPath: outPath)
      try? FileManager.default.removeItem(atPath: errPath)
    }
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    let subcommand = arguments.first.map { "helm \($0)" } ?? "helm"
    switch outcome {
    case .exited(let status):
      return HelmOutput(status: status, stdout: read(outPath), stderr: read(errPath))
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
