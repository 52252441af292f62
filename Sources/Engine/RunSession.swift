// A run's durable side while an action runs it: the fleet's run lock, the run's journal (new
// or reopened), the translation of recorded state into what the executor resumes from, and
// what a run records of its own settings.
import Executor
import FleetCore
import Foundation
import Journal
import Planner
import Report

/// How a run action was asked to run; shared by rollout, resume and rollback.
public struct RunRequest: Sendable {
  /// At most this many clusters in flight at once.
  public var maxParallel: Int
  /// Waves approved on the command line (`*` for all); journaled before the run goes on.
  public var approve: [String] = []
  /// Who acts, for the journal (see `RunRecords.user`).
  public var by: String
  public var waiting: RunWaiting = .stop
  /// Go on without the fleet's run lock when another process holds it.
  public var force = false
  /// The --set arguments: only a salted, slow digest of them is journaled (they may be secrets).
  public var sets: [String] = []
  /// The digest of the other value flags and the files they read (`ValueOverrides.digest`),
  /// journaled like the --set digest.
  public var valueDigest: String?
  /// `--timeout`: how long one cluster may take, instead of the policy's `clusterTimeout`.
  public var clusterTimeout: Duration?
  /// Clusters outside the subset a new run acts on (`--cluster`, `-l`): journaled `excluded`.
  public var excluded: Set<String> = []
  /// What a new run records of its command line, so resume and rollback act as it did.
  public var settings: [String: String] = [:]

  public init(maxParallel: Int, by: String) {
    self.maxParallel = maxParallel
    self.by = by
  }

  var setDigest: String? {
    guard !sets.isEmpty else { return nil }
    return "sha256:" + SHA256.hex(Array(sets.joined(separator: "\u{0}").utf8))
  }
}

/// What a run does when nothing may start until later (a window, a bake, an approval).
public enum RunWaiting: Sendable, Equatable {
  /// Wait out windows and bakes; stop, resumable, at an approval.
  case stop
  /// Save the run and stop at the first wait (for cron and scheduled pipelines).
  case untilBlocked
  /// Wait through everything, looking for approvals and the end of a pause this often.
  case follow(poll: Duration)
}

/// One process's hold on a run: its lock and its open journal.
final class RunSession {
  let run: String
  /// This process, as the leases it takes name it.
  let instance: RunInstance
  let journal: any RunJournal
  private var lock: (any RunLease)?
  let rollback: Bool

  init(
    instance: RunInstance, journal: any RunJournal, lock: (any RunLease)?, rollback: Bool
  ) {
    self.run = instance.run
    self.instance = instance
    self.journal = journal
    self.lock = lock
    self.rollback = rollback
  }

  /// Takes the fleet's run lock, or says who holds it. `force` goes on without it.
  static func lock(
    store: any StateStore, fleet: String, instance: RunInstance, at date: Date, force: Bool,
    observer: any RunObserver
  ) throws(EngineError) -> (any RunLease)? {
    let run = instance.run
    do {
      let lock = try store.lock(fleet: fleet, instance: instance, at: date)
      if let previous = lock.previousHolder, previous.run != run,
        let stored = try? store.readRun(previous.run), stored.state.outcome == nil
      {
        observer.note(
          "note: \(previous) ended without finishing (its process is gone); "
            + "fleetwave resume \(previous.run) continues it")
      }
      return lock
    } catch {
      guard case .held(_, let holder) = error, force else { throw EngineError("\(error)") }
      observer.note(
        "warning: --force: going on without the lock held by \(holder); "
          + "both runs may now change the same clusters")
      return nil
    }
  }

  /// Journals the command line's approvals of waves that need one and have none yet.
  func approve(_ waves: [String], plan: Plan, by user: String) throws(EngineError) {
    let approved = journal.state.approvals
    for wave in plan.waves where wave.approval && approved[wave.name] == nil {
      if waves.contains(wave.name) || waves.contains("*") {
        try append(.approval(wave: wave.index, by: user, name: wave.name))
      }
    }
  }

