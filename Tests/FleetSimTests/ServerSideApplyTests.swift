// Server-side apply between several managers, discovery as newer clients ask for it, and a
// thousand virtual clusters in one process.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ServerSideApplyTests {
  @Test func managersShareAgreeingFieldsConflictOnOthersAndForceTakesThemOver() throws {
    let sim = try SimFixture()
    let url = sim.url("sim-0001", "/api/v1/namespaces/default/configmaps/shared")
    func apply(_ manager: String, _ yaml: String, force: Bool = false) throws -> HTTPExchange {
      try HTTPExchange.send(
        "PATCH", url + "?fieldManager=\(manager)" + (force ? "&force=true" : ""), body: yaml,
        contentType: "application/apply-patch+yaml")
    }
    let header = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n"
    let first = try apply("alice", header + "data:\n  color: blue\n  size: \"3\"\n")
    #expect(first.status == 201)
    #expect(try apply("bob", header + "data:\n  color: blue\n").status == 200)

    let conflict = try apply("bob", header + "data:\n  color: red\n  size: \"4\"\n")
    #expect(conflict.status == 409)
    #expect(
      conflict.json?["message"]?.string
        == "Apply failed with 2 conflicts: conflicts with \"alice\" using v1:\n"
        + "- .data.color\n- .data.size")
    #expect(
      conflict.json?.at("details", "causes")?.sequence?.map { $0["field"]?.string ?? "" }
        == [".data.color", ".data.size"])

    let forced = try apply("bob", header + "data:\n  color: red\n", force: true)
    #expect(forced.json?["data"] == ["color": "red", "size": "3"])
    let owners = (forced.json?.at("metadata", "managedFields")?.sequence ?? []).map {
      "\($0["manager"]?.string ?? "") \($0["operation"]?.string ?? ""): "
        + JSONWriter.string($0["fieldsV1"] ?? .null)
    }
    #expect(
      owners == [
        #"alice Apply: {"f:data":{"f:size":{}}}"#, #"bob Apply: {"f:data":{"f:color":{}}}"#,
      ])

    // A field its only manager stops applying is removed.
    let dropped = try apply("alice", header + "data: {}\n")
    #expect(dropped.json?["data"] == ["color": "red"])
  }

  @Test func aggregatedDiscoveryRequestsGetTheClassicDocument() throws {
    let sim = try SimFixture()
    let accept =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
      + "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    let apis = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/apis"), headers: ["Accept": accept])
    #expect(apis.status == 200)
    #expect(apis.headers["content-type"] == "application/json")
    #expect(apis.json?["kind"] == "APIGroupList")
    let groups = apis.json?["groups"]?.sequence?.compactMap { $0["name"]?.string }
    #expect(groups?.contains("apps") == true)
    #expect(groups?.contains("coordination.k8s.io") == true)
    let apps = try HTTPExchange.send("GET", sim.url("sim-0001", "/apis/apps/v1"))
    let names = apps.json?["resources"]?.sequence?.compactMap { $0["name"]?.string }
    #expect(
      names?.prefix(4) == [
        "deployments", "deployments/status", "deployments/scale", "statefulsets",
      ])
  }

  @Test func aHungClusterNeverAnswers() throws {
    let faults = FaultSet(api: [
      APIFault(scope: ClusterScope(clusters: ["sim-0002"]), timeout: true)
    ])
    let sim = try SimFixture(faults: faults)
    #expect(try HTTPExchange.send("GET", sim.url("sim-0001", "/version")).status == 200)
    #expect(throws: (any Error).self) {
      try HTTPExchange.send("GET", sim.url("sim-0002", "/version"), timeout: 1)
    }
  }

  @Test func aThousandVirtualClustersInOneProcess() throws {
    let sim = try SimFixture(clusters: VirtualClusterSpec.numbered(1000))
    let listing = try HTTPExchange.send("GET", "http://127.0.0.1:\(sim.server.port)/admin/clusters")
    let clusters = listing.json?["clusters"]?.sequence ?? []
    #expect(clusters.count == 1000)
    #expect(clusters.last?["name"] == "sim-1000")
    let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"only-here"}}"#
    let created = try HTTPExchange.send(
      "POST", sim.url("sim-0500", "/api/v1/namespaces/default/configmaps"), body: body,
      contentType: "application/json")
    #expect(created.status == 201)
    let here = try HTTPExchange.send(
      "GET", sim.url("sim-0500", "/api/v1/namespaces/default/configmaps"))
    let there = try HTTPExchange.send(
      "GET", sim.url("sim-0501", "/api/v1/namespaces/default/configmaps"))
    #expect(here.json?["items"]?.sequence?.map(\.name) == ["kube-root-ca.crt", "only-here"])
    #expect(there.json?["items"]?.sequence?.map(\.name) == ["kube-root-ca.crt"])
    let kubeconfig = try String(contentsOfFile: sim.kubeconfig, encoding: .utf8)
    #expect(kubeconfig.components(separatedBy: "\n  context:\n").count == 1001)
  }
}
