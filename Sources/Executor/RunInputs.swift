// What an executor is given besides the plan: options, approvals, how to wait, and the
// state of a run it resumes.
import Drivers
import FleetCore
import Foundation
import Planner

/// Says whether a wave marked `approval: true` may start (later backed by the journal).
public protocol ApprovalSource: Sendable {
  func isApproved(run: String, wave: Wave) -> Bool
}

/// Approvals known up front: wave names (or `*` for all).
public struct StaticApprovals: ApprovalSource {
  public var waves: Set<String>

  public init(_ waves: Set<String> = []) { self.waves = waves }

  public func isApproved(run: String, wave: Wave) -> Bool {
    waves.contains(wave.name) || waves.contains("*")
  }
}

public struct ExecutorOptions: Sendable {
  public var run: String
  /// The process acting for the run, handed to drivers for the leases they take; nil names
  /// the run alone.
  public var instance: RunInstance?
  /// In flight at once over the whole run (each wave may lower it further).
  public var maxParallel: Int
  public var failurePolicy: FailurePolicy
  /// Bound on each driver call.
  public var clusterTimeout: Duration
  /// Maintenance windows and freezes; nil starts every cluster at once.
  public var startTimes: StartTimes?
  /// What to do when nothing may start until later (a window, a freeze, a bake).
  public var waiting: WaitingMode
  /// Where a resumed run stood, replayed from its journal.
  public var resumeFrom: RecordedRun?
  /// Says who paused the run, when it is paused: nothing new starts.
  public var pausedBy: (@Sendable () -> String?)?
  /// When the run began, for a run resumed from its journal: its report then gives the run's
  /// start, not this process's.
  public var startedAt: Date?
  /// Clusters outside the subset the run acts on: recorded `excluded`, never touched.
  public var excluded: Set<String> = []
  /// What happens to a cluster whose API cannot be reached (`onUnreachable`), for waves that
  /// do not set their own in `waveUnreachable` (by wave name).
  public var unreachable = UnreachablePolicy()
  public var waveUnreachable: [String: UnreachablePolicy] = [:]
  /// The canary's own, for every canary wave (the planner names them).
  public var canaryUnreachable: UnreachablePolicy?

  public init(
    run: String, instance: RunInstance? = nil, maxParallel: Int = 10,
    failurePolicy: FailurePolicy = FailurePolicy(),
    clusterTimeout: Duration = .seconds(1800), startTimes: StartTimes? = nil,
    waiting: WaitingMode = .follow, resumeFrom: RecordedRun? = nil,
    pausedBy: (@Sendable () -> String?)? = nil
  ) {
    self.run = run
    self.instance = instance
    self.maxParallel = maxParallel
    self.failurePolicy = failurePolicy
    self.clusterTimeout = clusterTimeout
    self.startTimes = startTimes
    self.waiting = waiting
    self.resumeFrom = resumeFrom
    self.pausedBy = pausedBy
  }
}

/// Waiting for a window, a freeze's end or a bake: sleep on the clock (`follow`), or stop
/// with the run saved and say what it waits for (`untilBlocked`, for cron and CI schedules).
public enum WaitingMode: Sendable {
  case follow
  case untilBlocked
}

/// Why a run stopped without finishing, and when it can go on (nil: when someone acts).
public struct Blocked: Sendable, Equatable {
  public var reason: String
  public var until: Date?
  /// Nothing can lift this wait on its own: every pending cluster's windows and freezes leave
  /// no open time within the planning horizon (a freeze that never ends, a window on no day).
  public var neverWithinHorizon: Bool

  public init(reason: String, until: Date?, neverWithinHorizon: Bool = false) {
    self.reason = reason
    self.until = until
    self.neverWithinHorizon = neverWithinHorizon
  }
}

/// A run's state as its journal recorded it, to resume from: each cluster's record, the
/// waves already promoted, the time each wave's bake began, and a halt in progress. Waves are
/// named, never numbered: a resumed run may execute a changed plan (`--replan`), and a wave
/// inserted, removed or reordered must not inherit another wave's state.
public struct RecordedRun: Sendable {
  public var clusters: [String: ClusterRunRecord]
  /// Names of the waves already promoted.
  public var promoted: Set<String>
  /// When each baking wave's bake began, by wave name.
  public var bakeStarted: [String: Date]
  /// Roll back every cluster the run changed, for this reason (`fleetwave rollback RUN`),
  /// or go on with the rollback of a halted wave (named).
  public var rollback: (wave: String?, reason: String, all: Bool)?

  public init(
    clusters: [String: ClusterRunRecord], promoted: Set<String> = [],
    bakeStarted: [String: Date] = [:], rollback: (wave: String?, reason: String, all: Bool)? = nil
  ) {
    self.clusters = clusters
    self.promoted = promoted
    self.bakeStarted = bakeStarted
    self.rollback = rollback
  }

  /// Why this recorded state cannot be carried onto `plan`, empty when it can. A cluster the
  /// run never finished that now sits in a wave the run already promoted would never be
  /// upgraded (promoted waves do not run again), and a halted wave that is gone leaves its
  /// rollback without clusters: both are refused rather than guessed at.
  public func conflicts(with plan: Plan) -> [String] {
    var problems: [String] = []
    let done: Set<ClusterPhase> = [.succeeded, .failed, .rolledBack, .rollbackFailed, .excluded]
    // A deferred cluster still waits to be tried in its wave: not done.
    for wave in plan.waves where promoted.contains(wave.name) {
      for name in wave.clusters {
        guard let record = clusters[name], done.contains(record.phase) || record.phase == .baking
        else {
          problems.append(
            "cluster '\(name)' is now in wave '\(wave.name)', which the run already promoted, "
              + "but was never upgraded there; move it to a wave that has not run yet")
          continue
        }
      }
    }
    if let rollback, !rollback.all, let wave = rollback.wave,
      !plan.waves.contains(where: { $0.name == wave })
    {
      problems.append(
        "wave '\(wave)' halted and is rolling back, but the changed plan has no wave of that name")
    }
    return problems
  }
}

/// Called on the executor's queue before an event's action is taken, with the cluster's
/// record when the event is about a cluster; throwing stops the run before the action.
public typealias WriteAhead = @Sendable (RolloutEvent, ClusterRunRecord?) throws -> Void
/// Calls its argument once every record written ahead so far is durable (nil), or with why
/// it cannot be.
public typealias RecordedBarrier = @Sendable (@escaping @Sendable (String?) -> Void) -> Void

public struct ExecutorError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
