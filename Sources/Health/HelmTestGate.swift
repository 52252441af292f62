// The `helmTest` gate: the release's own test hooks, run on each cluster by the driver that
// deployed it (`helm test` semantics; see docs/health-gates.md).
import FleetCore
import Foundation

/// Runs the release's tests on each cluster in turn through the run's driver. The first
/// cluster whose tests fail fails the gate. The tests' output (pod logs, or `helm test
/// --logs`) follows the summary in the measurement's detail, bounded and scrubbed.
public struct HelmTestGate: HealthGate {
  public let spec: HelmTestSpec
  /// The run's driver, nil when it cannot run tests (`exec`, `sim`): the gate then fails.
  let tester: (any ReleaseTesting)?
  let run: String

  public init(spec: HelmTestSpec, tester: (any ReleaseTesting)?, run: String) {
    self.spec = spec
    self.tester = tester
    self.run = run
  }

  public var name: String { HealthCheckSpec.helmTest(spec).name }

  /// The tests' own timeout ends each cluster's run; the engine's limit is a backstop a few
  /// seconds later, so the failure names the test that was late.
  public func timeLimit(for clusters: [Cluster]) -> Duration? {
    (spec.timeout + .seconds(10)) * max(1, clusters.count)
  }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    // `{{ .name }}` makes one run per cluster: tests run on each cluster, never once for all.
    await verifyEach(
      gate: name, templates: ["{{ .name }}"], clusters: clusters, variables: [:],
      cancellation: cancellation
    ) { scope in
      let at = clock.now()
      let outcome: ReleaseTestRun
      if let tester {
        outcome = await tester.testRelease(
          on: scope.clusters[0], run: run, timeout: spec.timeout, clock: clock,
          cancellation: cancellation)
      } else {
        outcome = ReleaseTestRun(
          passed: false, summary: "helmTest needs the kube or helm driver")
      }
      let detail =
        outcome.output.isEmpty ? outcome.summary : outcome.summary + "\n" + outcome.output
      let measurement = Measurement(
        gate: name, at: at, outcome: outcome.passed ? .passed : .failed, detail: detail)
      return GateResult(
        gate: name, passed: outcome.passed, measurements: [measurement], summary: outcome.summary)
    }
  }
}
