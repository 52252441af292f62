// Calls into drivers and gates, their deadlines, and the hop of their results back onto the
// executor's queue.
import Drivers
import FleetCore
import Foundation
import Health
import Planner

extension Executor {
  func driverCall(_ slot: Int) -> DriverCall {
    DriverCall(
      cluster: slots[slot].cluster, run: options.run, instance: options.instance,
      timeout: options.clusterTimeout,
      cancellation: slots[slot].cancellation, clock: clock, queue: queue)
  }

  /// Counts the cluster in flight and starts its deadline: the engine, not the driver, holds
  /// `clusterTimeout`, so a driver that hangs (an API that never answers, a command that never
  /// exits) still frees its slot on time.
  func enterFlight(_ slot: Int) {
    inFlight += 1
    inFlightByDomain[slots[slot].domain, default: 0] += 1
    slots[slot].deadline?.cancel()
    let at = clock.now().addingTimeInterval(DurationText.seconds(options.clusterTimeout))
    slots[slot].deadline = clock.schedule(at: at, on: queue) { [self] in
      transit.touch()
      deadlinePassed(slot)
    }
  }

  func leaveFlight(_ slot: Int) {
    guard slots[slot].record.phase.isInFlight else { return }
    inFlight -= 1
    inFlightByDomain[slots[slot].domain, default: 0] -= 1
    slots[slot].deadline?.cancel()
    slots[slot].deadline = nil
  }

  /// The cluster's change overran `clusterTimeout`: its call is cancelled (the driver stops
  /// what it can: a child's process group, an HTTP request) and answered for at once with
  /// `timed out after 20s while upgrading`; whatever the driver reports later is dropped.
  func deadlinePassed(_ slot: Int) {
    slots[slot].deadline = nil
    let phase = slots[slot].record.phase
    guard phase.isInFlight, let call = slots[slot].call, !call.settled else { return }
    call.settled = true
    outstanding -= 1
    slots[slot].cancellation.cancel()
    call.expire?(
      "timed out after \(DurationText.format(options.clusterTimeout)) while \(phase.rawValue)")
  }

  func setPhase(_ slot: Int, _ phase: ClusterPhase, detail: String? = nil) {
    slots[slot].record.phase = phase
    emit(
      .clusterPhase(
        cluster: slots[slot].record.name, wave: slots[slot].record.wave, phase: phase,
        detail: detail, at: clock.now()))
  }

  func emit(_ event: RolloutEvent) {
    var slot: Int?
    if case .clusterPhase(let name, _, _, _, _) = event {
      slot = slotByName[name]
    }
    recordAhead(event, slot)
    for observer in observers { observer(event) }
  }

  /// Hands an event to the write-ahead hooks only. The first failure stops the run: nothing
  /// new starts, what is in flight lands, and the run ends interrupted (resumable).
  func recordAhead(_ event: RolloutEvent, _ slot: Int?) {
    guard recordingFailed == nil, !writeAheads.isEmpty else { return }
    let record = slot.map { slots[$0].record }
    do {
      for hook in writeAheads { try hook(event, record) }
    } catch {
      recordingStopped("\(error)")
    }
  }

  func recordingStopped(_ why: String) {
    guard recordingFailed == nil else { return }
    recordingFailed = "cannot write the journal: \(why)"
    reason = recordingFailed
    pending = PendingClusters()
    timer?.cancel()
    timer = nil
    if stage != .finished && stage != .notStarted { stage = .stopping }
    interrupts = max(interrupts, 1)
  }

  /// Registers the wait for durability that write-ahead hooks which only queue their records
  /// (the journal's group commit) need: a driver call that changes a cluster is issued from
  /// its callback, once everything recorded ahead of it is on disk. Call before `start`.
  public func actAfterRecorded(_ barrier: @escaping RecordedBarrier) {
    queue.sync { recordedBarrier = barrier }
  }

  /// Takes back a cluster whose action could not be recorded ahead: it never started.
  func abandon(_ slot: Int) {
    leaveFlight(slot)
    slots[slot].record.phase = .pending
    step()
  }

