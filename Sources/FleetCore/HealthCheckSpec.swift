// Health gates as the fleet declares them; URLs, queries and commands are per-cluster templates.
import Foundation

public enum HealthCheckSpec: Sendable, Equatable {
  case http(HTTPProbeSpec)
  case prometheus(PrometheusAnalysisSpec)
  case command(CommandCheckSpec)
  /// The release's own test hooks, run as `helm test` runs them (kube and helm drivers).
  case helmTest(HelmTestSpec)
}

extension HealthCheckSpec {
  /// What every output calls the gate: the fleet's `name:`, else `defaultName`.
  public var name: String { givenName ?? defaultName }

  public var givenName: String? {
    switch self {
    case .http(let spec): return spec.name
    case .prometheus(let spec): return spec.name
    case .command(let spec): return spec.name
    case .helmTest(let spec): return spec.name
    }
  }

  /// Sets the fleet's `name:` (nil keeps the default).
  public mutating func rename(_ name: String?) {
    switch self {
    case .http(var spec):
      spec.name = name
      self = .http(spec)
    case .prometheus(var spec):
      spec.name = name
      self = .prometheus(spec)
    case .command(var spec):
      spec.name = name
      self = .command(spec)
    case .helmTest(var spec):
      spec.name = name
      self = .helmTest(spec)
    }
  }

  public var mark: SourceMark? {
    switch self {
    case .http(let spec): return spec.mark
    case .prometheus(let spec): return spec.mark
    case .command(let spec): return spec.mark
    case .helmTest(let spec): return spec.mark
    }
  }

  /// A short name from the gate's own text, so a table column or a 80-column line has room for
  /// the value and the limit: the first metric name of a PromQL query, an HTTP URL's host and
  /// path (placeholders as `*`), a command's first word (its base name).
  public var defaultName: String {
    switch self {
    case .http(let spec): return GateNaming.hostAndPath(spec.url)
    case .prometheus(let spec): return GateNaming.metric(spec.query) ?? "prometheus"
    case .command(let spec): return GateNaming.program(spec.command) ?? "command"
    case .helmTest: return "helm-test"
    }
  }
}

/// The rules behind `HealthCheckSpec.defaultName`.
public enum GateNaming {
  /// PromQL words that are not metric names.
  static let keywords: Set<String> = [
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
    "unless", "inf", "nan",
    // Aggregation operators take their grouping before the parenthesis: `max by (x) (up)`.
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
  ]

  /// The first metric name in `query`: an identifier outside label matchers (`{...}`), strings,
  /// ranges (`[5m]`) and grouping lists (`by (...)`), not followed by `(` (a function), and not
  /// a keyword. `sum(rate(http_errors_total{cluster=~"{{ .clusters }}"}[5m]))` →
  /// `http_errors_total`.
  public static func metric(_ query: String) -> String? {
    let characters = Array(query)
    var index = 0
    var braces = 0
    var brackets = 0
    var afterGrouping = false
    var groupingDepth = 0
    var parentheses = 0
    func isStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_" || c == ":") }
    func isPart(_ c: Character) -> Bool { isStart(c) || (c.isASCII && c.isNumber) }
    while index < characters.count {
      let c = characters[index]
      switch c {
      case "\"", "'", "`":
        // Skip the string, honouring backslash escapes.
        index += 1
        while index < characters.count, characters[index] != c {
          if characters[index] == "\\" { index += 1 }
          index += 1
        }
        index += 1
        continue
      case "{": braces += 1
      case "}": braces = max(0, braces - 1)
      case "[": brackets += 1
      case "]": brackets = max(0, brackets - 1)
      case "(":
        parentheses += 1
        if afterGrouping {
          groupingDepth = parentheses
          afterGrouping = false
        }
      case ")":
        if parentheses == groupingDepth { groupingDepth = 0 }
        parentheses = max(0, parentheses - 1)
      default: break
      }
      guard isStart(c), braces == 0, brackets == 0,
        index == 0 || !isPart(characters[index - 1])
      else {
        index += 1
        continue
      }
      var end = index
      while end < characters.count, isPart(characters[end]) { end += 1 }
      let word = String(characters[index..<end])
      var next = end
      while next < characters.count, characters[next] == " " { next += 1 }
      let isFunction = next < characters.count && characters[next] == "("
      let lowered = word.lowercased()
      if ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(lowered) {
        afterGrouping = true
      } else if !isFunction, groupingDepth == 0, !keywords.contains(lowered) {
        return word
      }
      index = end
    }
    return nil
  }

