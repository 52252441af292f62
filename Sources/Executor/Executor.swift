// The rollout engine: runs a plan's waves through a driver and health gates under limits,
// budgets, bake timers, halt and rollback. One serial queue owns every piece of run state.
import Drivers
import FleetCore
import Foundation
import Planner

public final class Executor: @unchecked Sendable {
  public let plan: Plan
  public let options: ExecutorOptions
  public let driver: any Driver
  public let gates: [any HealthGate]
  public let waveGates: [any HealthGate]
  /// Checks run over a wave's pending clusters just before they start (after its approval):
  /// a failure stops the run there, resumable, with none of the wave's clusters touched.
  public let waveEntryGates: [any HealthGate]
  public let clock: any RolloutClock
  public let approvals: any ApprovalSource

  // The run state below is module-internal so that the extensions in Waves.swift,
  // Clusters.swift, Rollback.swift, Resume.swift, DriverCalls.swift and VirtualTime.swift can
  // reach it; all of it is touched only on `queue`.

  /// Owns everything below; nothing else touches it.
  let queue = DispatchQueue(label: "fleetwave.executor")
  let onQueue = DispatchSpecificKey<Bool>()
  let transit = Transit()
  let delivered = DispatchSemaphore(value: 0)

  var observers: [@Sendable (RolloutEvent) -> Void] = []
  var writeAheads: [WriteAhead] = []
  /// Holds an action until the records written ahead of it are durable (group commit).
  var recordedBarrier: RecordedBarrier?
  /// Set when the journal could not be written: nothing more may start.
  var recordingFailed: String?
  var blocked: Blocked?
  var windowTimer: Cancellation?
  var windowTimerAt: Date?
  var announcedWait: Date?
  var rollbackEverything = false
  var completion: (@Sendable (RunSummary) -> Void)?
  var slots: [Slot]
  /// Slot index by cluster name: every event about a cluster finds its slot in constant time.
  let slotByName: [String: Int]
  var waves: [WaveRunRecord]
  var stage = Stage.notStarted
  var startedAt: Date?
  var finishedAt: Date?
  var outcome: RunOutcome?
  var reason: String?
  var waitingForApproval: String?
  var pending = PendingClusters()
  /// Clusters of the current wave deferred and waiting for their retry (see Deferrals.swift).
  var deferred: Set<Int> = []
  var inFlight = 0
  var inFlightByDomain: [String: Int] = [:]
  /// Driver and gate calls whose results have not been handled yet.
  var outstanding = 0
  /// Gate calls blocking a worker thread right now.
  var runningWorkers = 0
  var totalFailures = 0
  var halt: (wave: Int, reason: String)?
  var interrupts = 0
  var timer: Cancellation?
  /// The wave gate running after a bake: only a wait, so the first interrupt ends it.
  var waveGateCancellation: Cancellation?
  /// Waves whose entry gates passed in this pass: each runs them once.
  var enteredWaves: Set<Int> = []
  var rollbackGroups: [[Int]] = []
  /// Set by `runInVirtualTime`: gates run inline instead of on threads of their own.
  var virtualTime = false

  enum Stage: Equatable {
    case notStarted
    case upgrading(Int)
    case baking(Int)
    /// The wave's entry gates are running; none of its clusters has started.
    case entering(Int)
    case stopping
    case rollingBack
    case finished
  }

  struct Slot {
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
    /// While deferred (its API could not be reached): the timer that queues it again.
    var retry: Cancellation?
  }

  public init(
    plan: Plan, clusters: [Cluster], driver: any Driver, gates: [any HealthGate] = [],
    waveGates: [any HealthGate] = [], waveEntryGates: [any HealthGate] = [],
    clock: any RolloutClock = SystemClock(),
    approvals: any ApprovalSource = StaticApprovals(), options: ExecutorOptions
  ) throws(ExecutorError) {
    self.plan = plan
    self.options = options
    self.driver = driver
    self.gates = gates
    self.waveGates = waveGates
    self.waveEntryGates = waveEntryGates
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
      excludeClusters()
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

  func finish(_ outcome: RunOutcome, _ why: String?) {
    guard stage != .finished else { return }
    stage = .finished
    timer?.cancel()
    timer = nil
    windowTimer?.cancel()
    windowTimer = nil
    dropRetries()
    self.outcome = outcome
    reason = why
    finishedAt = clock.now()
    if outcome == .interrupted {
      for index in waves.indices where [.running, .baking].contains(waves[index].phase) {
        waves[index].phase = .interrupted
      }
    }
    // Failed, rolled back or left mid-wave: whatever the driver still keeps locked goes back
    // before the process reports the end and may exit.
    driver.releaseKept(slots.map(\.cluster))
    emit(.runFinished(outcome: outcome, at: clock.now()))
    completion?(makeSummary())
    completion = nil
    delivered.signal()
  }

  func makeSummary() -> RunSummary {
    let now = clock.now()
    var summary = RunSummary(
      run: options.run, fleet: plan.fleet, release: plan.release, version: plan.version,
      driver: driver.name, outcome: outcome ?? .interrupted, startedAt: startedAt ?? now,
      finishedAt: finishedAt ?? now, waves: waves, clusters: slots.map(\.record), reason: reason,
      waitingForApproval: waitingForApproval, allowedFailuresTotal: allowedTotal)
    summary.chartVersion = plan.chartVersion
    return summary
  }
}

/// A driver or gate call awaited for one cluster, answered once: by its result, or by the
/// cluster's deadline (`expire`). Touched only on the executor's queue.
final class PendingCall: @unchecked Sendable {
  var settled = false
  var expire: ((String) -> Void)?
}

/// Carries a closure that is only ever called on the executor's queue across a @Sendable hop.
struct UncheckedBox<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

final class SummaryBox: @unchecked Sendable {
  var summary: RunSummary?
}
