// Runs helm for fleetwave's own needs (template, pull, login, dependency build): its arguments
// passed as they are (no shell), its output captured in files, bounded in time, and killed with every
// process it started when the time is up, so a helm that hangs on a registry or a chart that
// never finishes rendering cannot hold a render slot or outlive the run.
import FleetCore
import Foundation
import ProcessGroups

/// What one helm run printed, and how it ended.
public struct HelmOutput: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

public struct HelmProcess: Sendable {
  let helm: String
  let environment: [String: String]
  let timeout: Duration

  public init(helm: String, environment: [String: String], timeout: Duration) {
    self.helm = helm
    self.environment = environment
    self.timeout = timeout
  }

  /// Runs `helm ARGUMENTS` with `input` on its stdin. A run that does not finish in `timeout`
  /// is killed with its process group and reported as `helm SUBCOMMAND did not finish within
  /// T`.
  public func run(_ arguments: [String], input: String? = nil) throws(DriverError) -> HelmOutput {
    try finished(
      ProcessGroupCommand.capture(
        helm, arguments, environment: environment, stdin: input.map { Data($0.utf8) },
        timeout: timeout),
      arguments)
  }

  /// `run`, suspended rather than blocking while helm works (`helm test` as a health gate, on
  /// the executor's clock): holds no thread until helm is gone, and stops helm on
  /// `cancellation`.
  func outcome(_ arguments: [String], clock: any RolloutClock, cancellation: Cancellation)
    async throws(DriverError) -> HelmOutput
  {
    try finished(
      await ProcessGroupCommand.capture(
        helm, arguments, environment: environment, timeout: timeout, clock: clock,
        cancellation: cancellation),
      arguments)
  }

  /// What helm printed, or an abnormal end as an error.
  private func finished(_ captured: CapturedOutput, _ arguments: [String]) throws(DriverError)
    -> HelmOutput
  {
    let subcommand = arguments.first.map { "helm \($0)" } ?? "helm"
    switch captured.outcome {
    case .exited(let status):
      return HelmOutput(
        status: status, stdout: String(decoding: captured.stdout, as: UTF8.self),
        stderr: String(decoding: captured.stderr, as: UTF8.self))
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
