// What a health gate reports: every measurement it took, and its verdict.
import Foundation

/// One observation by a gate: a probe's status and latency, or a query's value.
public struct Measurement: Sendable, Equatable {
  public enum Outcome: String, Sendable {
    case passed, failed, inconclusive, error
  }

  public var gate: String
  public var at: Date
  public var value: Double?
  public var outcome: Outcome
  /// e.g. "HTTP 200 in 12 ms", "rate(errors)=0.034 > 0.01", "connection refused".
  public var detail: String
  /// The threshold the value was judged against, when the gate has one.
  public var limit: Double?
  /// The query as sent, after template substitution (a PromQL expression), so a report shows
  /// what was measured for this cluster rather than the template.
  public var query: String?

  public init(
    gate: String, at: Date, value: Double? = nil, outcome: Outcome, detail: String,
    limit: Double? = nil, query: String? = nil
  ) {
    self.gate = gate
    self.at = at
    self.value = value
    self.outcome = outcome
    self.detail = detail
    self.limit = limit
    self.query = query
  }
}

public struct GateResult: Sendable, Equatable {
  public var gate: String
  public var passed: Bool
  public var measurements: [Measurement]
  /// Why it failed, in one line, or a summary of success.
  public var summary: String

  public init(gate: String, passed: Bool, measurements: [Measurement] = [], summary: String) {
    self.gate = gate
    self.passed = passed
    self.measurements = measurements
    self.summary = summary
  }
}

/// A health gate the executor runs after a cluster's upgrade (or over a wave after its bake).
/// `verify` suspends while it waits (probes on the HTTP loop, commands until the child reaper
/// sees them exit, intervals on the clock's timers) and holds no thread meanwhile; it returns
/// early, failed, when cancelled. A synchronous `verify` that does not wait also conforms.
public protocol HealthGate: Sendable {
  var name: String { get }
  /// How long the engine lets one `verify` over `clusters` run: past it the engine cancels
  /// the gate and fails it with `timed out after 30s`. nil when the gate has no limit of its
  /// own (a cluster's gates are still bounded by `clusterTimeout`).
  func timeLimit(for clusters: [Cluster]) -> Duration?
  func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation) async
    -> GateResult
}

extension HealthGate {
  public func timeLimit(for clusters: [Cluster]) -> Duration? { nil }
}
