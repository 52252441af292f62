// The run actions: roll a release out (a new run), resume a run from its journal, roll a run
// back. Each is configured once and run; commands parse, build one, run it and print. An
// uninstall is one more action of the same shape: a session, a plan, and passes of an
// executor whose driver call is the uninstall.
import Drivers
import Executor
import FleetCore
import Foundation
import Inventory
import Journal
import Planner
import ProcessGroups
import Report

/// How a run action ended.
public struct RunResult {
  public var run: String
  /// Nil when there was nothing to do: `finishedBefore` says how the run had ended.
  public var summary: RunSummary?
  /// What the run waits for, when it stopped at a wait.
  public var blocked: Blocked?
  public var finishedBefore: String?
  public var isRollback: Bool
}

/// A new run of a fleet: freezes the plan in a new journal and runs it.
public struct RolloutAction {
  public var fleet: LoadedFleet
  public var plan: Plan
  public var store: any StateStore
  public var drivers: RunDrivers
  public var run: String
  public var request: RunRequest

  public init(
    fleet: LoadedFleet, plan: Plan, store: any StateStore, drivers: RunDrivers, run: String,
    request: RunRequest
  ) {
    self.fleet = fleet
    self.plan = plan
    self.store = store
    self.drivers = drivers
    self.run = run
    self.request = request
  }

  public func run(observer: any RunObserver) throws(EngineError) -> RunResult {
    let fleet = fleet.fleet
    let startedAt = drivers.clock.now()
    let instance = RunInstance(run: run)
    let lock = try RunSession.lock(
      store: store, fleet: fleet.name, instance: instance, at: startedAt, force: request.force,
      observer: observer)
    let planJSON: Value
    do {
      planJSON = try JSONReader.parse(PlanJSON.render(plan))
    } catch {
      throw EngineError("cannot freeze the plan: \(error)")
    }
    var settings = request.settings
    // Salted and slow: the flags may carry secrets, and a plain digest would confirm a guess.
    settings["setDigest"] = try SecretDigest.salted(request.setDigest)
    settings["valueDigest"] = try SecretDigest.salted(request.valueDigest)
    settings["clusterTimeout"] = request.clusterTimeout.map(DurationText.format)
    let header = RunHeader(
      id: run, fleet: fleet.name, release: fleet.release.name, version: fleet.release.version,
      fleetDigest: FleetDigest.of(directory: fleet.directory), plan: planJSON,
      startedAt: startedAt, host: ProcessInfo.processInfo.hostName, pid: getpid(),
      user: request.by,
      fleetDirectory: URL(fileURLWithPath: fleet.directory).standardizedFileURL.path,
      settings: settings, instance: instance.token)
    let journal = try store.createRun(header, clock: drivers.clock)
    let session = RunSession(instance: instance, journal: journal, lock: lock, rollback: false)
    try session.approve(request.approve, plan: plan, by: request.by)
    return try RunPasses(
      session: session, plan: plan, fleet: fleet, drivers: drivers, request: request,
      observer: observer
    ).run()
  }
}

/// Continues a recorded run where its journal says it stood: clusters recorded as done are
/// not touched again; the waves and clusters are the run's own (the fleet must be unchanged),
/// or, with `replan`, the changed fleet's, with recorded state carried over by name.
public struct ResumeAction {
  public var fleet: LoadedFleet
  public var store: any StateStore
  public var drivers: RunDrivers
  public var run: String
  public var request: RunRequest
  public var replan: Bool
  /// Roll back every cluster the run changed instead of going on (`fleetwave rollback RUN`).
  public var rollback: Bool
  /// Lift a pause: `resume` and `rollback` do; a scheduled `rollout --until-blocked` that
  /// continues the run does not, so a paused run stays paused until someone resumes it.
  public var liftsPause = true

  public init(
    fleet: LoadedFleet, store: any StateStore, drivers: RunDrivers, run: String,
    request: RunRequest, replan: Bool = false, rollback: Bool = false
  ) {
    self.fleet = fleet
    self.store = store
    self.drivers = drivers
    self.run = run
    self.request = request
    self.replan = replan
    self.rollback = rollback
  }

