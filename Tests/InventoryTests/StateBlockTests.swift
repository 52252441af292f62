// The fleet file's `state:` block: the home cluster a fleet's runs are kept in.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct StateBlockTests {
  @Test func aStateBlockNamesTheHomeClusterOfTheFleetsRuns() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a}",
        "state: {context: arn:aws:eks:eu-west-1:1234:cluster/home, namespace: fleetwave}\n")
    ])
    defer { fixture.remove() }
    let home = FleetStateHome(
      context: "arn:aws:eks:eu-west-1:1234:cluster/home", namespace: "fleetwave")
    #expect(try fixture.load().fleet.state == home)
    #expect(try FleetLoader.stateHome(directory: fixture.path) == home)
    #expect(home.location == "kube://arn:aws:eks:eu-west-1:1234:cluster/home/fleetwave")
  }

  @Test func aFleetWithoutAStateBlockKeepsItsRunsLocally() throws {
    let fixture = try FleetFixture(["fleet.yaml": fleetFile(clusters: "  - {name: a}")])
    defer { fixture.remove() }
    #expect(try fixture.load().fleet.state == nil)
    #expect(try FleetLoader.stateHome(directory: fixture.path) == nil)
  }

  @Test func wrongStateBlocksAreLocatedErrors() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a}",
        """
        state:
          contxt: home
          namespace: Fleet_Wave
        """)
    ])
    defer { fixture.remove() }
    let expected = """
      FLEET/fleet.yaml:8:3: error: unknown key 'contxt' in state; did you mean 'context'?
            contxt: home
            ^
      FLEET/fleet.yaml:8:3: error: state is missing required key 'context'
            contxt: home
            ^
      FLEET/fleet.yaml:9:14: error: 'namespace' in state must be a namespace name (1-63 lowercase letters, digits and '-', alphanumeric at both ends), found 'Fleet_Wave'
            namespace: Fleet_Wave
                       ^
      """
    #expect(fixture.problems() == expected)
    // The run verbs read the block alone, with the same errors.
    #expect(throws: DiagnosticError.self) { try FleetLoader.stateHome(directory: fixture.path) }
    let notAMapping = try FleetFixture([
      "fleet.yaml": fleetFile(clusters: "  - {name: a}", "state: kube://home/fleetwave\n")
    ])
    defer { notAMapping.remove() }
    #expect(
      notAMapping.problems() == """
        FLEET/fleet.yaml:7:8: error: state must be a mapping, found a string
            state: kube://home/fleetwave
                   ^
        """)
  }
}
