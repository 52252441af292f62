// `onUnreachable`, `deferAttempts`, `deferBackoff` and `deferMaxBackoff`: read for the fleet,
// laid over it for a wave, and every bad value refused where it is written.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct UnreachablePolicyTests {
  let twoClusters = """
      - {name: a, labels: {env: prod}}
      - {name: b, labels: {env: dev}}
    """

  @Test func aWaveLaysItsOwnKeysOverTheFleetsPolicy() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: twoClusters,
        """
        rollout:
          onUnreachable: defer
          deferAttempts: 5
          deferBackoff: 30s
          canary: {selector: env=dev, onUnreachable: fail}
          waves:
            - {name: dev, selector: env=dev, onUnreachable: fail}
            - {name: prod, selector: env=prod, deferMaxBackoff: 10m}
            - {name: rest}
        """)
    ])
    defer { fixture.remove() }
    let rollout = try fixture.load().fleet.rollout
    #expect(
      rollout.unreachable
        == UnreachablePolicy(
          action: .defer, attempts: 5, backoff: .seconds(30), maxBackoff: .seconds(120)))
    #expect(
      rollout.canary?.unreachable
        == UnreachablePolicy(
          action: .fail, attempts: 5, backoff: .seconds(30), maxBackoff: .seconds(120)))
    #expect(
      rollout.waveUnreachable == [
        "dev": UnreachablePolicy(
          action: .fail, attempts: 5, backoff: .seconds(30), maxBackoff: .seconds(120)),
        "prod": UnreachablePolicy(
          action: .defer, attempts: 5, backoff: .seconds(30), maxBackoff: .seconds(600)),
      ])
  }

  @Test func failWithThreeAttemptsOfTenSecondsIsTheDefault() throws {
    let fixture = try FleetFixture(["fleet.yaml": fleetFile(clusters: twoClusters)])
    defer { fixture.remove() }
    let rollout = try fixture.load().fleet.rollout
    #expect(
      rollout.unreachable
        == UnreachablePolicy(
          action: .fail, attempts: 3, backoff: .seconds(10), maxBackoff: .seconds(120)))
    #expect(rollout.waveUnreachable.isEmpty)
    #expect(rollout.canary == nil)
  }

  @Test func badValuesAreLocatedErrors() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: twoClusters,
        """
        rollout:
          onUnreachable: deffer
          deferAttempts: 0
          deferBackoff: 0s
          waves:
            - {name: all, onUnreachable: skip, deferBackoff: 5m, deferMaxBackoff: 1m}
        """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:9:18: error: invalid 'onUnreachable' value 'deffer'; did you mean 'defer'?
              onUnreachable: deffer
                             ^
        FLEET/fleet.yaml:10:18: error: 'deferAttempts' in rollout must be at least 1, found 0
              deferAttempts: 0
                             ^
        FLEET/fleet.yaml:11:17: error: 'deferBackoff' in rollout must be longer than 0s, found 0s
              deferBackoff: 0s
                            ^
        FLEET/fleet.yaml:13:34: error: invalid 'onUnreachable' value 'skip'; expected one of fail, defer
                - {name: all, onUnreachable: skip, deferBackoff: 5m, deferMaxBackoff: 1m}
                                             ^
        FLEET/fleet.yaml:13:75: error: 'deferMaxBackoff' (1m) in wave 'all' is shorter than 'deferBackoff' (5m)
                - {name: all, onUnreachable: skip, deferBackoff: 5m, deferMaxBackoff: 1m}
                                                                                      ^
        """)
  }
}
