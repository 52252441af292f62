// The `helmTest` health check as fleet.yaml declares it: no fields but an optional timeout.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct HelmTestCheckTests {
  @Test func helmTestTakesATimeoutAndDefaultsToHelmsFiveMinutes() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a}",
        """
        rollout:
          health:
            - helmTest: {}
            - {name: smoke, helmTest: {timeout: 90s}}
          waveHealth:
            - helmTest:
        """)
    ])
    defer { fixture.remove() }
    let policy = try fixture.load().fleet.rollout
    #expect(policy.health.map(\.name) == ["helm-test", "smoke"])
    guard case .helmTest(let plain) = policy.health[0],
      case .helmTest(let timed) = policy.health[1],
      case .helmTest(let wave) = policy.waveHealth.first
    else {
      Issue.record("unexpected health checks: \(policy.health)")
      return
    }
    #expect(plain.timeout == .seconds(300))
    #expect(timed.timeout == .seconds(90))
    #expect(wave.timeout == .seconds(300))
  }

  @Test func aHelmTestCheckRefusesOtherFieldsAndBadTimeouts() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a}",
        """
        rollout:
          health:
            - helmTest: {timeout: soon}
            - helmTest: {filter: name=x}
        """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:9:27: error: invalid duration 'soon' for 'timeout' (use a number and a unit: 500ms, 30s, 10m, 1h30m, 2d)
                - helmTest: {timeout: soon}
                                      ^
        FLEET/fleet.yaml:10:18: error: unknown key 'filter' in helmTest health check
                - helmTest: {filter: name=x}
                             ^
        """)
  }
}
