// `rollout --follow --standby`: a replica that waits for the fleet's run lock in the home
// cluster and, once its holder is gone, claims it for the run it will continue or start.
import FleetCore
import Foundation
import Journal
import Kube

/// Waits for the fleet's run lock as client-go's leader election does: the lock's record is
/// read every renew period (a third of the lease duration), and a holder whose record has not
/// changed for a whole lease duration (the one the holder declared) of our clock is gone (a live holder rewrites it every
/// renew period, and a cut-off one fences itself at the renew deadline). So a standby takes
/// over at most one lease duration and one renew period after the holder's last renewal.
public struct RunStandby: Sendable {
  public let store: KubeStateStore
  public let fleet: String

  public init(store: KubeStateStore, fleet: String) {
    self.store = store
    self.fleet = fleet
  }

  /// What the wait ended with.
  public enum Outcome: Sendable, Equatable {
    /// The lock is claimed for `run` under the identity `claim`; `store` takes it over from
    /// that identity at once, so the run action that follows holds it without waiting.
    case claimed(run: String, claim: String, store: KubeStateStore)
    /// The cancellation fired (SIGINT or SIGTERM): nothing was claimed.
    case cancelled
    /// `chooseRun` found nothing to do (the run waited for has finished): nothing was claimed.
    case nothingToDo

    public static func == (left: Outcome, right: Outcome) -> Bool {
      switch (left, right) {
      case (.claimed(let a, let b, _), .claimed(let c, let d, _)): return a == c && b == d
      case (.cancelled, .cancelled), (.nothingToDo, .nothingToDo): return true
      default: return false
      }
    }
  }

  /// Waits until the lock is free or its holder has stopped renewing, then claims it for the
  /// run `chooseRun` names (asked only then: the holder may have started or finished a run
  /// meanwhile), given the run of the last holder seen, nil when none was; nil from it claims
  /// nothing. `waiting` is told the holder once, when the standby first has to wait.
  public func wait(
    chooseRun: (_ lastHolder: String?) throws(EngineError) -> String?, cancellation: Cancellation,
    waiting: (LockHolder) -> Void
  ) throws(EngineError) -> Outcome {
    let clock = store.clock
    let lease = store.lockLease(fleet: fleet, holder: "standby", annotations: [:])
    let duration = DurationText.seconds(store.lockDuration)
    var observed: (version: String, holder: String, since: Date)?
    var announced = false
    var lastHolder: String?
    while !cancellation.isCancelled {
      let live: Value?
      do {
        live = try lease.read()
      } catch {
        // An unreachable home cluster is waited out like a holder: nobody can act meanwhile.
        live = nil
        observed = nil
        if !clock.wait(for: store.lockDuration / 3, cancellation: cancellation) { break }
        continue
      }
      let holder = live?["spec"]?["holderIdentity"]?.string ?? ""
      let version = live?["metadata"]?["resourceVersion"]?.string ?? ""
      if observed?.version != version { observed = (version, holder, clock.now()) }
      // The holder's terms, not ours: it renews and fences by the duration it declared.
      let declared =
        live?["spec"]?["leaseDurationSeconds"]?.int.map { TimeInterval(max(1, $0)) } ?? duration
      let expired =
        observed.map { clock.now().timeIntervalSince($0.since) >= declared } ?? false
      if live == nil || holder.isEmpty || expired {
        guard let run = try chooseRun(lastHolder) else { return .nothingToDo }
        let claim = RunInstance(run: run).identity
        let taking = store.lockLease(
          fleet: fleet, holder: claim, succeeds: holder.isEmpty ? [] : [holder],
          annotations: KubeRunLock.annotations(run: run, at: clock.now()))
        do {
          try taking.acquire()
          var handedOver = store
          handedOver.lockSuccessors = [claim]
          return .claimed(run: run, claim: claim, store: handedOver)
        } catch {
          // Another standby claimed it first (our compare-and-swap lost): wait for that one.
          observed = nil
          continue
        }
      }
      if let live, let named = KubeRunLock.holder(live) {
        lastHolder = named.run
        if !announced { waiting(named) }
        announced = true
      }
      let poll = Duration.milliseconds(Int64(min(declared, duration) * 1000 / 3))
      if !clock.wait(for: poll, cancellation: cancellation) { break }
    }
    return .cancelled
  }
}
