// Waves: start, wait for windows and approvals, bake, run the wave gate, promote.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  /// Starts a wave at once. Maintenance windows are the planner's estimate for now: the
  /// executor does not wait for `earliestStart`, which for later waves is a projection.
  func beginWave(_ index: Int) {
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
    if wave.approval && !isWhollyExcluded(index)
      && !approvals.isApproved(run: options.run, wave: wave)
    {
      waves[index].phase = .waitingForApproval
      waitingForApproval = wave.name
      emit(.waveWaiting(wave: index, phase: .waitingForApproval, until: nil, at: clock.now()))
      blocked = Blocked(
        reason: "approval of wave '\(wave.name)' (fleetwave approve \(options.run) --wave "
          + "\(wave.name))", until: nil)
      finish(.interrupted, "waiting for approval of wave '\(wave.name)'")
      return
    }
    if enterWave(index) { return }
    stage = .upgrading(index)
    waves[index].phase = .running
    waves[index].startedAt = waves[index].startedAt ?? clock.now()
    emit(.waveStarted(wave: index, at: clock.now()))
    let members = slots.indices.filter { slots[$0].record.wave == wave.index }
    pending = PendingClusters(members.filter { slots[$0].record.phase == .pending })
    resumeDeferred(members)
    // A resumed run finds clusters it left mid-change: ask their driver where they stand.
    for slot in members where [.upgrading, .verifying].contains(slots[slot].record.phase) {
      startUpgrade(slot, reexamining: true)
    }
    step()
  }

  /// The scheduling step, after every change: start what the limits allow, close the wave
  /// when it is done, or move a stopping run on to rollback or to its end.
  func step() {
    switch stage {
    case .upgrading(let index):
      let wait = startUpgrades(index)
      guard stage == .upgrading(index) else { return }
      if pending.isEmpty && inFlight == 0 && outstanding == 0 && deferred.isEmpty {
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
    case .notStarted, .baking, .entering, .finished:
      return
    }
  }

  /// Nothing pending may start yet. Following, sleep on the clock until the first may;
  /// until blocked, stop once what is in flight has landed, and say what the run waits for.
  func waitToStart(_ index: Int, _ wait: Blocked) {
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

  func waveFinished(_ index: Int, bakeBegan: Date? = nil) {
    if isWhollyExcluded(index) {
      promote(index)
      return
    }
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

  func bakeEnded(_ index: Int) {
    timer = nil
    let members = slots.filter { $0.record.wave == index && $0.record.phase == .baking }
    guard !waveGates.isEmpty, !members.isEmpty else {
      promote(index)
      return
    }
    let clusters = members.map(\.cluster)
    let cancellation = Cancellation()
    waveGateCancellation = cancellation
    runGates(waveGates, over: clusters, cancellation: cancellation) { [self] results in
      waveGateCancellation = nil
      waves[index].gates = results
      emitWaveGateResults(index, results)
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

  /// A wave's gate results (after its bake, or before it starts), each after its readings.
  func emitWaveGateResults(_ index: Int, _ results: [GateResult]) {
    for result in results {
      for measurement in result.measurements {
        emit(.measurement(cluster: nil, wave: index, measurement))
      }
      emit(.gateResult(cluster: nil, wave: index, result))
    }
  }

  func promote(_ index: Int) {
    var done: [Cluster] = []
    for slot in slots.indices where slots[slot].record.wave == index {
      if slots[slot].record.phase == .baking {
        setPhase(slot, .succeeded)
        done.append(slots[slot].cluster)
      }
    }
    // Their health window is over: the locks kept since their upgrades go back.
    driver.releaseKept(done)
    waves[index].phase = .promoted
    waves[index].finishedAt = clock.now()
    emit(.wavePromoted(wave: index, at: clock.now()))
    beginWave(index + 1)
  }
}