  public func run(observer: any RunObserver) throws(EngineError) -> RunResult {
    let fleet = fleet.fleet
    var instance = RunInstance(run: run)
    let lock = try RunSession.lock(
      store: store, fleet: fleet.name, instance: instance, at: drivers.clock.now(),
      force: request.force, observer: observer)
    let (journal, recovered) = try store.reopenRun(run, clock: drivers.clock)
    if let recovered { observer.note("note: \(recovered)") }
    let state = journal.state
    if let outcome = state.outcome, !rollback || outcome.hasPrefix("rolled") {
      lock?.release()
      return RunResult(
        run: run, summary: nil, blocked: nil, finishedBefore: outcome, isRollback: rollback)
    }
    let header = journal.header
    // --set values are not journaled (they may be secrets), only their digest: continuing
    // with other values would finish the run with a different release than it started.
    if try !SecretDigest.matches(request.setDigest, header.settings["setDigest"]) {
      throw EngineError(
        "run \(run) was started with "
          + (header.settings["setDigest"] == nil ? "no --set arguments" : "other --set arguments")
          + "; pass exactly the --set arguments it started with")
    }
    if try !SecretDigest.matches(request.valueDigest, header.settings["valueDigest"]) {
      throw EngineError(
        "run \(run) was started with "
          + (header.settings["valueDigest"] == nil ? "no" : "other")
          + " -f/--set-string/--set-json/--set-file values; pass exactly the value flags it "
          + "started with (and the same files)")
    }
    // The run goes on with the plan it froze at its start, as long as the fleet is the same
    // (its digest); a changed fleet is planned again at the run's start and recorded state
    // carried over by name (--replan). A journal whose plan cannot be read is planned again.
    let replanned = Planner().plan(fleet, start: header.startedAt)
    var plan = FrozenPlan.decode(header.plan) ?? replanned
    let digest = FleetDigest.of(directory: fleet.directory)
    if digest != header.fleetDigest {
      plan = replanned
      let changes = PlanChanges.between(frozen: header.plan, plan)
      guard replan || rollback else {
        throw EngineError(
          "the fleet changed since run \(run) started (digest "
            + "\(header.fleetDigest), now \(digest)); --replan goes on with the changed "
            + "fleet" + (changes.isEmpty ? "" : ":\n  " + changes.joined(separator: "\n  ")))
      }
      observer.say("replan: the fleet changed since run \(run) started")
      for change in changes.isEmpty ? ["the waves are the same"] : changes {
        observer.say("  " + change)
      }
    }
    // Holding the run's lock proves the run's earlier processes are gone, so this one takes
    // over their leases; without it (--force) it waits them out like any other holder's.
    instance.predecessors = lock == nil ? [] : state.instances
    let session = RunSession(instance: instance, journal: journal, lock: lock, rollback: rollback)
    // Every pass starts with a record saying who started it (history adds passes up); only
    // a pause that must stay is left without one, since `resumed` lifts it.
    if liftsPause || rollback || !state.paused {
      try session.append(
        .resumed(
          by: request.by, pid: getpid(), host: ProcessInfo.processInfo.hostName,
          instance: instance.token))
    }
    try session.approve(request.approve, plan: plan, by: request.by)
    return try RunPasses(
      session: session, plan: plan, fleet: fleet, drivers: drivers, request: request,
      observer: observer
    ).run()
  }
}

/// Runs passes of the executor over a run until it finishes, stops at a wait, or is
/// interrupted; following (`--follow`), passes repeat as approvals come in.
struct RunPasses {
  let session: RunSession
  let plan: Plan
  let fleet: Fleet
  let drivers: RunDrivers
  let request: RunRequest
  let observer: any RunObserver

  init(
    session: RunSession, plan: Plan, fleet: Fleet, drivers: RunDrivers, request: RunRequest,
    observer: any RunObserver
  ) {
    self.session = session
    self.plan = plan
    self.fleet = fleet
    self.drivers = drivers
    self.request = request
    self.observer = observer
  }

  func run() throws(EngineError) -> RunResult {
    // Each cluster in flight may hold a few descriptors; say so now rather than fail later.
    if let warning = DescriptorLimit.raise(forMaxParallel: request.maxParallel) {
      observer.note(warning)
    }
    var summary: RunSummary
    var blocked: Blocked?
    var announced: String?
    // One signal handler for the whole action: it interrupts the pass running now, or ends
    // a --follow wait between passes, so SIGINT/SIGTERM are honoured in every phase.
    let interrupts = RunInterrupts()
    let observer = self.observer
    let signals = InterruptSignals { _, count in
      // On a terminal the live view says it in its frame; a line here would tear the frame.
      if count == 1, isatty(STDOUT_FILENO) != 1 {
        FileHandle.standardError.write(
          Data("\ninterrupt: finishing clusters in flight; interrupt again to cancel them\n".utf8))
      }
      interrupts.interrupt()
    }
    // A lock that can be lost (a lease in the home cluster) fences the run: nothing new starts
    // and clusters in flight are cancelled, as after a second interrupt.
    session.onLockLost { reason in
      FileHandle.standardError.write(Data("\nerror: \(reason)\n".utf8))
      interrupts.interrupt()
      interrupts.interrupt()
    }
    repeat {
      (summary, blocked) = try withExtendedLifetime(signals) { () throws(EngineError) in
        try pass(interrupts: interrupts)
      }
      guard case .follow(let poll) = request.waiting, let wait = blocked, wait.until == nil,
        !interrupts.requested
      else { break }
      // Following, an approval or the end of a pause comes from another process.
      if announced != wait.reason {
        announced = wait.reason
        observer.say("waiting for: \(wait.reason)")
      }
      if let manual = drivers.virtualClock {
        // Virtual time stands still between passes: the approval comes in real time, so
        // the poll sleeps on the system clock and virtual time moves on by as much.
        SystemClock().wait(for: poll, cancellation: interrupts.stopWaiting)
        manual.advance(by: poll)
      } else {
        drivers.clock.wait(for: poll, cancellation: interrupts.stopWaiting)
      }
    } while !interrupts.requested
    session.finish(summary, blocked: blocked)
    // The reports describe the run, every pass of it, as its journal holds it.
    let report = session.journal.withState {
      JournalSummary.summary(of: $0, plan: plan, pass: summary)
    }
    return RunResult(
      run: session.run, summary: report, blocked: blocked, finishedBefore: nil,
      isRollback: session.rollback)
  }

