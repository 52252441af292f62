// The plan names a helmTest gate with its limit, as it does every other gate.
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
}