  /// Issues a driver call; its result is handled on the queue, counted as outstanding until.
  /// A call for a cluster may instead be answered by the cluster's deadline, whichever is first.
  /// `changes`: the call acts on what was just recorded ahead (an upgrade, a rollback), so it
  /// is issued only once those records are durable; a cluster whose record cannot be written
  /// is taken back, never started.
  func callDriver<T: Sendable>(
    for slot: Int? = nil, changes: Bool = false,
    _ issue: @escaping (@escaping DriverCompletion<T>) -> Void,
    then handle: @escaping (Result<T, DriverError>) -> Void
  ) {
    outstanding += 1
    let call = PendingCall()
    if let slot {
      call.expire = { message in handle(.failure(DriverError(.timedOut, message))) }
      slots[slot].call = call
    }
    let handler = UncheckedBox(handle)
    let send = UncheckedBox { [self] in
      issue { [self] result in
        deliver {
          guard !call.settled else { return }
          call.settled = true
          self.outstanding -= 1
          handler.value(result)
        }
      }
    }
    guard changes, let recordedBarrier else { return send.value() }
    // In transit until the callback is handled on the queue, as `deliver` does: at virtual
    // time a wait for the disk is movement, not quiet, so the clock does not advance under it.
    transit.enter()
    recordedBarrier { [self] failure in
      queue.async { [self] in
        transit.leave()
        defer { delivered.signal() }
        guard stage != .finished, !call.settled else { return }
        guard let failure else { return send.value() }
        call.settled = true
        outstanding -= 1
        recordingStopped(failure)
        if let slot { abandon(slot) }
      }
    }
  }

  /// Runs `gates` in order over `clusters`, stopping at the first that fails, and handles
  /// their results here. A gate is a task that holds no thread while it waits; one with a time
  /// limit is cancelled by the engine at it and fails with `timed out after 30s`, whatever
  /// the gate itself was waiting for. For a cluster, its deadline may answer first through
  /// `expired`.
  func runGates(
    _ gates: [any HealthGate], over clusters: [Cluster], for slot: Int? = nil,
    cancellation: Cancellation, then handle: @escaping ([GateResult]) -> Void,
    expired: ((String) -> Void)? = nil
  ) {
    outstanding += 1
    let call = PendingCall()
    if let slot {
      call.expire = expired
      slots[slot].call = call
    }
    let run = GateRun(
      clusters: clusters, cancellation: cancellation, call: call, handle: UncheckedBox(handle))
    nextGate(gates[...], run)
  }

  private func nextGate(_ remaining: ArraySlice<any HealthGate>, _ run: GateRun) {
    guard !run.call.settled else { return }
    guard let gate = remaining.first, run.results.last?.passed != false else {
      run.call.settled = true
      outstanding -= 1
      run.handle.value(run.results)
      return
    }
    // The gate's own flag, so its time limit cancels this gate and not the cluster.
    let own = Cancellation()
    run.cancellation.onCancel { own.cancel() }
    let step = PendingCall()
    let limitTimer = gate.timeLimit(for: run.clusters).map { limit in
      let at = clock.now().addingTimeInterval(DurationText.seconds(limit))
      return clock.schedule(at: at, on: queue) { [self] in
        transit.touch()
        guard !step.settled, stage != .finished else { return }
        step.settled = true
        own.cancel()
        run.results.append(
          GateResult(
            gate: gate.name, passed: false,
            summary: "timed out after \(DurationText.format(limit))"))
        nextGate(remaining.dropFirst(), run)
      }
    }
    runningWorkers += 1
    let landed: @Sendable (GateResult) -> Void = { [self] result in
      deliver {
        self.runningWorkers -= 1
        guard !step.settled else { return }
        step.settled = true
        limitTimer?.cancel()
        run.results.append(result)
        self.nextGate(remaining.dropFirst(), run)
      }
    }
    guard virtualTime else {
      gate.start(clusters: run.clusters, clock: clock, cancellation: own, completion: landed)
      return
    }
    // At virtual time the queue waits for the gate (a virtual-time gate does not wait on the
    // clock), so completions are handled in the same order on every run.
    let done = DispatchSemaphore(value: 0)
    let result = GateResultBox()
    gate.start(clusters: run.clusters, clock: clock, cancellation: own) { verdict in
      result.value = verdict
      done.signal()
    }
    done.wait()
    if let verdict = result.value { landed(verdict) }
  }

  func deliver(_ block: @escaping () -> Void) {
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

}

/// One run of a list of gates: its results so far, and how to answer when it ends. Touched
/// only on the executor's queue.
final class GateRun: @unchecked Sendable {
  let clusters: [Cluster]
  let cancellation: Cancellation
  let call: PendingCall
  let handle: UncheckedBox<([GateResult]) -> Void>
  var results: [GateResult] = []

  init(
    clusters: [Cluster], cancellation: Cancellation, call: PendingCall,
    handle: UncheckedBox<([GateResult]) -> Void>
  ) {
    self.clusters = clusters
    self.cancellation = cancellation
    self.call = call
    self.handle = handle
  }
}

/// Carries a virtual-time gate's verdict to the waiting queue (the semaphore orders it).
private final class GateResultBox: @unchecked Sendable {
  var value: GateResult?
}
