// The `command` gate: a shell command whose exit status decides, killed with its children on
// timeout.
import FleetCore
import Foundation
import ProcessGroups

/// Runs `/bin/sh -c COMMAND` with the cluster in its environment: `FLEETWAVE_CLUSTER`,
/// `FLEETWAVE_CONTEXT`, `FLEETWAVE_SERVER`, `FLEETWAVE_LABEL_<KEY>` (for a single cluster) and
/// `FLEETWAVE_CLUSTERS` (space-separated names, always), and each fleet-wide variable as
/// `FLEETWAVE_RELEASE`, `FLEETWAVE_NAMESPACE`, `FLEETWAVE_VERSION`, `FLEETWAVE_RUN`, and
/// `KUBECONFIG` when the run has one (so `kubectl --context "$FLEETWAVE_CONTEXT"` reaches the
/// cluster the run upgraded). Values reach the command only this way, unless the command marks
/// a placeholder `{{ .field | shellquote }}` (see ClusterTemplate). Exit 0 passes. The command
/// runs in its own process group; at the timeout, on cancellation, and after it exits, the
/// whole group is killed, so nothing it started outlives the check.
public struct CommandGate: HealthGate {
  public let spec: CommandCheckSpec

  let variables: [String: String]
  /// Added to the command's environment as is (`KUBECONFIG`).
  let environment: [String: String]

  public init(
    spec: CommandCheckSpec, variables: [String: String] = [:], environment: [String: String] = [:]
  ) {
    self.spec = spec
    self.variables = variables
    self.environment = environment
  }

  public var name: String { HealthCheckSpec.command(spec).name }

  /// The command's own timeout ends each run (its group killed); the engine's limit is a
  /// backstop one kill grace later, so the gate's own verdict says what happened.
  public func timeLimit(for clusters: [Cluster]) -> Duration? {
    (spec.timeout + .seconds(Self.killGraceSeconds + 1))
      * runCount(templates: [spec.command], clusters: clusters)
  }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    await verifyEach(
      gate: name, templates: [spec.command], clusters: clusters, variables: variables,
      cancellation: cancellation
    ) {
      scope in await run(scope, clock: clock, cancellation: cancellation)
    }
  }

  func environment(for scope: GateScope) -> [String: String] {
    var variables = environment
    variables["FLEETWAVE_CLUSTERS"] = scope.clusters.map(\.name).joined(separator: " ")
    for (name, value) in scope.variables {
      variables["FLEETWAVE_" + Escaping.variableSuffix(name)] = value
    }
    if scope.clusters.count == 1 {
      let cluster = scope.clusters[0]
      variables["FLEETWAVE_CLUSTER"] = cluster.name
      if let context = cluster.context { variables["FLEETWAVE_CONTEXT"] = context }
      if let server = cluster.server { variables["FLEETWAVE_SERVER"] = server }
      for (key, value) in cluster.labels {
        variables["FLEETWAVE_LABEL_" + Escaping.variableSuffix(key)] = value
      }
    }
    return variables
  }

  private func run(_ scope: GateScope, clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    let command: String
    do {
      command = try scope.render(spec.command, sink: .shell)
    } catch {
      return GateResult(gate: name, passed: false, summary: error.message)
    }
    let at = clock.now()
    let environment = ProcessInfo.processInfo.environment.merging(environment(for: scope)) {
      $1
    }
    // The output goes to a private file, read back for the last line, then removed.
    let scratch = (try? RunScratch.current.get().path) ?? NSTemporaryDirectory()
    let log = scratch + "/gate-\(UUID().uuidString).log"
    defer { try? FileManager.default.removeItem(atPath: log) }
    let outcome = await ProcessGroupCommand(
      command: command, environment: environment, logPath: log, timeout: spec.timeout,
      killGrace: TimeInterval(Self.killGraceSeconds)
    ).outcome(clock: clock, cancellation: cancellation)
    func result(_ outcome: Measurement.Outcome, value: Double?, _ detail: String) -> GateResult {
      let measurement = Measurement(
        gate: name, at: at, value: value, outcome: outcome, detail: detail)
      return GateResult(
        gate: name, passed: outcome == .passed, measurements: [measurement], summary: detail)
    }
    switch outcome {
    case .exited(let code):
      let suffix = Self.lastLine(of: log).map { ": \($0)" } ?? ""
      return result(code == 0 ? .passed : .failed, value: Double(code), "exit \(code)\(suffix)")
    case .signaled(let signal):
      return result(.failed, value: nil, "killed by signal \(signal)")
    case .timedOut:
      return result(
        .error, value: nil,
        "timed out after \(DurationText.format(spec.timeout)); process group killed")
    case .cancelled:
      return result(.error, value: nil, "cancelled")
    case .spawnFailed(let message):
      return result(.error, value: nil, message)
    }
  }

  /// Between SIGTERM and SIGKILL for the command's group.
  static let killGraceSeconds: Int64 = 5

  /// The last non-empty line a command printed, from the tail of its output file.
  static func lastLine(of path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()) ?? 0
    try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
    let tail = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    return tail.split(whereSeparator: \.isNewline).last.map(String.init)
  }
}
