// Health gates as the fleet declares them; URLs, queries and commands are per-cluster templates.
import Foundation

public enum HealthCheckSpec: Sendable, Equatable {
  case http(HTTPProbeSpec)
  case prometheus(PrometheusAnalysisSpec)
  case command(CommandCheckSpec)
}

/// Probe a URL until `successes` consecutive good answers arrive, or fail at `timeout`.
public struct HTTPProbeSpec: Sendable, Equatable {
  public var url: String
  public var expectStatus: ClosedRange<Int>
  public var bodyContains: String?
  /// A dotted JSON path (`status.ready`) and the text its value must have.
  public var jsonField: String?
  public var jsonValue: String?
  public var maxLatency: Duration?
  public var successes: Int
  public var interval: Duration
  public var timeout: Duration
  public var insecureSkipTLSVerify: Bool
  public var caFile: String?
  public var mark: SourceMark?

  public init(
    url: String, expectStatus: ClosedRange<Int> = 200...299, bodyContains: String? = nil,
    jsonField: String? = nil, jsonValue: String? = nil, maxLatency: Duration? = nil,
    successes: Int = 1, interval: Duration = .seconds(5), timeout: Duration = .seconds(120),
    insecureSkipTLSVerify: Bool = false, caFile: String? = nil, mark: SourceMark? = nil
  ) {
    self.url = url
    self.expectStatus = expectStatus
    self.bodyContains = bodyContains
    self.jsonField = jsonField
    self.jsonValue = jsonValue
    self.maxLatency = maxLatency
    self.successes = successes
    self.interval = interval
    self.timeout = timeout
    self.insecureSkipTLSVerify = insecureSkipTLSVerify
    self.caFile = caFile
    self.mark = mark
  }
}

/// A numeric condition such as `> 0.01` or `<= 5`.
public struct MetricCondition: Sendable, Equatable, CustomStringConvertible {
  public enum Comparison: String, Sendable, CaseIterable {
    case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", equal = "==", notEqual = "!="
  }

  public var comparison: Comparison
  public var threshold: Double

  public init(_ comparison: Comparison, _ threshold: Double) {
    self.comparison = comparison
    self.threshold = threshold
  }

  /// Parses `> 0.01`, `>=5`, `== 0`; nil when it is not of that form.
  public init?(parsing text: String) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let ordered: [Comparison] = [.greaterOrEqual, .lessOrEqual, .equal, .notEqual, .greater, .less]
    guard let comparison = ordered.first(where: { trimmed.hasPrefix($0.rawValue) }) else { return nil }
    let number = trimmed.dropFirst(comparison.rawValue.count).trimmingCharacters(in: .whitespaces)
    guard let threshold = Double(number), threshold.isFinite else { return nil }
    self.init(comparison, threshold)
  }

  public func holds(for value: Double) -> Bool {
    switch comparison {
    case .greater: return value > threshold
    case .greaterOrEqual: return value >= threshold
    case .less: return value < threshold
    case .lessOrEqual: return value <= threshold
    case .equal: return value == threshold
    case .notEqual: return value != threshold
    }
  }

  public var description: String { "\(comparison.rawValue) \(Value.format(threshold))" }
}

/// Prometheus analysis with the knobs of Argo Rollouts' AnalysisTemplate.
public struct PrometheusAnalysisSpec: Sendable, Equatable {
  public enum Verdict: Sendable, Equatable {
    case failIf(MetricCondition)
    case successIf(MetricCondition)
  }

  /// What a query that returns no data counts as.
  public enum Inconclusive: String, Sendable, CaseIterable {
    case pass, fail, ignore
  }

  public var url: String
  public var query: String
  public var verdict: Verdict
  public var interval: Duration
  public var count: Int
  public var failureLimit: Int
  public var consecutiveErrorLimit: Int
  public var initialDelay: Duration
  public var inconclusive: Inconclusive
  public var mark: SourceMark?

  public init(
    url: String, query: String, verdict: Verdict, interval: Duration = .seconds(30), count: Int = 1,
    failureLimit: Int = 0, consecutiveErrorLimit: Int = 4, initialDelay: Duration = .zero,
    inconclusive: Inconclusive = .ignore, mark: SourceMark? = nil
  ) {
    self.url = url
    self.query = query
    self.verdict = verdict
    self.interval = interval
    self.count = count
    self.failureLimit = failureLimit
    self.consecutiveErrorLimit = consecutiveErrorLimit
    self.initialDelay = initialDelay
    self.inconclusive = inconclusive
    self.mark = mark
  }
}

/// A command whose exit status decides health; templated like the exec driver's commands.
public struct CommandCheckSpec: Sendable, Equatable {
  public var command: String
  public var timeout: Duration
  public var mark: SourceMark?

  public init(command: String, timeout: Duration = .seconds(60), mark: SourceMark? = nil) {
    self.command = command
    self.timeout = timeout
    self.mark = mark
  }
}
