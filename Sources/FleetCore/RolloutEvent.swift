// What a rollout run emits as it goes (events) and what it leaves behind (the run summary);
// shared by the executor, the progress view, the reports and the journal.
import Foundation

/// Where one cluster is in the executor's state machine:
/// pending -> upgrading -> verifying -> baking -> succeeded | failed
/// -> rolling-back -> rolled-back | rollback-failed.
public enum ClusterPhase: String, Sendable, CaseIterable {
  case pending
  case upgrading
  case verifying
  case baking
  case succeeded
  case failed
  case rollingBack = "rolling-back"
  case rolledBack = "rolled-back"
  case rollbackFailed = "rollback-failed"
  /// Outside the subset a run acts on (`--cluster`, `-l`): never touched, recorded as such.
  case excluded
  /// Its API could not be reached; it waits, out of flight, to be tried again in its wave
  /// (`onUnreachable: defer`).
  case deferred

  /// Counts against the in-flight limits (global, per wave, per domain).
  public var isInFlight: Bool {
    self == .upgrading || self == .verifying || self == .rollingBack
  }
}

/// How a run ended.
public enum RunOutcome: String, Sendable, CaseIterable {
  /// Every cluster upgraded, verified and baked.
  case succeeded
  /// A failure budget was crossed: promotion stopped and rollback ran as the policy says.
  case halted
  /// Every wave ran, but some clusters failed within the budget.
  case failed
  /// Stopped by a signal or waiting for an approval; resumable.
  case interrupted
}

public enum WavePhase: String, Sendable, CaseIterable {
  case pending
  case waitingForApproval = "waiting-for-approval"
  case waitingForWindow = "waiting-for-window"
  case running
  case baking
  case promoted
  case halted
  case interrupted
}

public enum RolloutEvent: Sendable, Equatable {
  case runStarted(run: String, at: Date)
  case waveStarted(wave: Int, at: Date)
  case waveWaiting(wave: Int, phase: WavePhase, until: Date?, at: Date)
  case waveBaking(wave: Int, until: Date, at: Date)
  case wavePromoted(wave: Int, at: Date)
  /// A budget was crossed (or a wave gate failed): no new cluster starts from here on.
  case waveHalted(wave: Int, reason: String, at: Date)
  case clusterPhase(cluster: String, wave: Int, phase: ClusterPhase, detail: String?, at: Date)
  case measurement(cluster: String?, wave: Int, Measurement)
  case gateResult(cluster: String?, wave: Int, GateResult)
  case interruptRequested(forced: Bool, at: Date)
  case runFinished(outcome: RunOutcome, at: Date)
}

/// One cluster as the run left it.
public struct ClusterRunRecord: Sendable, Equatable {
  public var name: String
  public var wave: Int
  public var phase: ClusterPhase
  public var fromRevision: String?
  public var toRevision: String?
  public var startedAt: Date?
  public var finishedAt: Date?
  /// Why the upgrade or verification failed (or why the cluster was cancelled).
  public var error: String?
  /// Why its rollback failed, kept beside the upgrade's error as helm keeps both.
  public var rollbackError: String?
  /// The revision the rollback produced.
  public var rollbackRevision: String?
  /// True when the run stopped while the cluster was being changed: its revision is unknown.
  public var interruptedMidUpgrade: Bool
  public var measurements: [Measurement]
  public var gates: [GateResult]
  /// How many times the cluster was deferred because its API could not be reached.
  public var deferrals = 0
  /// While deferred: when it is tried again, and why it was deferred last.
  public var deferredUntil: Date?
  public var deferralReason: String?

  public init(
    name: String, wave: Int, phase: ClusterPhase = .pending, fromRevision: String? = nil,
    toRevision: String? = nil, startedAt: Date? = nil, finishedAt: Date? = nil,
    error: String? = nil,
    rollbackError: String? = nil, rollbackRevision: String? = nil,
    interruptedMidUpgrade: Bool = false, measurements: [Measurement] = [], gates: [GateResult] = []
  ) {
    self.name = name
    self.wave = wave
    self.phase = phase
    self.fromRevision = fromRevision
    self.toRevision = toRevision
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.error = error
    self.rollbackError = rollbackError
    self.rollbackRevision = rollbackRevision
    self.interruptedMidUpgrade = interruptedMidUpgrade
    self.measurements = measurements
    self.gates = gates
  }

  /// The cluster's upgrade was attempted (it may have to be rolled back).
  public var wasTouched: Bool { startedAt != nil }
}

public struct WaveRunRecord: Sendable, Equatable {
  public var index: Int
  public var name: String
  public var isCanary: Bool
  public var phase: WavePhase
  public var clusters: [String]
  public var allowedFailures: Int
  public var failures: Int
  public var startedAt: Date?
  public var finishedAt: Date?
  public var haltReason: String?
  public var gates: [GateResult]

  public init(
    index: Int, name: String, isCanary: Bool = false, phase: WavePhase = .pending,
    clusters: [String] = [], allowedFailures: Int = 0, failures: Int = 0, startedAt: Date? = nil,
    finishedAt: Date? = nil, haltReason: String? = nil, gates: [GateResult] = []
  ) {
    self.index = index
    self.name = name
    self.isCanary = isCanary
    self.phase = phase
    self.clusters = clusters
    self.allowedFailures = allowedFailures
    self.failures = failures
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.haltReason = haltReason
    self.gates = gates
  }
}

/// Everything a finished (or stopped) run reports.
public struct RunSummary: Sendable, Equatable {
  public var run: String
  public var fleet: String
  public var release: String
  /// The application version (`release.appVersion`).
  public var version: String?
  /// The chart version (or constraint) of a repository or OCI chart.
  public var chartVersion: String?
  public var driver: String
  public var outcome: RunOutcome
  public var startedAt: Date
  public var finishedAt: Date
  public var waves: [WaveRunRecord]
  public var clusters: [ClusterRunRecord]
  /// Why the run halted or stopped, in one line.
  public var reason: String?
  /// The wave waiting for `fleetwave approve`, when the run paused for one.
  public var waitingForApproval: String?
  public var allowedFailuresTotal: Int?

  public init(
    run: String, fleet: String, release: String, version: String? = nil, driver: String,
    outcome: RunOutcome, startedAt: Date, finishedAt: Date, waves: [WaveRunRecord],
    clusters: [ClusterRunRecord], reason: String? = nil, waitingForApproval: String? = nil,
    allowedFailuresTotal: Int? = nil
  ) {
    self.run = run
    self.fleet = fleet
    self.release = release
    self.version = version
    self.driver = driver
    self.outcome = outcome
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.waves = waves
    self.clusters = clusters
    self.reason = reason
    self.waitingForApproval = waitingForApproval
    self.allowedFailuresTotal = allowedFailuresTotal
  }

  /// Clusters the run left mid-change: their revision is unknown until inspected or resumed.
  public var midUpgrade: [String] {
    clusters.filter(\.interruptedMidUpgrade).map(\.name)
  }
}
