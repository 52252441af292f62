// What the plan outputs say about a fleet's health gates and failure policy: a reader deciding
// whether to approve a plan needs to know what stops it, not only when it runs.
import FleetCore
import Foundation

public struct PlanChecks: Sendable, Equatable {
  /// One gate as the plan shows it: `error-rate (prometheus): fails if > 0.05`.
  public struct Gate: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// What passing means, in the fleet's own limits: `fails if > 0.05`, `status 200-299`.
    public var limit: String

    public var text: String { "\(name) (\(kind)): \(limit)" }
  }

  /// A maintenance window as the fleet defines it: `weekday-night: Mon-Fri 22:00-06:00 UTC`.
  public struct Window: Sendable, Equatable {
    public var name: String
    /// Three-letter day names, Monday first.
    public var days: [String]
    public var from: String
    public var to: String
    public var timeZone: String

    public var text: String {
      "\(name): \(days.joined(separator: " ")) \(from)-\(to) \(timeZone)"
    }
  }

  public var health: [Gate]
  public var waveHealth: [Gate]
  /// `failed`, `wave` or `none`: what is rolled back when a wave crosses its budget.
  public var rollback: String
  /// `finish` or `cancel`: what happens to upgrades in flight when a wave halts.
  public var inFlight: String
  /// By name.
  public var windows: [Window]

  public init(_ policy: RolloutPolicy, windows: [String: MaintenanceWindow] = [:]) {
    self.windows = windows.keys.sorted().compactMap { name in
      windows[name].map { window in
        Window(
          name: name, days: window.days.sorted().map(Self.dayName), from: window.from.description,
          to: window.to.description, timeZone: window.timeZone)
      }
    }
    health = policy.health.map(Self.gate)
    waveHealth = policy.waveHealth.map(Self.gate)
    rollback = policy.failurePolicy.rollback.rawValue
    inFlight = policy.failurePolicy.inFlight.rawValue
  }

  static func dayName(_ day: Weekday) -> String {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day.rawValue - 1]
  }

  /// ", 3 measurements 30s apart", or nothing for a single measurement.
  static func measured(_ analysis: PrometheusAnalysisSpec) -> String {
    guard analysis.count > 1 else { return "" }
    return ", \(analysis.count) measurements \(DurationText.format(analysis.interval)) apart"
  }

  static func gate(_ spec: HealthCheckSpec) -> Gate {
    switch spec {
    case .prometheus(let analysis):
      let limit =
        switch analysis.verdict {
        case .failIf(let condition): "fails if \(condition)"
        case .successIf(let condition): "passes if \(condition)"
        }
      let tolerated = analysis.failureLimit
      let tolerance =
        tolerated == 0 ? "" : ", \(tolerated) failure\(tolerated == 1 ? "" : "s") allowed"
      return Gate(
        name: spec.name, kind: "prometheus",
        limit: limit + measured(analysis) + tolerance)
    case .http(let probe):
      let status =
        probe.expectStatus.lowerBound == probe.expectStatus.upperBound
        ? "\(probe.expectStatus.lowerBound)"
        : "\(probe.expectStatus.lowerBound)-\(probe.expectStatus.upperBound)"
      var limit = "status \(status)"
      if let latency = probe.maxLatency { limit += ", within \(DurationText.format(latency))" }
      limit += ", \(probe.successes) in a row within \(DurationText.format(probe.timeout))"
      return Gate(name: spec.name, kind: "http", limit: limit)
    case .command(let check):
      return Gate(
        name: spec.name, kind: "command",
        limit: "exits 0 within \(DurationText.format(check.timeout))")
    case .helmTest(let test):
      return Gate(
        name: spec.name, kind: "helmTest",
        limit: "test hooks succeed within \(DurationText.format(test.timeout))")
    }
  }

  /// The lines the table and Markdown outputs print, in order.
  var lines: [String] {
    var out = ["on failure: roll back \(rollback), in-flight upgrades \(inFlight)"]
    out += health.map { "gate per cluster: " + $0.text }
    out += waveHealth.map { "gate per wave: " + $0.text }
    out += windows.map { "window " + $0.text }
    return out
  }

  func write(into json: inout PrettyJSONText) {
    json.key("failurePolicy")
    json.beginObject()
    json.key("rollback")
    json.string(rollback)
    json.key("inFlight")
    json.string(inFlight)
    json.end()
    for (key, gates) in [("health", health), ("waveHealth", waveHealth)] {
      json.key(key)
      json.beginArray()
      for gate in gates {
        json.beginObject()
        json.key("name")
        json.string(gate.name)
        json.key("kind")
        json.string(gate.kind)
        json.key("limit")
        json.string(gate.limit)
        json.end()
      }
      json.end()
    }
    json.key("windows")
    json.beginArray()
    for window in windows {
      json.beginObject()
      json.key("name")
      json.string(window.name)
      json.key("days")
      json.strings(window.days)
      json.key("from")
      json.string(window.from)
      json.key("to")
      json.string(window.to)
      json.key("timeZone")
      json.string(window.timeZone)
      json.end()
    }
    json.end()
  }
}
