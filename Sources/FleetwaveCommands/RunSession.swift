// A rollout's durable side: the fleet's run lock, the run's journal (new or reopened), the
// state a resumed run starts from, and the clock a rehearsal (--now) runs on.
import ArgumentParser
import Executor
import FleetCore
import Foundation
import Journal
import Planner
import Report

/// One process's hold on a run: its lock and its open journal.
final class RunSession {
  let run: String
  let journal: Journal
  private var lock: RunLock?
  private let rollback: Bool

  private init(run: String, journal: Journal, lock: RunLock?, rollback: Bool) {
    self.run = run
    self.journal = journal
    self.lock = lock
    self.rollback = rollback
  }

  /// Takes the fleet's run lock, or says who holds it and exits 1. `force` goes on without it.
  static func lock(store: RunStore, fleet: String, run: String, at date: Date, force: Bool) throws
    -> RunLock?
  {
    do {
      let lock = try RunLock.acquire(
        stateDirectory: store.stateDirectory, fleet: fleet, run: run, at: date)
      if let previous = lock.previousHolder, previous.run != run,
        RunRecords.outcome(store: store, run: previous.run) == .some(nil)
      {
        printError(
          "note: \(previous) ended without finishing (its process is gone); "
            + "fleetwave resume \(previous.run) continues it")
      }
      return lock
    } catch {
      guard case .held(_, let holder) = error, force else {
        printError("error: \(error)")
        throw ExitCode(1)
      }
      printError(
        "warning: --force: going on without the lock held by \(holder); "
          + "both runs may now change the same clusters")
      return nil
    }
  }

  /// Reopens a run's journal, repairing a last line torn by a crash.
  static func reopen(store: RunStore, run: String) throws -> Journal {
    do {
      let (journal, recovered) = try Journal.reopen(store: store, run: run)
      if let recovered { printError("note: \(recovered)") }
      return journal
    } catch {
      printError("error: \(error)")
      throw ExitCode(1)
    }
  }

  /// Starts a new run's journal, or checks and continues a recorded one.
  static func begin(
    store: RunStore, run: String, lock: RunLock?, recorded: Journal?, fleet: Fleet,
    plan: FleetCore.Plan, clock: any RolloutClock, command: FleetwaveCommand.Rollout
  ) throws -> RunSession {
    let user = RunRecords.user(command.by)
    let journal: Journal
    let rollback = command.rollbackRun != nil
    if let recorded {
      journal = recorded
      let state = journal.state
      if let outcome = state.outcome, !rollback || outcome.hasPrefix("rolled") {
        print("run \(run) already finished: \(outcome); nothing to do")
        throw ExitCode(0)
      }
      // --set values are not journaled (they may be secrets), only their digest: continuing
      // with other values would finish the run with a different release than it started.
      if RunSettings.setDigest(command) != journal.header.settings["setDigest"] {
        printError(
          "error: run \(run) was started with "
            + (journal.header.settings["setDigest"] == nil
              ? "no --set arguments" : "other --set arguments")
            + "; pass exactly the --set arguments it started with")
        throw ExitCode(1)
      }
      let digest = FleetDigest.of(directory: fleet.directory)
      if digest != journal.header.fleetDigest {
        let changes = PlanChanges.between(frozen: journal.header.plan, plan)
        guard command.replan else {
          printError(
            "error: the fleet changed since run \(run) started (digest "
              + "\(journal.header.fleetDigest), now \(digest)); --replan goes on with the changed "
              + "fleet" + (changes.isEmpty ? "" : ":\n  " + changes.joined(separator: "\n  ")))
          throw ExitCode(1)
        }
        print("replan: the fleet changed since run \(run) started")
        for change in changes.isEmpty ? ["the waves are the same"] : changes {
          print("  " + change)
        }
      }
      if command.resumeRun != nil || rollback {
        try append(
          journal,
          .resumed(by: user, pid: getpid(), host: ProcessInfo.processInfo.hostName))
      }
    } else {
      let planJSON: Value
      do {
        planJSON = try JSONReader.parse(PlanJSON.render(plan))
      } catch {
        printError("error: cannot freeze the plan: \(error)")
        throw ExitCode(1)
      }
      let header = RunHeader(
        id: run, fleet: fleet.name, release: fleet.release.name, version: fleet.release.version,
        fleetDigest: FleetDigest.of(directory: fleet.directory), plan: planJSON,
        startedAt: clock.now(), host: ProcessInfo.processInfo.hostName, pid: getpid(), user: user,
        fleetDirectory: URL(fileURLWithPath: fleet.directory).standardizedFileURL.path,
        settings: RunSettings.of(command, fleet: fleet))
      do {
        journal = try Journal.create(store: store, header: header, clock: clock)
      } catch {
        printError("error: \(error)")
        throw ExitCode(1)
      }
    }
    let approved = journal.state.approvals
    for wave in plan.waves where wave.approval && approved[wave.name] == nil {
      if command.approve.contains(wave.name) || command.approve.contains("*") {
        try append(journal, .approval(wave: wave.index, by: user, name: wave.name))
      }
    }
    return RunSession(run: run, journal: journal, lock: lock, rollback: rollback)
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
      clusters[name] = ClusterRunRecord(
        name: name, wave: wave, phase: phase, fromRevision: recorded.fromRevision,
        toRevision: upgraded.contains(phase) ? recorded.revision : nil,
        startedAt: recorded.startedAt, finishedAt: recorded.finishedAt, error: recorded.error,
        rollbackRevision: phase == .rolledBack ? recorded.revision : nil)
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

  private static func append(_ journal: Journal, _ entry: JournalEntry) throws {
    do {
      try journal.append(entry)
    } catch {
      printError("error: \(error)")
      throw ExitCode(1)
    }
  }
}

/// Says whether a wave may start: approved on the command line or in the journal (by
/// `fleetwave approve`, possibly from another process while this one runs).
struct JournalApprovals: ApprovalSource {
  let journal: Journal
  let approved: Set<String>

