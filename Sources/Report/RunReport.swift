// The run report as data: the stable JSON schema (docs/reports.md) and the per-cluster states
// every report format shares.
import FleetCore
import Foundation

/// A cluster's state as reports name it; a fixed vocabulary scripts may match on.
public enum ReportedState: String, Sendable, CaseIterable {
  case succeeded
  case failed
  case rolledBack = "rolled-back"
  /// Rolled back from a first install: the release was removed (a driver returns the
  /// rollback revision "uninstalled").
  case uninstalled
  case skipped
  case notStarted = "not-started"
  /// Outside the subset the run acted on (`--cluster`, `-l`).
  case excluded

  /// Clusters never started are `skipped` when the run halted or failed (they will not run
  /// in this run) and `not-started` when it was interrupted (resuming runs them).
  public init(_ record: ClusterRunRecord, outcome: RunOutcome) {
    if record.interruptedMidUpgrade {
      self = .failed
      return
    }
    switch record.phase {
    // A deferred cluster waits for its retry: resuming runs it; otherwise it never ran.
    case .pending, .deferred: self = outcome == .interrupted ? .notStarted : .skipped
    case .succeeded, .baking: self = .succeeded
    case .rolledBack: self = record.rollbackRevision == "uninstalled" ? .uninstalled : .rolledBack
    case .failed, .rollbackFailed, .upgrading, .verifying, .rollingBack: self = .failed
    case .excluded: self = .excluded
    }
  }
}

public enum RunReportJSON {
  public static func value(_ summary: RunSummary) -> Value {
    var root = Mapping()
    root.append("run", .string(summary.run))
    root.append("fleet", .string(summary.fleet))
    root.append("release", .string(summary.release))
    root.append("version", optional(summary.version))
    // `version` is kept for existing readers; it is the app version.
    root.append("appVersion", optional(summary.version))
    root.append("chartVersion", optional(summary.chartVersion))
    root.append("driver", .string(summary.driver))
    root.append("outcome", .string(summary.outcome.rawValue))
    root.append("reason", optional(summary.reason))
    root.append("waitingForApproval", optional(summary.waitingForApproval))
    root.append("startedAt", .string(Timestamp.iso(summary.startedAt)))
    root.append("finishedAt", .string(Timestamp.iso(summary.finishedAt)))
    root.append(
      "allowedFailuresTotal", summary.allowedFailuresTotal.map { .int(Int64($0)) } ?? .null)
    var counts = Mapping()
    let states = summary.clusters.map { ReportedState($0, outcome: summary.outcome) }
    for state in ReportedState.allCases {
      counts.append(state.rawValue, .int(Int64(states.filter { $0 == state }.count)))
    }
    root.append("counts", .mapping(counts))
    root.append("midUpgrade", .sequence(summary.midUpgrade.map { .string($0) }))
    root.append("waves", .sequence(summary.waves.map(wave)))
    let waveNames = Dictionary(summary.waves.map { ($0.index, $0.name) }) { first, _ in first }
    root.append(
      "clusters",
      .sequence(
        summary.clusters.map {
          cluster($0, waveName: waveNames[$0.wave] ?? String($0.wave), outcome: summary.outcome)
        }))
    return .mapping(root)
  }

  public static func string(_ summary: RunSummary) -> String {
    JSONWriter.string(value(summary), options: .init(pretty: true)) + "\n"
  }

  static func wave(_ wave: WaveRunRecord) -> Value {
    var map = Mapping()
    map.append("index", .int(Int64(wave.index)))
    map.append("name", .string(wave.name))
    map.append("canary", .bool(wave.isCanary))
    map.append("state", .string(wave.phase.rawValue))
    map.append("clusters", .int(Int64(wave.clusters.count)))
    map.append("failures", .int(Int64(wave.failures)))
    map.append("allowedFailures", .int(Int64(wave.allowedFailures)))
    map.append("startedAt", date(wave.startedAt))
    map.append("finishedAt", date(wave.finishedAt))
    map.append("haltReason", optional(wave.haltReason))
    map.append("gates", .sequence(wave.gates.map(gate)))
    return .mapping(map)
  }

  static func cluster(_ record: ClusterRunRecord, waveName: String, outcome: RunOutcome) -> Value {
    var map = Mapping()
    map.append("name", .string(record.name))
    map.append("wave", .string(waveName))
    map.append("waveIndex", .int(Int64(record.wave)))
    map.append("state", .string(ReportedState(record, outcome: outcome).rawValue))
    map.append("phase", .string(record.phase.rawValue))
    map.append("fromRevision", optional(record.fromRevision))
    map.append("toRevision", optional(record.toRevision))
    map.append("rollbackRevision", optional(record.rollbackRevision))
    map.append("startedAt", date(record.startedAt))
    map.append("finishedAt", date(record.finishedAt))
    map.append("error", optional(record.error))
    map.append("rollbackError", optional(record.rollbackError))
    map.append("midUpgrade", .bool(record.interruptedMidUpgrade))
    map.append("deferrals", .int(Int64(record.deferrals)))
    map.append("deferralReason", optional(record.deferralReason))
    map.append("measurements", .sequence(record.measurements.map(measurement)))
    return .mapping(map)
  }

  static func gate(_ result: GateResult) -> Value {
    var map = Mapping()
    map.append("gate", .string(result.gate))
    map.append("passed", .bool(result.passed))
    map.append("summary", .string(result.summary))
    return .mapping(map)
  }

  static func measurement(_ measurement: FleetCore.Measurement) -> Value {
    var map = Mapping()
    map.append("gate", .string(measurement.gate))
    map.append("at", .string(Timestamp.iso(measurement.at)))
    map.append("value", measurement.value.map { .double($0) } ?? .null)
    map.append("outcome", .string(measurement.outcome.rawValue))
    map.append("detail", .string(measurement.detail))
    map.append("limit", measurement.limit.map { .double($0) } ?? .null)
    // The query as sent for this cluster, templates substituted (nil for gates without one).
    map.append("query", optional(measurement.query))
    return .mapping(map)
  }

  static func optional(_ text: String?) -> Value { text.map { .string($0) } ?? .null }
  static func date(_ date: Date?) -> Value { date.map { .string(Timestamp.iso($0)) } ?? .null }
}