  /// One pass of the executor over the run as its journal stands.
  private func pass(interrupts: RunInterrupts) throws(EngineError) -> (RunSummary, Blocked?) {
    let policy = fleet.rollout
    let journal = session.journal
    for gate in drivers.waveEntryGates {
      (gate as? PreflightGate)?.checking(for: session.instance)
    }
    let executor: Executor
    do {
      executor = try Executor(
        plan: plan, clusters: fleet.clusters, driver: drivers.driver, gates: drivers.gates,
        waveGates: drivers.waveGates, waveEntryGates: drivers.waveEntryGates,
        clock: drivers.clock,
        approvals: JournalApprovals(journal: journal, approved: Set(request.approve)),
        options: ExecutorOptions(
          run: session.run, instance: session.instance, maxParallel: request.maxParallel,
          failurePolicy: policy.failurePolicy,
          clusterTimeout: request.clusterTimeout ?? policy.clusterTimeout,
          startTimes: StartTimes(fleet: fleet),
          waiting: request.waiting == .untilBlocked ? .untilBlocked : .follow,
          resumeFrom: session.recordedRun(plan: plan, rollback: session.rollback),
          pausedBy: {
            // Reads only what another process appended since (a pause): never a replay.
            journal.refresh()
            return journal.withState { $0.paused ? $0.pausedBy ?? "someone" : nil }
          }
        ).resumedRun(startedAt: journal.header.startedAt, excluding: request.excluded))
    } catch {
      throw EngineError(error.message)
    }
    let rollingBack = session.rollback
    let waveNames = plan.waves.map(\.name)
    executor.recordAhead { event, record in
      if rollingBack, case .runFinished = event { return }
      guard let entry = RunRecorder.entry(for: event, cluster: record, waves: waveNames) else {
        return
      }
      // Each --follow pass finds the wave where the last one left it (waiting for approval):
      // a state the journal already holds is not written again.
      if case .wave(_, let state, let name?, nil) = entry,
        journal.withState({ $0.waves[name] == state })
      {
        return
      }
      try journal.record(entry)
    }
    // The journal writes in batches: an action waits for its record's batch to be on disk.
    executor.actAfterRecorded { act in journal.whenDurable { act($0?.message) } }
    observer.passStarting(
      executor, plan: plan, maxParallel: request.maxParallel, clock: drivers.clock)
    interrupts.running(executor)
    let summary = drivers.virtualClock.map { executor.runInVirtualTime($0) } ?? executor.run()
    interrupts.running(nil)
    do {
      try journal.flush()
    } catch {
      throw EngineError("cannot write the journal: \(error.message)")
    }
    observer.passEnded()
    return (summary, executor.blockedBy)
  }
}

/// Where this process's interrupts go: the executor of the pass running now (the first stops
/// new work, the second cancels what is in flight), and the wait between --follow passes.
final class RunInterrupts: @unchecked Sendable {
  private let lock = NSLock()
  private var executor: Executor?
  private var count = 0
  /// Cancelled by the first interrupt: ends a wait between passes at once.
  let stopWaiting = Cancellation()

  var requested: Bool { stopWaiting.isCancelled }

  /// The pass now running; an interrupt that came before it started is passed on at once.
  func running(_ executor: Executor?) {
    lock.lock()
    self.executor = executor
    let missed = count
    lock.unlock()
    for _ in 0..<missed { executor?.interrupt() }
  }

  func interrupt() {
    lock.lock()
    count += 1
    let executor = self.executor
    lock.unlock()
    stopWaiting.cancel()
    executor?.interrupt()
  }
}

extension ExecutorOptions {
  /// These options for a pass of a run whose journal began at `startedAt`, leaving
  /// `excluded` clusters alone (a resumed run finds them so in its journal).
  func resumedRun(startedAt: Date, excluding excluded: Set<String>) -> ExecutorOptions {
    var options = self
    options.startedAt = startedAt
    options.excluded = excluded
    return options
  }
}
