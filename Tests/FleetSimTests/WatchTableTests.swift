// Watch events printed by the server: `kubectl get -w` asks for each event's object as a Table.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct WatchTableTests {
  @Test func watchEventsCarryOneRowTablesWhenAskedFor() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let created = try sim.kubectl(["create", "deployment", "web", "--image=web:1", "--replicas=2"])
    #expect(created.stdout == "deployment.apps/web created\n", "\(created.stderr)")
    sim.server.settle()
    let watched = try HTTPExchange.send(
      "GET",
      sim.url(
        "sim-0001", "/apis/apps/v1/namespaces/default/deployments?watch=true&timeoutSeconds=1"),
      headers: ["Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"])
    #expect(watched.status == 200)
    let events = watched.body.split(separator: "\n").compactMap {
      try? JSONReader.parse(String($0))
    }
    #expect(events.count == 1, "\(watched.body)")
    let event = try #require(events.first)
    #expect(event["type"] == "ADDED")
    #expect(event.at("object", "kind") == "Table")
    #expect(
      event.at("object", "columnDefinitions")?.sequence?.compactMap { $0["name"]?.string } == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
      ])
    #expect(
      event.at("object", "rows")?.sequence?.first?["cells"] == [
        "web", "0/2", 1, 0, "0s", "web", "web:1", "app=web",
      ])
    #expect(
      event.at("object", "rows")?.sequence?.first?.at("object", "kind") == "PartialObjectMetadata")

    // Without `as=Table` the object itself, as before.
    let plain = try HTTPExchange.send(
      "GET",
      sim.url(
        "sim-0001", "/apis/apps/v1/namespaces/default/deployments?watch=true&timeoutSeconds=1"))
    let first = try #require(
      plain.body.split(separator: "\n").first.flatMap { try? JSONReader.parse(String($0)) })
    #expect(first.at("object", "kind") == "Deployment")
  }
}
