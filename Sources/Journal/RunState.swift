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
  /// When each wave last changed state (a bake's start, for one).
  public var waveChangedAt: [Int: Date] = [:]
  /// Who approved each wave, and when.
  public var approvals: [Int: String] = [:]
  public var approvedAt: [Int: Date] = [:]
  public var paused: Bool = false
  public var pausedBy: String?
  /// What the run said it waits for when it last stopped unfinished; cleared by progress.
  public var waitingFor: String?
  /// Who last resumed the run (or asked for its rollback).
  public var lastResumedBy: String?
  public var outcome: String?
  public var lastActivity: Date?

  public init(records: [JournalRecord]) {
    for record in records {
      lastActivity = record.at
      switch record.entry {
      case .runStarted(let header): self.header = header
      case .cluster(let name, let state, let revision, let error, let from):
        waitingFor = nil
        var cluster =
          clusters[name]
          ?? ClusterRecord(
            state: state, revision: nil, fromRevision: nil, error: nil, startedAt: record.at)
        if let from { cluster.fromRevision = from }
        cluster.state = state
        if let revision { cluster.revision = revision }
        cluster.error = error ?? (RunState.terminal.contains(state) ? cluster.error : nil)
        if RunState.terminal.contains(state) { cluster.finishedAt = record.at }
        clusters[name] = cluster
      case .wave(let index, let state):
        waves[index] = state
        waveChangedAt[index] = record.at
      case .approval(let wave, let by):
        approvals[wave] = by
        approvedAt[wave] = record.at
      case .paused(let by):
        paused = true
        pausedBy = by
      case .resumed(let by, _, _):
        lastResumedBy = by
        paused = false
        pausedBy = nil
        outcome = nil
      case .measurement: break
      case .waiting(let reason): waitingFor = reason
      case .runFinished(let outcome):
        self.outcome = outcome
        waitingFor = nil
      }
    }
  }

  static let terminal: Set<String> = [
    "succeeded", "failed", "rolled-back", "rollback-failed", "skipped",
  ]

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
    "upgrading": ["upgrading", "verifying", "baking", "succeeded", "failed", "rolling-back"],
    // A resumed run re-examines a cluster left verifying; if its revision moved, it upgrades.
    "verifying": ["verifying", "upgrading", "baking", "succeeded", "failed", "rolling-back"],
    "baking": ["baking", "succeeded", "failed", "rolling-back"],
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
      // `fleetwave rollback RUN` reopens a finished run with a `resumed` record.
      if finished, case .resumed = record.entry { finished = false }
      if finished {
        problems.append("record \(record.sequence) follows the run's end")
      }
      if record.sequence > 1, case .runStarted = record.entry {
        problems.append("record \(record.sequence) is a second run header")
      }
      if case .cluster(let name, let state, _, _, _) = record.entry {
        let previous = states[name] ?? ""
        guard transitions[state] != nil else {
          problems.append("record \(record.sequence): cluster \(name) has unknown state '\(state)'")
          continue
        }
        if !(transitions[previous]?.contains(state) ?? false) {
          let from = previous.isEmpty ? "nothing" : previous
          problems.append(
            "record \(record.sequence): cluster \(name) went from '\(from)' to '\(state)'")
        }
        states[name] = state
      }
      if case .runFinished = record.entry { finished = true }
    }
    return problems
  }
}
