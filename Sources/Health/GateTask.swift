// Starting a gate from callback-style code (the executor's queue) without giving it a thread.
import FleetCore
import Foundation
import Kube

extension HealthGate {
  /// Starts `verify` as a task and calls `completion` with its result. The task runs on the
  /// blocking-safe task executor, not the cooperative pool: a caller that parks a pool thread
  /// on the run's end (a test, a command) must not also starve the gates it waits for. The
  /// task holds a thread only while gate code runs, never while it waits.
  public func start(
    clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation,
    completion: @escaping @Sendable (GateResult) -> Void
  ) {
    Task(executorPreference: Blocking.executor) {
      completion(await verify(clusters: clusters, clock: clock, cancellation: cancellation))
    }
  }
}