  func isApproved(run: String, wave: Wave) -> Bool {
    if approved.contains(wave.name) || approved.contains("*") { return true }
    journal.refresh()
    return journal.withState { $0.approvals[wave.name] != nil }
  }
}

/// Reading the runs a state directory holds.
enum RunRecords {
  /// The outcome of a run: nil when it has no readable journal, .some(nil) when unfinished.
  static func outcome(store: RunStore, run: String) -> String?? {
    guard let contents = try? JournalFile.read(path: store.journalPath(run)) else { return nil }
    return .some(RunState(records: contents.records).outcome)
  }

  /// The latest unfinished run of a fleet, which `rollout --until-blocked` continues.
  static func unfinished(in store: RunStore, fleet: String) -> String? {
    for run in store.runIDs().reversed() {
      guard let contents = try? JournalFile.read(path: store.journalPath(run)) else { continue }
      let state = RunState(records: contents.records)
      if state.header?.fleet == fleet && state.outcome == nil { return run }
    }
    return nil
  }

  /// Who acts: --by, else the environment's user.
  static func user(_ by: String?) -> String {
    let environment = ProcessInfo.processInfo.environment
    return by ?? environment["USER"] ?? environment["LOGNAME"] ?? "unknown"
  }
}

/// How a changed fleet's plan differs from the plan a run froze at its start.
enum PlanChanges {
  static func between(frozen: Value, _ plan: FleetCore.Plan) -> [String] {
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
struct OffsetClock: RolloutClock {
  let offset: TimeInterval
  private let system = SystemClock()

  init(startingAt start: Date) { offset = start.timeIntervalSinceNow }

  func now() -> Date { Date().addingTimeInterval(offset) }

  @discardableResult
  func wait(until deadline: Date, cancellation: Cancellation?) -> Bool {
    system.wait(until: deadline.addingTimeInterval(-offset), cancellation: cancellation)
  }

  @discardableResult
  func schedule(at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void)
    -> Cancellation
  {
    system.schedule(at: deadline.addingTimeInterval(-offset), on: queue, work)
  }
}

/// What a run records of its own command line, so `resume` and `rollback` act as it did.
enum RunSettings {
  static func of(_ command: FleetwaveCommand.Rollout, fleet: Fleet) -> [String: String] {
    var settings = ["driver": command.driver ?? fleet.release.driver.rawValue]
    if let maxParallel = command.maxParallel { settings["maxParallel"] = String(maxParallel) }
    if let kubeconfig = command.kube.connection.kubeconfig {
      settings["kubeconfig"] = URL(fileURLWithPath: kubeconfig).standardizedFileURL.path
    }
    if let digest = setDigest(command) { settings["setDigest"] = digest }
    return settings
  }

  static func setDigest(_ command: FleetwaveCommand.Rollout) -> String? {
    guard !command.sets.isEmpty else { return nil }
    return "sha256:" + SHA256.hex(Array(command.sets.joined(separator: "\u{0}").utf8))
  }
}
