// Calls into drivers and gates, their deadlines, and the hop of their results back onto the
// executor's queue.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  func driverCall(_ slot: Int) -> DriverCall {
    DriverCall(
      cluster: slots[slot].cluster, run: options.run, timeout: options.clusterTimeout,
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
  func abandon(_ slot: Int) {
    leaveFlight(slot)
    slots[slot].record.phase = .pending
    step()
  }

  /// Issues a driver call; its result is handled on the queue, counted as outstanding until.
  /// A call for a cluster may instead be answered by the cluster's deadline, whichever is first.
  func callDriver<T: Sendable>(
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
  func onWorker<T: Sendable>(
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

  static func verify(
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
}
