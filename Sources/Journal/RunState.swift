// A run's state replayed from its journal, and the checks a journal must pass.
import FleetCore
import Foundation

public struct RunState: Sendable, Equatable {
  public struct ClusterRecord: Sendable, Equatable {
    public var state: String
    /// The last revision recorded for the cluster (the target while upgrading, the result after).
    public var revision: String?
    public var fromRevision: String?
    public var error: String?
    public var startedAt: Date?
    public var finishedAt: Date?
  }

  public var header: RunHeader?
  public var clusters: [String: ClusterRecord] = [:]
  public var waves: [Int: String] = [:]
  public var approvals: [Int: String] = [:]
  public var paused: Bool = false
  public var outcome: String?
  public var lastActivity: Date?

  public init(records: [JournalRecord]) {
    for record in records {
      lastActivity = record.at
      switch record.entry {
      case .runStarted(let header): self.header = header
      case .cluster(let name, let state, let revision, let error):
        var cluster =
          clusters[name]
          ?? ClusterRecord(state: state, revision: nil, fromRevision: nil, error: nil, startedAt: record.at)
        if state == "upgrading", cluster.fromRevision == nil, cluster.state != "upgrading" {
          cluster.fromRevision = cluster.revision
        }
        cluster.state = state
        if let revision { cluster.revision = revision }
        cluster.error = error ?? (RunState.terminal.contains(state) ? cluster.error : nil)
        if RunState.terminal.contains(state) { cluster.finishedAt = record.at }
        clusters[name] = cluster
      case .wave(let index, let state): waves[index] = state
      case .approval(let wave, let by): approvals[wave] = by
      case .paused: paused = true
      case .resumed: paused = false
      case .measurement: break
      case .runFinished(let outcome): self.outcome = outcome
      }
    }
  }

  static let terminal: Set<String> = ["succeeded", "failed", "rolled-back", "rollback-failed", "skipped"]

  /// Clusters whose last record says an action was under way: after a crash these must be
  /// re-examined through their driver before anything else happens to them.
  public var inFlight: [String] {
    clusters.filter { !RunState.terminal.contains($0.value.state) && $0.value.state != "pending" }
      .keys.sorted()
  }

  public var isFinished: Bool { outcome != nil }
}

/// Checks a journal for damage and impossible histories; an empty result means it is sound.
public enum JournalIntegrity {
  /// Legal next states for one cluster within a run. A state may repeat: a resumed run
  /// records the re-examined action again.
  static let transitions: [String: Set<String>] = [
    "": ["pending", "upgrading", "skipped"],
    "pending": ["upgrading", "skipped"],
    "upgrading": ["upgrading", "verifying", "baking", "succeeded", "failed"],
    "verifying": ["verifying", "baking", "succeeded", "failed"],
    "baking": ["baking", "succeeded", "failed"],
    "succeeded": ["rolling-back"],
    "failed": ["rolling-back", "upgrading"],
    "rolling-back": ["rolling-back", "rolled-back", "rollback-failed"],
    "rollback-failed": ["rolling-back"],
    "rolled-back": [],
    "skipped": [],
  ]

  public static func problems(in records: [JournalRecord]) -> [String] {
    var problems: [String] = []
    guard case .runStarted? = records.first?.entry else {
      return ["the journal does not start with a run header"]
    }
    var states: [String: String] = [:]
    var finished = false
    for record in records {
      if finished {
        problems.append("record \(record.sequence) follows the run's end")
      }
      if record.sequence > 1, case .runStarted = record.entry {
        problems.append("record \(record.sequence) is a second run header")
      }
      if case .cluster(let name, let state, _, _) = record.entry {
        let previous = states[name] ?? ""
        guard transitions[state] != nil else {
          problems.append("record \(record.sequence): cluster \(name) has unknown state '\(state)'")
          continue
        }
        if !(transitions[previous]?.contains(state) ?? false) {
          problems.append(
            "record \(record.sequence): cluster \(name) went from '\(previous.isEmpty ? "nothing" : previous)' to '\(state)'"
          )
        }
        states[name] = state
      }
      if case .runFinished = record.entry { finished = true }
    }
    return problems
  }
}