  /// The journal's state as the executor takes it; nil when nothing has started yet.
  func recordedRun(plan: FleetCore.Plan, rollback: Bool) -> RecordedRun? {
    let state = journal.state
    if state.clusters.isEmpty && state.waves.isEmpty && !rollback { return nil }
    var waveOf: [String: Int] = [:]
    for wave in plan.waves { for name in wave.clusters { waveOf[name] = wave.index } }
    var clusters: [String: ClusterRunRecord] = [:]
    for (name, recorded) in state.clusters {
      guard let wave = waveOf[name] else { continue }
      let phase = ClusterPhase(rawValue: recorded.state) ?? .pending
      let upgraded: Set<ClusterPhase> = [.verifying, .baking, .succeeded]
      var record = ClusterRunRecord(
        name: name, wave: wave, phase: phase, fromRevision: recorded.fromRevision,
        toRevision: upgraded.contains(phase) ? recorded.revision : nil,
        startedAt: recorded.startedAt, finishedAt: recorded.finishedAt, error: recorded.error,
        rollbackRevision: phase == .rolledBack ? recorded.revision : nil)
      // A deferred cluster goes on with the attempts it has left, after its backoff.
      record.deferrals = recorded.deferrals
      record.deferredUntil = phase == .deferred ? recorded.deferredUntil : nil
      record.deferralReason = recorded.deferralReason
      clusters[name] = record
    }
    // Wave state is carried by wave name, so a changed plan (--replan) maps it correctly.
    var promoted: Set<String> = []
    var bakeStarted: [String: Date] = [:]
    for (name, waveState) in state.waves {
      if waveState == "promoted" { promoted.insert(name) }
      if waveState == "baking", let at = state.waveChangedAt[name] { bakeStarted[name] = at }
    }
    var rollbackFrom: (wave: String?, reason: String, all: Bool)?
    if rollback {
      rollbackFrom = (
        nil, "rollback of run \(run) requested by " + (state.lastResumedBy ?? "someone"), true
      )
    } else if let halted = plan.waves.map(\.name).first(where: { state.waves[$0] == "halted" })
      ?? state.waves.first(where: { $0.value == "halted" })?.key
    {
      rollbackFrom = (halted, state.haltReasons[halted] ?? "wave '\(halted)' had halted", false)
    }
    return RecordedRun(
      clusters: clusters, promoted: promoted, bakeStarted: bakeStarted, rollback: rollbackFrom)
  }

  /// Calls `handler` if the run's lock is lost while the run acts.
  func onLockLost(_ handler: @escaping @Sendable (String) -> Void) {
    lock?.onLost(handler)
  }

  /// Records how the pass ended and lets go of the lock.
  func finish(_ summary: RunSummary, blocked: Blocked?) {
    if let blocked {
      try? journal.append(.waiting(reason: blocked.reason))
    } else if rollback && summary.outcome != .interrupted {
      let failed = summary.clusters.contains { $0.phase == .rollbackFailed }
      try? journal.append(.runFinished(outcome: failed ? "rollback-failed" : "rolled-back"))
    }
    lock?.release()
    lock = nil
  }

  func append(_ entry: JournalEntry) throws(EngineError) {
    do {
      try journal.append(entry)
    } catch {
      throw EngineError(error.message)
    }
  }
}

/// Says whether a wave may start: approved on the command line or in the journal (by
/// `fleetwave approve`, possibly from another process while this one runs).
struct JournalApprovals: ApprovalSource {
  let journal: any RunJournal
  let approved: Set<String>

  func isApproved(run: String, wave: Wave) -> Bool {
    if approved.contains(wave.name) || approved.contains("*") { return true }
    journal.refresh()
    return journal.withState { $0.approvals[wave.name] != nil }
  }
}

/// Who acts, as runs record it.
public enum RunRecords {
  /// --by, else the CI system's user (GitHub Actions, GitLab CI), else the login user.
  public static func user(_ by: String?, environment: [String: String]) -> String {
    if let by, !by.isEmpty { return by }
    for variable in ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER", "LOGNAME"] {
      if let value = environment[variable], !value.isEmpty { return value }
    }
    return "unknown"
  }

  public static func user(_ by: String?) -> String {
    user(by, environment: ProcessInfo.processInfo.environment)
  }
}

/// How a changed fleet's plan differs from the plan a run froze at its start.
public enum PlanChanges {
  public static func between(frozen: Value, _ plan: FleetCore.Plan) -> [String] {
    var before: [String: [String]] = [:]
    var order: [String] = []
    for wave in frozen["waves"]?.sequence ?? [] {
      guard let name = wave["name"]?.string else { continue }
      order.append(name)
      before[name] = (wave["clusters"]?.sequence ?? []).compactMap {
        $0["name"]?.string ?? $0.string
      }
    }
    var changes: [String] = []
    for wave in plan.waves {
      let old = Set(before[wave.name] ?? [])
      let new = Set(wave.clusters)
      if before[wave.name] == nil {
        changes.append("wave \(wave.name): new, \(wave.clusters.count) clusters")
        continue
      }
      let added = new.subtracting(old).sorted()
      let removed = old.subtracting(new).sorted()
      if !added.isEmpty { changes.append("wave \(wave.name): + " + added.joined(separator: ", ")) }
      if !removed.isEmpty {
        changes.append("wave \(wave.name): - " + removed.joined(separator: ", "))
      }
    }
    for name in order where !plan.waves.contains(where: { $0.name == name }) {
      changes.append("wave \(name): removed")
    }
    return changes
  }
}

/// The system clock shifted to start at a chosen instant: `--now` rehearses a run at another
/// time (and lets tests drive scheduled runs) while time still passes at its real rate.
public struct OffsetClock: RolloutClock {
  let offset: TimeInterval
  private let system = SystemClock()

  public init(startingAt start: Date) { offset = start.timeIntervalSinceNow }

  public func now() -> Date { Date().addingTimeInterval(offset) }

  @discardableResult
  public func wait(until deadline: Date, cancellation: Cancellation?) -> Bool {
    system.wait(until: deadline.addingTimeInterval(-offset), cancellation: cancellation)
  }

  @discardableResult
  public func schedule(
    at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void
  ) -> Cancellation {
    system.schedule(at: deadline.addingTimeInterval(-offset), on: queue, work)
  }
}
