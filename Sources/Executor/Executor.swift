// The rollout engine: runs a plan's waves through a driver and health gates under limits,
// budgets, bake timers, halt and rollback. One serial queue owns every piece of run state.
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

  public init(
    run: String, maxParallel: Int = 10, failurePolicy: FailurePolicy = FailurePolicy(),
    clusterTimeout: Duration = .seconds(1800), startTimes: StartTimes? = nil,
    waiting: WaitingMode = .follow, resumeFrom: RecordedRun? = nil,
    pausedBy: (@Sendable () -> String?)? = nil
  ) {
    self.run = run
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
    let done: Set<ClusterPhase> = [.succeeded, .failed, .rolledBack, .rollbackFailed]
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

public struct ExecutorError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

public final class Executor: @unchecked Sendable {
  public let plan: Plan
  public let options: ExecutorOptions
  public let driver: any Driver
  public let gates: [any HealthGate]
  public let waveGates: [any HealthGate]
  public let clock: any RolloutClock
  public let approvals: any ApprovalSource

  /// Owns everything below; nothing else touches it.
  private let queue = DispatchQueue(label: "fleetwave.executor")
  private let onQueue = DispatchSpecificKey<Bool>()
  private let transit = Transit()
  private let delivered = DispatchSemaphore(value: 0)

  private var observers: [@Sendable (RolloutEvent) -> Void] = []
  private var writeAheads: [WriteAhead] = []
  /// Set when the journal could not be written: nothing more may start.
  private var recordingFailed: String?
  private var blocked: Blocked?
  private var windowTimer: Cancellation?
  private var windowTimerAt: Date?
  private var announcedWait: Date?
  private var rollbackEverything = false
  private var completion: (@Sendable (RunSummary) -> Void)?
  private var slots: [Slot]
  /// Slot index by cluster name: every event about a cluster finds its slot in constant time.
  private let slotByName: [String: Int]
  private var waves: [WaveRunRecord]
  private var stage = Stage.notStarted
  private var startedAt: Date?
  private var finishedAt: Date?
  private var outcome: RunOutcome?
  private var reason: String?
  private var waitingForApproval: String?
  private var pending = PendingClusters()
  private var inFlight = 0
  private var inFlightByDomain: [String: Int] = [:]
  /// Driver and gate calls whose results have not been handled yet.
  private var outstanding = 0
  /// Gate calls blocking a worker thread right now.
  private var runningWorkers = 0
  private var totalFailures = 0
  private var halt: (wave: Int, reason: String)?
  private var interrupts = 0
  private var timer: Cancellation?
  /// The wave gate running after a bake: only a wait, so the first interrupt ends it.
  private var waveGateCancellation: Cancellation?
  private var rollbackGroups: [[Int]] = []
  /// Set by `runInVirtualTime`: gates run inline instead of on threads of their own.
  private var virtualTime = false

  private enum Stage: Equatable {
    case notStarted
    case upgrading(Int)
    case baking(Int)
    case stopping
    case rollingBack
    case finished
  }

  private struct Slot {
    var record: ClusterRunRecord
    let cluster: Cluster
    let domain: String
    var cancellation = Cancellation()
    /// Cancelled by a halt or a second interrupt, not failed on its own.
    var cancelledBy: String?
    /// The cluster's deadline (`clusterTimeout` after its change began), while it is in flight.
    var deadline: Cancellation?
    /// The driver or gate call the cluster waits on now.
    var call: PendingCall?
  }

  public init(
    plan: Plan, clusters: [Cluster], driver: any Driver, gates: [any HealthGate] = [],
    waveGates: [any HealthGate] = [], clock: any RolloutClock = SystemClock(),
    approvals: any ApprovalSource = StaticApprovals(), options: ExecutorOptions
  ) throws(ExecutorError) {
    self.plan = plan
    self.options = options
    self.driver = driver
    self.gates = gates
    self.waveGates = waveGates
    self.clock = clock
    self.approvals = approvals
    var byName: [String: Cluster] = [:]
    for cluster in clusters { byName[cluster.name] = cluster }
    var seen: Set<String> = []
    var slots: [Slot] = []
    for wave in plan.waves {
      if wave.isCanary && wave.index != plan.waves.first?.index {
        throw ExecutorError("canary wave '\(wave.name)' must be the first wave")
      }
      for name in wave.clusters {
        guard let cluster = byName[name] else {
          throw ExecutorError("wave '\(wave.name)' names unknown cluster '\(name)'")
        }
        guard seen.insert(name).inserted else {
          throw ExecutorError("cluster '\(name)' is in more than one wave")
        }
        slots.append(
          Slot(
            record: ClusterRunRecord(name: name, wave: wave.index), cluster: cluster,
            domain: cluster.domain(plan.spreadBy)))
      }
    }
    if let recorded = options.resumeFrom {
      let conflicts = recorded.conflicts(with: plan)
      if !conflicts.isEmpty {
        throw ExecutorError(
          "cannot carry run \(options.run)'s recorded state onto this plan:\n  "
            + conflicts.joined(separator: "\n  "))
      }
    }
    self.slots = slots
    self.slotByName = Dictionary(
      uniqueKeysWithValues: slots.enumerated().map { ($0.element.record.name, $0.offset) })
    self.waves = plan.waves.map {
      WaveRunRecord(
        index: $0.index, name: $0.name, isCanary: $0.isCanary, clusters: $0.clusters,
        allowedFailures: $0.allowedFailures)
    }
    queue.setSpecific(key: onQueue, value: true)
  }

  /// Registers an observer; events arrive in order on the executor's queue, so an observer
  /// must be quick (copy what it needs and return). Call before `start`.
  public func observe(_ observer: @escaping @Sendable (RolloutEvent) -> Void) {
    queue.sync { observers.append(observer) }
  }

  /// Registers a write-ahead hook (the journal): it sees every event before observers do and
  /// before the action it announces, and a throw stops the run. Call before `start`.
  public func recordAhead(_ hook: @escaping WriteAhead) {
    queue.sync { writeAheads.append(hook) }
  }

  /// Why the run stopped unfinished (a window, a bake, an approval, a pause), once it has.
  public var blockedBy: Blocked? { queue.sync { blocked } }

  /// Starts the run; `completion` gets the summary once the run finished or stopped.
  public func start(completion: @escaping @Sendable (RunSummary) -> Void = { _ in }) {
    queue.async { [self] in
      guard stage == .notStarted else {
        // Interrupted before it started: report that rather than wait forever.
        if stage == .finished { completion(makeSummary()) }
        return
      }
      self.completion = completion
      transit.touch()
      startedAt = options.startedAt ?? clock.now()
      emit(.runStarted(run: options.run, at: clock.now()))
      if let recorded = options.resumeFrom {
        resume(recorded)
      } else {
        beginWave(0)
      }
    }
  }

  /// Starts the run and blocks until it is over.
  public func run() -> RunSummary {
    let done = DispatchSemaphore(value: 0)
    let box = SummaryBox()
    start { summary in
      box.summary = summary
      done.signal()
    }
    done.wait()
    return box.summary ?? summary()
  }

  /// First call: start nothing new, let in-flight clusters reach a safe point, then stop
  /// (`interrupted`). Second call: cancel what is in flight.
  public func interrupt() {
    queue.async { [self] in
      transit.touch()
      guard stage != .finished else { return }
      interrupts += 1
      emit(.interruptRequested(forced: interrupts > 1, at: clock.now()))
      if stage == .notStarted {
        startedAt = clock.now()
        finish(.interrupted, "interrupted before any cluster started")
        return
      }
      timer?.cancel()
      timer = nil
      // A wave gate changes nothing: it is a wait, ended by the first interrupt.
      waveGateCancellation?.cancel()
      if interrupts > 1 {
        for index in slots.indices where slots[index].record.phase.isInFlight {
          slots[index].cancelledBy = "interrupted"
          slots[index].cancellation.cancel()
        }
      }
      if reason == nil { reason = "interrupted" }
      if stage != .rollingBack { stage = .stopping }
      step()
    }
  }

  /// A snapshot of the run as it stands.
  public func summary() -> RunSummary {
    if DispatchQueue.getSpecific(key: onQueue) == true { return makeSummary() }
    return queue.sync { makeSummary() }
  }

  public var isFinished: Bool { queue.sync { stage == .finished } }

  /// Returns once nothing is moving but the clock: every driver call is parked on a clock
  /// timer and no gate is running. For virtual-time runs (a `ManualClock` and drivers that
  /// wait on it, like `sim`), where the next thing to do is to advance the clock.
  public func settle() {
    var lastActivity = -1
    while true {
      let (quiet, activity) = queue.sync {
        (runningWorkers == 0 && transit.count == 0, transit.activity)
      }
      if quiet && activity == lastActivity { return }
      if !quiet { delivered.wait() }
      lastActivity = activity
    }
  }

  /// Runs the whole plan at virtual time: advances `clock` straight to each next timer.
  ///
  /// Deterministic for a given plan and sim seed: gates run on the queue itself (a virtual-time
  /// gate does not wait), and the queue is held while the clock fires everything due at one
  /// instant, so completions are handled in timer order rather than in thread-race order.
  public func runInVirtualTime(_ clock: ManualClock) -> RunSummary {
    queue.sync { virtualTime = true }
    start()
    while true {
      settle()
      if isFinished { break }
      guard let next = clock.nextDeadline else { break }
      queue.suspend()
      clock.advance(to: next)
      queue.resume()
    }
    return summary()
  }

  // MARK: - Waves

  /// Starts a wave at once. Maintenance windows are the planner's estimate for now: the
  /// executor does not wait for `earliestStart`, which for later waves is a projection.
  private func beginWave(_ index: Int) {
    guard index < plan.waves.count else {
      let failed = slots.contains { $0.record.phase == .failed }
      finish(failed ? .failed : .succeeded, failed ? "some clusters failed within the budget" : nil)
      return
    }
    // A resumed run's promoted waves stay promoted, wherever a changed plan put them.
    if waves[index].phase == .promoted {
      beginWave(index + 1)
      return
    }
    let wave = plan.waves[index]
    if wave.approval && !approvals.isApproved(run: options.run, wave: wave) {
      waves[index].phase = .waitingForApproval
      waitingForApproval = wave.name
      emit(.waveWaiting(wave: index, phase: .waitingForApproval, until: nil, at: clock.now()))
      blocked = Blocked(
        reason: "approval of wave '\(wave.name)' (fleetwave approve \(options.run) --wave "
          + "\(wave.name))", until: nil)
      finish(.interrupted, "waiting for approval of wave '\(wave.name)'")
      return
    }
    stage = .upgrading(index)
    waves[index].phase = .running
    waves[index].startedAt = waves[index].startedAt ?? clock.now()
    emit(.waveStarted(wave: index, at: clock.now()))
    let members = slots.indices.filter { slots[$0].record.wave == wave.index }
    pending = PendingClusters(members.filter { slots[$0].record.phase == .pending })
    // A resumed run finds clusters it left mid-change: ask their driver where they stand.
    for slot in members where [.upgrading, .verifying].contains(slots[slot].record.phase) {
      startUpgrade(slot, reexamining: true)
    }
    step()
  }

  /// Picks a resumed run up where its journal left it: failures count against the budgets,
  /// promoted waves stay promoted, a bake goes on from when it began, a halt's rollback goes on.
  private func resume(_ recorded: RecordedRun) {
    for index in slots.indices {
      guard var record = recorded.clusters[slots[index].record.name] else { continue }
      record.wave = slots[index].record.wave
      slots[index].record = record
      if record.phase == .failed || record.phase == .rollbackFailed
        || (record.phase == .rolledBack && record.error != nil)
      {
        waves[record.wave].failures += 1
        totalFailures += 1
      }
    }
    for index in waves.indices where recorded.promoted.contains(waves[index].name) {
      waves[index].phase = .promoted
    }
    if let rollback = recorded.rollback {
      rollbackEverything = rollback.all
      let halted = rollback.wave.flatMap { name in plan.waves.firstIndex { $0.name == name } }
      halt = (halted ?? max(0, plan.waves.count - 1), rollback.reason)
      reason = rollback.reason
      stage = .stopping
      step()
      return
    }
    guard let index = waves.indices.first(where: { waves[$0].phase != .promoted }) else {
      beginWave(plan.waves.count)
      return
    }
    let members = slots.filter { $0.record.wave == index }
    let settled: Set<ClusterPhase> = [.baking, .succeeded, .failed, .rolledBack, .rollbackFailed]
    if let began = recorded.bakeStarted[waves[index].name],
      members.allSatisfy({ settled.contains($0.record.phase) })
    {
      stage = .upgrading(index)
      waves[index].phase = .running
      waveFinished(index, bakeBegan: began)
      return
    }
    beginWave(index)
  }

  /// The scheduling step, after every change: start what the limits allow, close the wave
  /// when it is done, or move a stopping run on to rollback or to its end.
  private func step() {
    switch stage {
    case .upgrading(let index):
      let wait = startUpgrades(index)
      guard stage == .upgrading(index) else { return }
      if pending.isEmpty && inFlight == 0 && outstanding == 0 {
        waveFinished(index)
      } else if let wait {
        waitToStart(index, wait)
      }
    case .stopping:
      guard outstanding == 0 else { return }
      if let halt, interrupts == 0 {
        startRollback(halt.wave)
      } else if let halt {
        finish(.interrupted, halt.reason + "; interrupted before rollback")
      } else {
        finish(.interrupted, reason)
      }
    case .rollingBack:
      if interrupts == 0 { startRollbacks() }
      guard inFlight == 0 && outstanding == 0 else { return }
      if interrupts > 0 {
        finish(.interrupted, reason)
      } else if let group = rollbackGroups.first, !group.isEmpty {
        return
      } else if rollbackGroups.isEmpty {
        let failedRollbacks = slots.filter { $0.record.phase == .rollbackFailed }.map(\.record.name)
        var why = halt?.reason ?? "halted"
        if !failedRollbacks.isEmpty {
          why += "; rollback failed for " + failedRollbacks.joined(separator: ", ")
        }
        finish(.halted, why)
      } else {
        rollbackGroups.removeFirst()
        step()
      }
    case .notStarted, .baking, .finished:
      return
    }
  }

  /// Nothing pending may start yet. Following, sleep on the clock until the first may;
  /// until blocked, stop once what is in flight has landed, and say what the run waits for.
  private func waitToStart(_ index: Int, _ wait: Blocked) {
    switch options.waiting {
    case .untilBlocked:
      guard inFlight == 0 && outstanding == 0 else { return }
      waves[index].phase = .waitingForWindow
      emit(.waveWaiting(wave: index, phase: .waitingForWindow, until: wait.until, at: clock.now()))
      blocked = wait
      finish(.interrupted, "waiting for " + wait.reason)
    case .follow:
      guard let until = wait.until else {
        guard inFlight == 0 && outstanding == 0 else { return }
        blocked = wait
        finish(.interrupted, "waiting for " + wait.reason)
        return
      }
      if windowTimerAt.map({ until < $0 }) ?? true {
        windowTimer?.cancel()
        windowTimerAt = until
        windowTimer = clock.schedule(at: until, on: queue) { [self] in
          transit.touch()
          windowTimer = nil
          windowTimerAt = nil
          announcedWait = nil
          guard stage == .upgrading(index) else { return }
          waves[index].phase = .running
          step()
        }
      }
      // Say so once the wave has nothing else to do but wait.
      if inFlight == 0 && outstanding == 0 && announcedWait != windowTimerAt {
        announcedWait = windowTimerAt
        waves[index].phase = .waitingForWindow
        emit(
          .waveWaiting(
            wave: index, phase: .waitingForWindow, until: windowTimerAt ?? until, at: clock.now()))
      }
    }
  }

  private func waveFinished(_ index: Int, bakeBegan: Date? = nil) {
    let wave = plan.waves[index]
    stage = .baking(index)
    waves[index].phase = .baking
    let began = bakeBegan ?? clock.now()
    let until = began.addingTimeInterval(DurationText.seconds(wave.bake))
    if bakeBegan == nil { emit(.waveBaking(wave: index, until: until, at: clock.now())) }
    if until <= clock.now() {
      bakeEnded(index)
      return
    }
    if options.waiting == .untilBlocked {
      let wait = Blocked(
        reason: "the bake of wave '\(wave.name)' to end at \(Timestamp.iso(until))", until: until)
      blocked = wait
      finish(.interrupted, "waiting for " + wait.reason)
      return
    }
    timer = clock.schedule(at: until, on: queue) { [self] in
      transit.touch()
      guard stage == .baking(index) else { return }
      bakeEnded(index)
    }
  }

  private func bakeEnded(_ index: Int) {
    timer = nil
    let members = slots.filter { $0.record.wave == index && $0.record.phase == .baking }
    guard !waveGates.isEmpty, !members.isEmpty else {
      promote(index)
      return
    }
    let clusters = members.map(\.cluster)
    let cancellation = Cancellation()
    waveGateCancellation = cancellation
    onWorker { [waveGates, clock] in
      Self.verify(waveGates, clusters, clock, cancellation)
    } then: { [self] results in
      waveGateCancellation = nil
      waves[index].gates = results
      for result in results {
        for measurement in result.measurements {
          emit(.measurement(cluster: nil, wave: index, measurement))
        }
        emit(.gateResult(cluster: nil, wave: index, result))
      }
      guard stage == .baking(index) else {
        step()
        return
      }
      if let failed = results.first(where: { !$0.passed }) {
        haltRun(index, "wave gate '\(failed.gate)' failed: \(failed.summary)")
        step()
      } else {
        promote(index)
      }
    }
  }

  private func promote(_ index: Int) {
    for slot in slots.indices where slots[slot].record.wave == index {
      if slots[slot].record.phase == .baking { setPhase(slot, .succeeded) }
    }
    waves[index].phase = .promoted
    waves[index].finishedAt = clock.now()
    emit(.wavePromoted(wave: index, at: clock.now()))
    beginWave(index + 1)
  }

  // MARK: - Clusters

  private func limits(_ waveIndex: Int) -> (parallel: Int, perDomain: Int?) {
    let wave = plan.waves[waveIndex]
    let waveLimit = wave.maxParallel > 0 ? wave.maxParallel : Int.max
    return (max(1, min(options.maxParallel, waveLimit)), wave.maxPerDomain.map { max(1, $0) })
  }

  /// Starts pending clusters in plan order; one whose domain is full, or whose window is
  /// closed, is passed over (not dropped) so the next one can go. Returns what the first
  /// passed-over cluster waits for when nothing pending may start now.
  private func startUpgrades(_ waveIndex: Int) -> Blocked? {
    if pending.isEmpty || recordingFailed != nil { return nil }
    if let pausedBy = options.pausedBy?() {
      return Blocked(
        reason: "the run to be resumed (paused by \(pausedBy); fleetwave resume \(options.run))",
        until: nil)
    }
    let (parallel, perDomain) = limits(waveIndex)
    let now = clock.now()
    var position = 0
    while inFlight < parallel && position < pending.count {
      let slot = pending[position]
      if options.startTimes?.wait(for: slots[slot].record.name, at: now) != nil {
        position += 1
        continue
      }
      if let perDomain, inFlightByDomain[slots[slot].domain, default: 0] >= perDomain {
        position += 1
        continue
      }
      pending.remove(at: position)
      startUpgrade(slot)
      if recordingFailed != nil { return nil }
    }
    // Only a wait that holds back every pending cluster blocks the wave; it lasts until the
    // first of them may start.
    var earliest: Blocked?
    for slot in pending {
      guard let wait = options.startTimes?.wait(for: slots[slot].record.name, at: now) else {
        return nil
      }
      let sooner =
        earliest == nil
        || (wait.opensAt.map { opens in earliest?.until.map { opens < $0 } ?? true } ?? false)
      if sooner {
        earliest = Blocked(
          reason: wait.reason, until: wait.opensAt, neverWithinHorizon: wait.opensAt == nil)
      }
    }
    return earliest
  }

  /// Upgrades one cluster. Re-examining (a resumed run's cluster that was mid-change), the
  /// driver's current revision decides: already at the target, it is verified; else upgraded.
  private func startUpgrade(_ slot: Int, reexamining: Bool = false) {
    if slots[slot].record.startedAt == nil { slots[slot].record.startedAt = clock.now() }
    slots[slot].record.phase = .pending
    enterFlight(slot)
    setPhase(slot, .upgrading)
    guard recordingFailed == nil else {
      abandon(slot)
      return
    }
    let target = slots[slot].record.toRevision ?? plan.version
    let call = driverCall(slot)
    callDriver(for: slot) { completion in
      self.driver.currentRevision(call, completion: completion)
    } then: { [self] (result: Result<String?, DriverError>) in
      switch result {
      case .failure(let error):
        clusterFailed(slot, "cannot read the current revision: \(error.message)", error)
      case .success(let revision):
        if reexamining, let revision, revision == target {
          slots[slot].record.toRevision = revision
          verifyCluster(slot)
          return
        }
        if !reexamining || slots[slot].record.fromRevision == nil {
          slots[slot].record.fromRevision = revision
        }
        if slots[slot].cancellation.isCancelled {
          clusterFailed(slot, "cancelled", DriverError(.cancelled, "cancelled"))
          return
        }
        // The record that matters for exactly-once: flushed before the upgrade runs.
        recordAhead(
          .clusterPhase(
            cluster: slots[slot].record.name, wave: slots[slot].record.wave, phase: .upgrading,
            detail: nil, at: clock.now()), slot)
        guard recordingFailed == nil else {
          abandon(slot)
          return
        }
        callDriver(for: slot) { completion in
          self.driver.upgrade(call, from: revision, completion: completion)
        } then: { [self] (result: Result<String, DriverError>) in
          switch result {
          case .failure(let error): clusterFailed(slot, error.message, error)
          case .success(let revision):
            slots[slot].record.toRevision = revision
            verifyCluster(slot)
          }
        }
      }
    }
  }

  private func verifyCluster(_ slot: Int) {
    setPhase(slot, .verifying)
    guard recordingFailed == nil else {
      abandon(slot)
      return
    }
    guard !gates.isEmpty else {
      verified(slot, [])
      return
    }
    let cluster = slots[slot].cluster
    let cancellation = slots[slot].cancellation
    onWorker(for: slot) { [gates, clock] in
      Self.verify(gates, [cluster], clock, cancellation)
    } then: { [self] results in
      verified(slot, results)
    } expired: { [self] message in
      clusterFailed(slot, message, DriverError(.timedOut, message))
    }
  }

  private func verified(_ slot: Int, _ results: [GateResult]) {
    let wave = slots[slot].record.wave
    for result in results {
      slots[slot].record.gates.append(result)
      slots[slot].record.measurements += result.measurements
      for measurement in result.measurements {
        emit(.measurement(cluster: slots[slot].record.name, wave: wave, measurement))
      }
      emit(.gateResult(cluster: slots[slot].record.name, wave: wave, result))
    }
    if let failed = results.first(where: { !$0.passed }) {
      let error =
        slots[slot].cancellation.isCancelled
        ? DriverError(.cancelled, "cancelled") : DriverError(.failed, failed.summary)
      clusterFailed(slot, "health gate '\(failed.gate)' failed: \(failed.summary)", error)
      return
    }
    leaveFlight(slot)
    slots[slot].record.finishedAt = clock.now()
    setPhase(slot, .baking)
    step()
  }

  private func clusterFailed(_ slot: Int, _ message: String, _ error: DriverError) {
    let wave = slots[slot].record.wave
    let phase = slots[slot].record.phase
    leaveFlight(slot)
    slots[slot].record.finishedAt = clock.now()
    if error.kind == .cancelled, let cause = slots[slot].cancelledBy {
      if cause == "interrupted" {
        // The driver was stopped mid-change: say so rather than guess the revision.
        slots[slot].record.interruptedMidUpgrade = true
        slots[slot].record.error = "interrupted while \(phase.rawValue); its revision is unknown"
        emit(
          .clusterPhase(
            cluster: slots[slot].record.name, wave: wave, phase: phase,
            detail: slots[slot].record.error, at: clock.now()))
      } else {
        slots[slot].record.error = "cancelled: \(cause)"
        setPhase(slot, .failed, detail: slots[slot].record.error)
      }
      step()
      return
    }
    slots[slot].record.error = message
    setPhase(slot, .failed, detail: message)
    waves[wave].failures += 1
    totalFailures += 1
    let allowed = plan.waves[wave].allowedFailures
    if waves[wave].failures > allowed {
      haltRun(
        wave,
        "wave '\(plan.waves[wave].name)' has \(waves[wave].failures) failed of "
          + "\(plan.waves[wave].clusters.count) clusters; its budget allows \(allowed)")
    } else if let total = allowedTotal, totalFailures > total {
      haltRun(wave, "the run has \(totalFailures) failed clusters; its budget allows \(total)")
    }
    step()
  }

  private var allowedTotal: Int? {
    plan.allowedFailuresTotal
      ?? options.failurePolicy.maxFailuresTotal?.allowed(of: plan.clusterCount)
  }

  /// Stops promotion at once: nothing new starts after this call.
  private func haltRun(_ wave: Int, _ why: String) {
    guard halt == nil else { return }
    halt = (wave, why)
    reason = why
    timer?.cancel()
    timer = nil
    pending = PendingClusters()
    stage = .stopping
    waves[wave].phase = .halted
    waves[wave].haltReason = why
    waves[wave].finishedAt = clock.now()
    emit(.waveHalted(wave: wave, reason: why, at: clock.now()))
    if options.failurePolicy.inFlight == .cancel {
      for index in slots.indices where slots[index].record.phase.isInFlight {
        slots[index].cancelledBy = "the rollout halted"
        slots[index].cancellation.cancel()
      }
    }
  }

  // MARK: - Rollback

  private func startRollback(_ haltedWave: Int) {
    let touched = { (slot: Slot) in
      slot.record.wasTouched && !slot.record.interruptedMidUpgrade
        && slot.record.phase != .rolledBack
    }
    let chosen: [Int]
    switch rollbackEverything ? .all : options.failurePolicy.rollback {
    case .none: chosen = []
    case .failed:
      chosen = slots.indices.filter { touched(slots[$0]) && slots[$0].record.phase == .failed }
    case .wave:
      chosen = slots.indices.filter { touched(slots[$0]) && slots[$0].record.wave == haltedWave }
    case .all:
      chosen = slots.indices.filter { touched(slots[$0]) }
    }
    // Later waves first, as they were the last to change.
    let waveOrder = Array(Set(chosen.map { slots[$0].record.wave })).sorted(by: >)
    rollbackGroups = waveOrder.map { wave in chosen.filter { slots[$0].record.wave == wave } }
    stage = .rollingBack
    step()
  }

  private func startRollbacks() {
    guard var group = rollbackGroups.first, !group.isEmpty else { return }
    let (parallel, perDomain) = limits(slots[group[0]].record.wave)
    var position = 0
    while inFlight < parallel && position < group.count {
      let slot = group[position]
      if let perDomain, inFlightByDomain[slots[slot].domain, default: 0] >= perDomain {
        position += 1
        continue
      }
      group.remove(at: position)
      startRollback(slot: slot)
    }
    rollbackGroups[0] = group
  }

  private func startRollback(slot: Int) {
    slots[slot].cancellation = Cancellation()
    slots[slot].cancelledBy = nil
    if slots[slot].record.phase.isInFlight { slots[slot].record.phase = .failed }
    enterFlight(slot)
    setPhase(slot, .rollingBack)
    guard recordingFailed == nil else {
      abandon(slot)
      return
    }
    let call = driverCall(slot)
    let target = slots[slot].record.fromRevision
    callDriver(for: slot) { completion in
      self.driver.rollback(call, to: target, completion: completion)
    } then: { [self] (result: Result<String, DriverError>) in
      leaveFlight(slot)
      switch result {
      case .success(let revision):
        slots[slot].record.rollbackRevision = revision
        setPhase(slot, .rolledBack)
      case .failure(let error):
        if error.kind == .cancelled, slots[slot].cancelledBy != nil {
          slots[slot].record.interruptedMidUpgrade = true
          slots[slot].record.rollbackError = "interrupted while rolling back; revision unknown"
          emit(
            .clusterPhase(
              cluster: slots[slot].record.name, wave: slots[slot].record.wave,
              phase: .rollingBack, detail: slots[slot].record.rollbackError, at: clock.now()))
        } else {
          slots[slot].record.rollbackError = error.message
          setPhase(slot, .rollbackFailed, detail: error.message)
        }
      }
      step()
    }
  }

  // MARK: - Plumbing

  private func driverCall(_ slot: Int) -> DriverCall {
    DriverCall(
      cluster: slots[slot].cluster, run: options.run, timeout: options.clusterTimeout,
      cancellation: slots[slot].cancellation, clock: clock, queue: queue)
  }

  /// Counts the cluster in flight and starts its deadline: the engine, not the driver, holds
  /// `clusterTimeout`, so a driver that hangs (an API that never answers, a command that never
  /// exits) still frees its slot on time.
  private func enterFlight(_ slot: Int) {
    inFlight += 1
    inFlightByDomain[slots[slot].domain, default: 0] += 1
    slots[slot].deadline?.cancel()
    let at = clock.now().addingTimeInterval(DurationText.seconds(options.clusterTimeout))
    slots[slot].deadline = clock.schedule(at: at, on: queue) { [self] in
      transit.touch()
      deadlinePassed(slot)
    }
  }

  private func leaveFlight(_ slot: Int) {
    guard slots[slot].record.phase.isInFlight else { return }
    inFlight -= 1
    inFlightByDomain[slots[slot].domain, default: 0] -= 1
    slots[slot].deadline?.cancel()
    slots[slot].deadline = nil
  }

  /// The cluster's change overran `clusterTimeout`: its call is cancelled (the driver stops
  /// what it can: a child's process group, an HTTP request) and answered for at once with
  /// `timed out after 20s while upgrading`; whatever the driver reports later is dropped.
  private func deadlinePassed(_ slot: Int) {
    slots[slot].deadline = nil
    let phase = slots[slot].record.phase
    guard phase.isInFlight, let call = slots[slot].call, !call.settled else { return }
    call.settled = true
    outstanding -= 1
    slots[slot].cancellation.cancel()
    call.expire?(
      "timed out after \(DurationText.format(options.clusterTimeout)) while \(phase.rawValue)")
  }

  private func setPhase(_ slot: Int, _ phase: ClusterPhase, detail: String? = nil) {
    slots[slot].record.phase = phase
    emit(
      .clusterPhase(
        cluster: slots[slot].record.name, wave: slots[slot].record.wave, phase: phase,
        detail: detail, at: clock.now()))
  }

  private func emit(_ event: RolloutEvent) {
    var slot: Int?
    if case .clusterPhase(let name, _, _, _, _) = event {
      slot = slotByName[name]
    }
    recordAhead(event, slot)
    for observer in observers { observer(event) }
  }

  /// Hands an event to the write-ahead hooks only. The first failure stops the run: nothing
  /// new starts, what is in flight lands, and the run ends interrupted (resumable).
  private func recordAhead(_ event: RolloutEvent, _ slot: Int?) {
    guard recordingFailed == nil, !writeAheads.isEmpty else { return }
    let record = slot.map { slots[$0].record }
    do {
      for hook in writeAheads { try hook(event, record) }
    } catch {
      recordingFailed = "cannot write the journal: \(error)"
      reason = recordingFailed
      pending = PendingClusters()
      timer?.cancel()
      timer = nil
      if stage != .finished && stage != .notStarted { stage = .stopping }
      interrupts = max(interrupts, 1)
    }
  }

  /// Takes back a cluster whose action could not be recorded ahead: it never started.
  private func abandon(_ slot: Int) {
    leaveFlight(slot)
    slots[slot].record.phase = .pending
    step()
  }

  /// Issues a driver call; its result is handled on the queue, counted as outstanding until.
  /// A call for a cluster may instead be answered by the cluster's deadline, whichever is first.
  private func callDriver<T: Sendable>(
    for slot: Int? = nil, _ issue: (@escaping DriverCompletion<T>) -> Void,
    then handle: @escaping (Result<T, DriverError>) -> Void
  ) {
    outstanding += 1
    let call = PendingCall()
    if let slot {
      call.expire = { message in handle(.failure(DriverError(.timedOut, message))) }
      slots[slot].call = call
    }
    let handler = UncheckedBox(handle)
    issue { [self] result in
      deliver {
        guard !call.settled else { return }
        call.settled = true
        self.outstanding -= 1
        handler.value(result)
      }
    }
  }

  /// Runs blocking work (health gates) on a thread of its own and handles its result here;
  /// for a cluster, its deadline may answer first through `expired`.
  private func onWorker<T: Sendable>(
    for slot: Int? = nil, _ work: @escaping @Sendable () -> T,
    then handle: @escaping (T) -> Void, expired: ((String) -> Void)? = nil
  ) {
    outstanding += 1
    runningWorkers += 1
    let call = PendingCall()
    if let slot {
      call.expire = expired
      slots[slot].call = call
    }
    let handler = UncheckedBox(handle)
    let landed = { [self] (result: T) in
      deliver {
        self.runningWorkers -= 1
        guard !call.settled else { return }
        call.settled = true
        self.outstanding -= 1
        handler.value(result)
      }
    }
    if virtualTime {
      landed(work())
      return
    }
    // A private serial queue gets an overcommit thread at once; a blocking gate on a shared
    // concurrent queue would hold one of only a few threads.
    let deliverResult = UncheckedBox(landed)
    DispatchQueue(label: "fleetwave.gate").async {
      deliverResult.value(work())
    }
  }

  private func deliver(_ block: @escaping () -> Void) {
    transit.enter()
    let work = UncheckedBox(block)
    queue.async { [self] in
      transit.leave()
      guard stage != .finished else {
        delivered.signal()
        return
      }
      work.value()
      delivered.signal()
    }
  }

  private static func verify(
    _ gates: [any HealthGate], _ clusters: [Cluster], _ clock: any RolloutClock,
    _ cancellation: Cancellation
  ) -> [GateResult] {
    var results: [GateResult] = []
    for gate in gates {
      let result = gate.verify(clusters: clusters, clock: clock, cancellation: cancellation)
      results.append(result)
      if !result.passed { break }
    }
    return results
  }

  private func finish(_ outcome: RunOutcome, _ why: String?) {
    guard stage != .finished else { return }
    stage = .finished
    timer?.cancel()
    timer = nil
    windowTimer?.cancel()
    windowTimer = nil
    self.outcome = outcome
    reason = why
    finishedAt = clock.now()
    if outcome == .interrupted {
      for index in waves.indices where [.running, .baking].contains(waves[index].phase) {
        waves[index].phase = .interrupted
      }
    }
    emit(.runFinished(outcome: outcome, at: clock.now()))
    completion?(makeSummary())
    completion = nil
    delivered.signal()
  }

  private func makeSummary() -> RunSummary {
    let now = clock.now()
    return RunSummary(
      run: options.run, fleet: plan.fleet, release: plan.release, version: plan.version,
      driver: driver.name, outcome: outcome ?? .interrupted, startedAt: startedAt ?? now,
      finishedAt: finishedAt ?? now, waves: waves, clusters: slots.map(\.record), reason: reason,
      waitingForApproval: waitingForApproval, allowedFailuresTotal: allowedTotal)
  }
}

/// Results in transit to the queue, and a count of everything that happened; `settle` reads
/// both to tell "parked on the clock" from "about to move".
private final class Transit: @unchecked Sendable {
  private let lock = NSLock()
  private var inTransit = 0
  private var happened = 0

  func enter() {
    lock.lock()
    inTransit += 1
    happened += 1
    lock.unlock()
  }

  func leave() {
    lock.lock()
    inTransit -= 1
    happened += 1
    lock.unlock()
  }

  func touch() {
    lock.lock()
    happened += 1
    lock.unlock()
  }

  var count: Int {
    lock.lock()
    defer { lock.unlock() }
    return inTransit
  }

  var activity: Int {
    lock.lock()
    defer { lock.unlock() }
    return happened
  }
}

/// A driver or gate call awaited for one cluster, answered once: by its result, or by the
/// cluster's deadline (`expire`). Touched only on the executor's queue.
private final class PendingCall: @unchecked Sendable {
  var settled = false
  var expire: ((String) -> Void)?
}

/// Carries a closure that is only ever called on the executor's queue across a @Sendable hop.
private struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

private final class SummaryBox: @unchecked Sendable {
  var summary: RunSummary?
}
