// Halting promotion and rolling back what the run changed.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  /// Stops promotion at once: nothing new starts after this call.
  func haltRun(_ wave: Int, _ why: String) {
    guard halt == nil else { return }
    halt = (wave, why)
    reason = why
    timer?.cancel()
    timer = nil
    pending = PendingClusters()
    dropRetries()
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

  func startRollback(_ haltedWave: Int) {
    let touched = { (slot: Slot) in
      // A deferred cluster could not be reached: it is left as it is, not rolled back to a
      // revision that was perhaps never read.
      slot.record.wasTouched && !slot.record.interruptedMidUpgrade
        && slot.record.phase != .rolledBack && slot.record.phase != .deferred
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

  func startRollbacks() {
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

  func startRollback(slot: Int) {
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
    callDriver(for: slot, changes: true) { completion in
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
}
