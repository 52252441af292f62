// Services get Endpoints and EndpointSlices from the pods they select, as the endpoints and
// endpointslice controllers write them, read through the real kubectl.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ServiceEndpointsTests {
  @Test func aServiceListsItsReadyPodsAsEndpointsAndEndpointSlices() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let created = try sim.kubectl(["create", "deployment", "web", "--image=web:1", "--replicas=2"])
    #expect(created.stdout == "deployment.apps/web created\n", "\(created.stderr)")
    let exposed = try sim.kubectl([
      "create", "service", "clusterip", "web", "--tcp=80:8080",
    ])
    #expect(exposed.stdout == "service/web created\n", "\(exposed.stderr)")
    sim.server.settle()
    let pods = try sim.kubectl([
      "get", "pods", "-o",
      "jsonpath={range .items[*]}{.status.podIP} {.status.phase}{\"\\n\"}{end}",
    ])
    let ips = pods.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    #expect(ips.count == 1, "\(pods.stdout)\(pods.stderr)")
    let starting = try #require(ips.first?.first)
    // A pod that is starting is listed, not ready.
    let notReady = try sim.kubectl([
      "get", "endpoints", "web", "-o",
      "jsonpath={.subsets[0].notReadyAddresses[0].ip}:{.subsets[0].ports[0].port} "
        + "{.subsets[0].addresses}",
    ])
    #expect(notReady.stdout == "\(starting):8080 ", "\(notReady.stderr)")
    for _ in 0..<4 {
      clock.advance(by: .seconds(RolloutController.replicaInterval))
      sim.server.settle()
    }
    let ready = try sim.kubectl([
      "get", "pods", "-o", "jsonpath={.items[*].status.podIP}",
    ]).stdout.split(separator: " ").map(String.init).sorted()
    #expect(ready.count == 2)
    let endpoints = try sim.kubectl(["get", "endpoints", "web"])
    let cell = "\(ready[0]):8080,\(ready[1]):8080"
    let header = "ENDPOINTS".padding(toLength: cell.count, withPad: " ", startingAt: 0)
    #expect(
      endpoints.stdout == "NAME   \(header)   AGE\nweb    \(cell)   8s\n", "\(endpoints.stderr)")
    let slices = try sim.kubectl([
      "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o",
      "jsonpath={range .items[*]}{.metadata.name} {.addressType} {.ports[0].port} "
        + "{.endpoints[*].conditions.ready} {.metadata.ownerReferences[0].name}{end}",
    ])
    #expect(
      slices.stdout == "web-\(TemplateHash.of(.string("web")).prefix(5)) IPv4 8080 true true web")

    // Deleting the Service takes its Endpoints and EndpointSlice along.
    #expect(try sim.kubectl(["delete", "service", "web"]).stdout == "service \"web\" deleted\n")
    let gone = try sim.kubectl(["get", "endpoints,endpointslices"])
    #expect(gone.stdout + gone.stderr == "No resources found in default namespace.\n")
  }
}
