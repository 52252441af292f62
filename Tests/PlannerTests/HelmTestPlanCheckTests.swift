// The plan names a helmTest gate with its limit, as it does every other gate; one-line views
// show only the first line of its detail (the test Pods' logs follow it).
import FleetCore
import Foundation
import Testing

@testable import Report

@Suite struct HelmTestPlanCheckTests {
  @Test func aHelmTestGateShowsItsTimeoutInThePlan() {
    var fleet = demoFleet()
    fleet.rollout.health = [.helmTest(HelmTestSpec())]
    fleet.rollout.waveHealth = [.helmTest(HelmTestSpec(timeout: .seconds(90), name: "smoke"))]
    let checks = PlanChecks(fleet.rollout, windows: [:])
    #expect(
      checks.lines == [
        "on failure: roll back failed, in-flight upgrades finish",
        "gate per cluster: helm-test (helmTest): test hooks succeed within 5m",
        "gate per wave: smoke (helmTest): test hooks succeed within 1m30s",
      ])
  }

  @Test func aOneLineViewShowsTheFirstLineOfATestsDetail() {
    let detail =
      "1 test of revision 2 passed\nPOD LOGS: shop-test\nfleet-sim: container t exited with code 0"
    let result = GateResult(
      gate: "helm-test", passed: true,
      measurements: [Measurement(gate: "helm-test", at: Date(), outcome: .passed, detail: detail)],
      summary: "1 test of revision 2 passed")
    #expect(GateText.lastValue(result) == "1 test of revision 2 passed")
  }
}
