// The run report's data built from the run's journal state, not from the memory of the
// process that ran the last pass: a resumed run reports every pass, readings included.
import FleetCore
import Foundation
import Journal

public enum JournalSummary {
  /// The report of a run as its journal state holds it, over `plan`'s waves and clusters.
  /// Only how the last pass ended (its outcome, reason, the wave it waits on, when it ended)
  /// and what the plan alone decides (the driver, the total budget) come from `pass`, the
  /// summary of the executor that ran it: the journal says the same, in fewer words.
  public static func summary(of state: RunState, plan: Plan, pass: RunSummary) -> RunSummary {
    let interrupted = pass.outcome == .interrupted
    var clusters: [ClusterRunRecord] = []
    var waves: [WaveRunRecord] = []
    for wave in plan.waves {
      var failures = 0
      for name in wave.clusters {
        let record = cluster(name, wave: wave.index, state.clusters[name], interrupted: interrupted)
        if counts(record) { failures += 1 }
        clusters.append(record)
      }
      var phase = state.waves[wave.name].flatMap(WavePhase.init(rawValue:)) ?? .pending
      if interrupted && (phase == .running || phase == .baking) { phase = .interrupted }
      waves.append(
        WaveRunRecord(
          index: wave.index, name: wave.name, isCanary: wave.isCanary, phase: phase,
          clusters: wave.clusters, allowedFailures: wave.allowedFailures, failures: failures,
          startedAt: state.waveStartedAt[wave.name], finishedAt: state.waveFinishedAt[wave.name],
          haltReason: state.haltReasons[wave.name], gates: state.waveGates[wave.name] ?? []))
    }
    var summary = pass
    summary.startedAt = state.header?.startedAt ?? pass.startedAt
    summary.waves = waves
    summary.clusters = clusters
    return summary
  }

  /// One cluster as the journal left it. A change under way when an interrupted pass ended
  /// is reported as the executor reports it: mid-change, its revision unknown.
  static func cluster(
    _ name: String, wave: Int, _ recorded: RunState.ClusterRecord?, interrupted: Bool
  ) -> ClusterRunRecord {
    guard let recorded else { return ClusterRunRecord(name: name, wave: wave) }
    let phase = ClusterPhase(rawValue: recorded.state) ?? .pending
    var record = ClusterRunRecord(
      name: name, wave: wave, phase: phase, fromRevision: recorded.fromRevision,
      toRevision: recorded.upgradedTo, startedAt: recorded.startedAt,
      finishedAt: recorded.finishedAt, error: recorded.failure,
      rollbackError: recorded.rollbackError, rollbackRevision: recorded.rollbackRevision,
      measurements: recorded.measurements, gates: recorded.gates)
    record.deferrals = recorded.deferrals
    record.deferredUntil = phase == .deferred ? recorded.deferredUntil : nil
    record.deferralReason = recorded.deferralReason
    if interrupted && phase.isInFlight {
      record.interruptedMidUpgrade = true
      if phase == .rollingBack {
        record.rollbackError = "interrupted while rolling back; revision unknown"
      } else {
        record.error = "interrupted while \(phase.rawValue); its revision is unknown"
      }
    }
    return record
  }

  /// Whether a cluster counts against its wave's budget, as the executor counted it: a
  /// failure of its own does; a cancellation by a halt (`cancelled: the rollout halted`)
  /// does not, since the halt was already counted where it began.
  static func counts(_ record: ClusterRunRecord) -> Bool {
    guard let error = record.error, !record.interruptedMidUpgrade else { return false }
    return !error.hasPrefix("cancelled: ")
  }
}
