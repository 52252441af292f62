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

  public init(gate: String, at: Date, value: Double? = nil, outcome: Outcome, detail: String) {
    self.gate = gate
    self.at = at
    self.value = value
    self.outcome = outcome
    self.detail = detail
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
/// `verify` blocks its (worker) thread; it returns early, failed, when cancelled.
public protocol HealthGate: Sendable {
  var name: String { get }
  func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation) -> GateResult
}