  /// `https://{{ .name }}.apps.example.com:8443/healthz?x=1` → `*.apps.example.com/healthz`.
  public static func hostAndPath(_ url: String) -> String {
    var rest = Substring(wildcarded(url))
    if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
    if let end = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    var host = rest[..<slash]
    if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
    if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = host[..<colon] }
    var path = rest[slash...]
    while path.hasSuffix("/") { path = path.dropLast() }
    return String(host + path)
  }

  /// `FOO=1 /usr/bin/kubectl --context x get pods` → `kubectl`.
  public static func program(_ command: String) -> String? {
    let words = wildcarded(command).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
    guard
      let first = words.first(where: { word in
        guard let equals = word.firstIndex(of: "=") else { return true }
        // `NAME=value` sets the environment; a word with `=` after a quote or slash does not.
        return !word[..<equals].allSatisfy {
          $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_")
        }
      })
    else { return nil }
    let base = first.split(separator: "/").last.map(String.init) ?? String(first)
    let name = base.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
    return name.isEmpty ? nil : name
  }

  /// Each `{{ ... }}` placeholder as `*`.
  static func wildcarded(_ text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
      out += rest[..<open.lowerBound] + "*"
      rest = rest[close.upperBound...]
    }
    return out + rest
  }
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
  /// The name the fleet gave (`name:`), or nil for the default (see `HealthCheckSpec.name`).
  public var name: String?
  public var mark: SourceMark?

  public init(
    url: String, expectStatus: ClosedRange<Int> = 200...299, bodyContains: String? = nil,
    jsonField: String? = nil, jsonValue: String? = nil, maxLatency: Duration? = nil,
    successes: Int = 1, interval: Duration = .seconds(5), timeout: Duration = .seconds(120),
    insecureSkipTLSVerify: Bool = false, caFile: String? = nil, mark: SourceMark? = nil,
    name: String? = nil
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
    self.name = name
  }
}

/// A numeric condition such as `> 0.01` or `<= 5`.
public struct MetricCondition: Sendable, Equatable, CustomStringConvertible {
  public enum Comparison: String, Sendable, CaseIterable {
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case equal = "=="
    case notEqual = "!="
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
    guard let comparison = ordered.first(where: { trimmed.hasPrefix($0.rawValue) }) else {
      return nil
    }
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
  /// The name the fleet gave (`name:`), or nil for the default (see `HealthCheckSpec.name`).
  public var name: String?
  public var mark: SourceMark?

  public init(
    url: String, query: String, verdict: Verdict, interval: Duration = .seconds(30), count: Int = 1,
    failureLimit: Int = 0, consecutiveErrorLimit: Int = 4, initialDelay: Duration = .zero,
    inconclusive: Inconclusive = .ignore, mark: SourceMark? = nil, name: String? = nil
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
    self.name = name
  }
}

/// A command whose exit status decides health; templated like the exec driver's commands.
public struct CommandCheckSpec: Sendable, Equatable {
  public var command: String
  public var timeout: Duration
  /// The name the fleet gave (`name:`), or nil for the default (see `HealthCheckSpec.name`).
  public var name: String?
  public var mark: SourceMark?

  public init(
    command: String, timeout: Duration = .seconds(60), mark: SourceMark? = nil, name: String? = nil
  ) {
    self.command = command
    self.timeout = timeout
    self.mark = mark
    self.name = name
  }
}
