// Clusters whose API cannot be reached, under `onUnreachable: defer`: out of flight, back in
// their wave's queue after a backoff on the run's clock, failed only once out of attempts.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  /// The `onUnreachable` policy of the wave at `index`.
  func unreachablePolicy(_ index: Int) -> UnreachablePolicy {
    let wave = plan.waves[index]
    if wave.isCanary, let canary = options.canaryUnreachable { return canary }
    return options.waveUnreachable[wave.name] ?? options.unreachable
  }

  /// Defers the cluster instead of failing it, when its error says its API could not be
  /// reached and its wave's policy has attempts left; returns whether it did. The cluster
  /// leaves flight (its slot goes to the next cluster) and holds nothing while it waits: a
  /// timer on the run's clock puts it back at the end of its wave's queue. A run that is
  /// stopping (an interrupt, a halt) defers it too, without the timer: the cluster is left for
  /// `resume`, neither failed nor counted against a budget.
  func deferIfUnreachable(_ slot: Int, _ message: String, _ error: DriverError) -> Bool {
    guard error.kind == .unreachable, recordingFailed == nil,
      !slots[slot].cancellation.isCancelled, slots[slot].record.phase.isInFlight
    else { return false }
    let wave = slots[slot].record.wave
    let policy = unreachablePolicy(wave)
    guard policy.action == .defer, slots[slot].record.deferrals < policy.attempts else {
      return false
    }
    switch stage {
    case .upgrading(let index) where index == wave: break
    case .stopping where halt == nil: break
    default: return false
    }
    leaveFlight(slot)
    let attempt = slots[slot].record.deferrals + 1
    let until = clock.now().addingTimeInterval(
      DurationText.seconds(policy.delay(beforeRetry: attempt)))
    slots[slot].record.deferrals = attempt
    slots[slot].record.deferredUntil = until
    slots[slot].record.deferralReason = message
    setPhase(slot, .deferred, detail: message)
    if stage == .upgrading(wave) { retry(slot, at: until) }
    step()
    return true
  }

  /// Puts a deferred cluster back in its wave's queue at `until`. While it waits the wave is
  /// not done: `step` closes a wave only once nothing of it is deferred.
  func retry(_ slot: Int, at until: Date) {
    let wave = slots[slot].record.wave
    deferred.insert(slot)
    slots[slot].retry?.cancel()
    slots[slot].retry = clock.schedule(at: until, on: queue) { [self] in
      transit.touch()
      slots[slot].retry = nil
      guard deferred.remove(slot) != nil, stage == .upgrading(wave) else { return }
      slots[slot].record.deferredUntil = nil
      pending.append(slot)
      step()
    }
  }

  /// Stops waiting for deferred clusters (the run halts, stops or ends); they stay deferred in
  /// their records, and in the journal for `resume`.
  func dropRetries() {
    for slot in deferred {
      slots[slot].retry?.cancel()
      slots[slot].retry = nil
    }
    deferred = []
  }

  /// A resumed run's wave finds clusters the last process deferred: they are tried again when
  /// their backoff ends (at once, when it already has), with the attempts they have left.
  func resumeDeferred(_ members: [Int]) {
    let now = clock.now()
    for slot in members where slots[slot].record.phase == .deferred {
      retry(slot, at: max(now, slots[slot].record.deferredUntil ?? now))
    }
  }
}
