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
    /// When the cluster's change ended: verified (baking), failed or succeeded; a rollback
    /// leaves it, as the executor's record does.
    public var finishedAt: Date?
    /// The revision the upgrade produced (recorded when verifying began), kept through a
    /// failed gate and a rollback.
    public var upgradedTo: String?
    /// Why the upgrade or its verification failed, kept through the rollback that follows.
    public var failure: String?
    public var rollbackRevision: String?
    public var rollbackError: String?
    /// Every gate reading of the cluster, over every pass, in the order taken.
    public var measurements: [FleetCore.Measurement] = []
    /// Every gate verdict on the cluster, each with the readings that decided it.
    public var gates: [GateResult] = []
    /// How many times the cluster was deferred (its API could not be reached), when it is
    /// tried again while deferred, and why it was deferred last.
    public var deferrals = 0
    public var deferredUntil: Date?
    public var deferralReason: String?
  }

  public var header: RunHeader?
  public var clusters: [String: ClusterRecord] = [:]
  /// Each wave's state, by wave name: a resumed run maps them onto its plan by name, so a
  /// wave inserted, removed or moved in a changed fleet cannot inherit another's state.
  public var waves: [String: String] = [:]
  /// When each wave last changed state (a bake's start, for one), by wave name.
  public var waveChangedAt: [String: Date] = [:]
  /// Why a wave halted, by wave name.
  public var haltReasons: [String: String] = [:]
  /// When each wave first started running, and when it was promoted or halted, by wave name.
  public var waveStartedAt: [String: Date] = [:]
  public var waveFinishedAt: [String: Date] = [:]
  /// The verdicts of each wave's gates after its bake, by wave name, every pass's.
  public var waveGates: [String: [GateResult]] = [:]
  /// Who approved each wave, and when, by wave name.
  public var approvals: [String: String] = [:]
  public var approvedAt: [String: Date] = [:]
  public var paused: Bool = false
  public var pausedBy: String?
  /// What the run said it waits for when it last stopped unfinished; cleared by progress.
  public var waitingFor: String?
  /// Who last resumed the run (or asked for its rollback).
  public var lastResumedBy: String?
  /// The tokens of every process that acted for the run, in order (see `RunInstance`).
  public var instances: [String] = []
  public var outcome: String?
  public var lastActivity: Date?
  /// The frozen plan's wave names in order: records written before wave names were journaled
  /// carry only a position in that plan.
  private var frozenWaveNames: [String] = []
  /// Readings not yet claimed by a verdict, by the gate's scope (a cluster or a wave) and
  /// name: a `gate-result` record takes the readings written just before it.
  private var unjudged: [String: [FleetCore.Measurement]] = [:]

  public init() {}

  public init(records: [JournalRecord]) {
    for record in records { apply(record) }
  }

  /// Takes one more record into the state: constant time, so a journal keeps its state current
  /// as it appends instead of replaying its records.
  public mutating func apply(_ record: JournalRecord) {
    lastActivity = record.at
    switch record.entry {
    case .runStarted(let header):
      self.header = header
      if let instance = header.instance { instances.append(instance) }
      frozenWaveNames = (header.plan["waves"]?.sequence ?? []).enumerated().map {
        position, wave in wave["name"]?.string ?? "wave \(position)"
      }
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
      switch state {
      case "upgrading":
        cluster.finishedAt = nil
        cluster.failure = nil
      case "verifying", "baking", "succeeded":
        if let revision { cluster.upgradedTo = revision }
        if state != "verifying" { cluster.finishedAt = cluster.finishedAt ?? record.at }
      case "failed":
        cluster.failure = error ?? cluster.failure
        cluster.finishedAt = record.at
      case "rolled-back":
        cluster.rollbackRevision = revision
        cluster.finishedAt = cluster.finishedAt ?? record.at
      case "rollback-failed":
        cluster.rollbackError = error
        cluster.finishedAt = cluster.finishedAt ?? record.at
      default: break
      }
      clusters[name] = cluster
    case .wave(let index, let state, let name, let reason):
      let wave = name ?? frozenWaveName(index)
      waves[wave] = state
      waveChangedAt[wave] = record.at
      if let reason { haltReasons[wave] = reason }
      if state == "running", waveStartedAt[wave] == nil { waveStartedAt[wave] = record.at }
      if state == "promoted" || state == "halted" { waveFinishedAt[wave] = record.at }
    case .approval(let index, let by, let name):
      let wave = name ?? frozenWaveName(index)
      approvals[wave] = by
      approvedAt[wave] = record.at
    case .paused(let by):
      paused = true
      pausedBy = by
    case .resumed(let by, _, _, let instance):
      // Readings of a gate the last process did not live to judge belong to no verdict.
      unjudged = [:]
      lastResumedBy = by
      if let instance { instances.append(instance) }
      paused = false
      pausedBy = nil
      outcome = nil
    case .measurement(let cluster, let wave, let measurement):
      if let cluster { clusters[cluster]?.measurements.append(measurement) }
      unjudged[Self.scope(cluster: cluster, wave: wave, gate: measurement.gate), default: []]
        .append(measurement)
    case .gateResult(let cluster, let wave, let gate, let passed, let summary):
      let scope = Self.scope(cluster: cluster, wave: wave, gate: gate)
      let result = GateResult(
        gate: gate, passed: passed, measurements: unjudged.removeValue(forKey: scope) ?? [],
        summary: summary)
      if let cluster {
        clusters[cluster]?.gates.append(result)
      } else if let wave {
        waveGates[wave, default: []].append(result)
      }
    case .deferred(let name, let attempt, let reason, let until):
      waitingFor = nil
      var cluster =
        clusters[name]
        ?? ClusterRecord(
          state: "deferred", revision: nil, fromRevision: nil, error: nil, startedAt: record.at)
      cluster.state = "deferred"
      cluster.error = nil
      cluster.deferrals = attempt
      cluster.deferredUntil = until
      cluster.deferralReason = reason
      clusters[name] = cluster
    case .waiting(let reason): waitingFor = reason
    case .runFinished(let outcome):
      self.outcome = outcome
      waitingFor = nil
    }
  }

  private static func scope(cluster: String?, wave: String?, gate: String) -> String {
    (cluster.map { "cluster " + $0 } ?? "wave " + (wave ?? "")) + "\u{0}" + gate
  }

  private func frozenWaveName(_ index: Int) -> String {
    index >= 0 && index < frozenWaveNames.count ? frozenWaveNames[index] : "wave \(index)"
  }

  static let terminal: Set<String> = [
    "succeeded", "failed", "rolled-back", "rollback-failed", "skipped",
  ]

  /// Clusters whose last record says an action was under way: after a crash these must be
  /// re-examined through their driver before anything else happens to them. A baking cluster
  /// is upgraded and verified, waiting for its wave's bake: not mid-change.
  public var inFlight: [String] {
    clusters.filter { !RunState.settled.contains($0.value.state) }.keys.sorted()
  }

  /// A deferred cluster is out of flight: its retry starts it again from the beginning.
  static let settled: Set<String> = terminal.union(["pending", "baking", "deferred"])

  public var isFinished: Bool { outcome != nil }
}

/// Checks a journal for damage and impossible histories; an empty result means it is sound.
public enum JournalIntegrity {
  /// Legal next states for one cluster within a run. A state may repeat: a resumed run
  /// records the re-examined action again.
  static let transitions: [String: Set<String>] = [
    "": ["pending", "upgrading", "skipped"],
    "pending": ["upgrading", "skipped"],
    "upgrading": [
      "upgrading", "verifying", "baking", "succeeded", "failed", "rolling-back", "deferred",
    ],
    // Deferred (its API could not be reached), it is tried again, or the run is rolled back.
    "deferred": ["upgrading", "deferred"],
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
      if case .deferred(let name, _, _, _) = record.entry {
        let previous = states[name] ?? ""
        if !(transitions[previous]?.contains("deferred") ?? false) {
          let from = previous.isEmpty ? "nothing" : previous
          problems.append(
            "record \(record.sequence): cluster \(name) went from '\(from)' to 'deferred'")
        }
        states[name] = "deferred"
      }
      if case .runFinished = record.entry { finished = true }
    }
    return problems
  }
}
