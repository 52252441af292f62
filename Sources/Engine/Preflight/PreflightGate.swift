// Preflight before each wave of a rollout: the checks of `fleetwave preflight` over the
// wave's pending clusters, run by the executor as a wave entry gate just before the wave
// starts. Its verdict is journaled as the wave's `preflight` gate result, so status and the
// reports show it; a failure stops the run, resumable, before the wave touches a cluster.
import Drivers
import FleetCore
import Foundation

/// The `preflight` entry gate of a kube-driver rollout.
public final class PreflightGate: HealthGate, @unchecked Sendable {
  public let name = "preflight"
  private var action: PreflightAction
  let strict: Bool
  /// Where each problem line goes as it is found (standard error, for the command).
  let report: @Sendable (String) -> Void
  private let lock = NSLock()
  private var failedOnce = false

  public init(
    driver: KubeDriver, strict: Bool, window: Int = 64,
    report: @escaping @Sendable (String) -> Void
  ) {
    self.action = PreflightAction(driver: driver, window: window)
    self.strict = strict
    self.report = report
  }

  /// Says which run is rolling out, once its journal is open: the Leases of its own
  /// processes are taken over, not another operation in progress.
  public func checking(for instance: RunInstance) {
    lock.lock()
    defer { lock.unlock() }
    action.instance = instance
  }

  private var configured: PreflightAction {
    lock.lock()
    defer { lock.unlock() }
    return action
  }

  /// Whether a wave of this process's run was stopped by a failed preflight.
  public var failed: Bool {
    lock.lock()
    defer { lock.unlock() }
    return failedOnce
  }

  /// The entry gates a run of `drivers` gets: the preflight for the kube driver, a record
  /// that it was skipped with `--skip-preflight`, and nothing for the drivers preflight has
  /// no checks for (sim, exec, helm).
  public static func entryGates(
    for drivers: RunDrivers, skip: Bool, strict: Bool, report: @escaping @Sendable (String) -> Void
  ) -> (gates: [any HealthGate], preflight: PreflightGate?) {
    guard let kube = drivers.driver as? KubeDriver else { return ([], nil) }
    if skip { return ([SkippedPreflight()], nil) }
    let gate = PreflightGate(driver: kube, strict: strict, report: report)
    return ([gate], gate)
  }

  private func markFailed() {
    lock.lock()
    defer { lock.unlock() }
    failedOnce = true
  }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    let all = await configured.run(clusters)
    // A cluster whose API cannot be reached is not the release's problem: it goes on into
    // the wave, where the wave's `onUnreachable` policy fails it or defers it until it can be
    // reached, as it would without a preflight.
    let unreachable = all.filter(\.unreachable)
    for result in unreachable {
      for problem in result.problems {
        report(
          "preflight: \(result.cluster): unreachable, left to the wave's onUnreachable policy: "
            + problem.message)
      }
    }
    let results = all.filter { !$0.unreachable }
    let lines = ClusterPreflight.problemLines(results, strict: strict)
    for line in lines { report("preflight: " + line) }
    let failing = results.filter { !$0.passes(strict: strict) }
    guard failing.isEmpty else {
      markFailed()
      // Every problem is on standard error; the journal keeps the first few.
      let shown = 10
      var summary =
        "failed on \(failing.count) of \(results.count) cluster"
        + (results.count == 1 ? "" : "s") + ": "
        + lines.prefix(shown).joined(separator: "; ")
      if lines.count > shown { summary += "; and \(lines.count - shown) more" }
      return GateResult(gate: name, passed: false, summary: summary)
    }
    let warnings = lines.count
    return GateResult(
      gate: name, passed: true,
      summary: "passed on \(results.count) cluster" + (results.count == 1 ? "" : "s")
        + (warnings == 0 ? "" : warnings == 1 ? ", 1 warning" : ", \(warnings) warnings")
        + (unreachable.isEmpty ? "" : ", \(unreachable.count) unreachable"))
  }
}

/// What a wave records when the rollout was told `--skip-preflight`: the journal says the
/// checks were skipped on purpose, not forgotten.
struct SkippedPreflight: HealthGate {
  let name = "preflight"

  func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation) async
    -> GateResult
  {
    GateResult(gate: name, passed: true, summary: "skipped (--skip-preflight)")
  }
}
