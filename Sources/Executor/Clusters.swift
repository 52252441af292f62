// One cluster's way through a wave: upgrade, verify, succeed or fail against the budgets.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  func limits(_ waveIndex: Int) -> (parallel: Int, perDomain: Int?) {
    let wave = plan.waves[waveIndex]
    let waveLimit = wave.maxParallel > 0 ? wave.maxParallel : Int.max
    return (max(1, min(options.maxParallel, waveLimit)), wave.maxPerDomain.map { max(1, $0) })
  }

  /// Starts pending clusters in plan order; one whose domain is full, or whose window is
  /// closed, is passed over (not dropped) so the next one can go. Returns what the first
  /// passed-over cluster waits for when nothing pending may start now.
  func startUpgrades(_ waveIndex: Int) -> Blocked? {
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
      // A cluster tried before may have been changed by the call that could not reach it.
      startUpgrade(slot, reexamining: slots[slot].record.deferrals > 0)
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
  func startUpgrade(_ slot: Int, reexamining: Bool = false) {
    if slots[slot].record.startedAt == nil { slots[slot].record.startedAt = clock.now() }
    slots[slot].record.phase = .pending
    enterFlight(slot)
    setPhase(slot, .upgrading)
    guard recordingFailed == nil else {
      abandon(slot)
      return
    }
    let call = driverCall(slot)
    // What the cluster would run after this upgrade: only a resumed run needs to know.
    var target: ReleaseTarget?
    if reexamining {
      do throws(DriverError) {
        target = try driver.target(for: slots[slot].cluster, version: plan.version)
      } catch {
        clusterFailed(slot, error.message, error)
        return
      }
    }
    callDriver(for: slot) { completion in
      self.driver.deployedRelease(call, completion: completion)
    } then: { [self] (result: Result<DeployedRelease?, DriverError>) in
      switch result {
      case .failure(let error):
        clusterFailed(slot, "cannot read the current revision: \(error.message)", error)
      case .success(let deployed):
        let revision = deployed?.revision
        // Caught mid-change by the last process: if the change landed, verify it rather than
        // upgrade it again. Either the upgrade's answer was journaled and the cluster still
        // runs that revision, or the answer was lost with the process and the deployed
        // revision carries this run's version and values.
        if reexamining, let deployed,
          deployed.revision == slots[slot].record.toRevision
            || target.map(deployed.isAt) == true
        {
          slots[slot].record.toRevision = deployed.revision
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
        callDriver(for: slot, changes: true) { completion in
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

  func verifyCluster(_ slot: Int) {
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
    runGates(gates, over: [cluster], for: slot, cancellation: cancellation) { [self] results in
      verified(slot, results)
    } expired: { [self] message in
      clusterFailed(slot, message, DriverError(.timedOut, message))
    }
  }

  func verified(_ slot: Int, _ results: [GateResult]) {
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

  func clusterFailed(_ slot: Int, _ message: String, _ error: DriverError) {
    if deferIfUnreachable(slot, message, error) { return }
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
    let deferrals = slots[slot].record.deferrals
    slots[slot].record.error =
      error.kind == .unreachable && deferrals > 0
      ? "\(message) (still unreachable after \(deferrals) "
        + (deferrals == 1 ? "deferral" : "deferrals") + ")" : message
    setPhase(slot, .failed, detail: slots[slot].record.error)
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

  var allowedTotal: Int? {
    plan.allowedFailuresTotal
      ?? options.failurePolicy.maxFailuresTotal?.allowed(of: plan.clusterCount)
  }
}
