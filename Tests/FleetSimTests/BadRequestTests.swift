// Requests a real API server refuses get the same refusals, as Status bodies, and the emulator
// keeps serving afterwards.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct BadRequestTests {
  private func expectStatus(
    _ exchange: HTTPExchange, _ code: Int, _ reason: String, _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(exchange.status == code, sourceLocation: sourceLocation)
    #expect(exchange.json?["kind"] == "Status", sourceLocation: sourceLocation)
    #expect(exchange.json?["reason"] == .string(reason), sourceLocation: sourceLocation)
    #expect(exchange.json?["message"] == .string(message), sourceLocation: sourceLocation)
    #expect(exchange.json?["code"] == .int(Int64(code)), sourceLocation: sourceLocation)
  }

  @Test func refusalsAreKubernetesShapedAndTheServerKeepsServing() throws {
    let sim = try SimFixture()
    let configMaps = sim.url("sim-0001", "/api/v1/namespaces/default/configmaps")

    let malformed = try HTTPExchange.send(
      "POST", configMaps, body: "{\"apiVersion\": \"v1\", \"kind\"}",
      contentType: "application/json")
    expectStatus(
      malformed, 400, "BadRequest",
      "the object provided is unrecognized or malformed: request body:1:28: error: "
        + "expected ':' after key in JSON object"
    )

    let badYAML = try HTTPExchange.send(
      "PATCH", configMaps + "/x?fieldManager=test", body: "metadata: [unclosed\n",
      contentType: "application/apply-patch+yaml")
    #expect(badYAML.status == 400)
    #expect(
      badYAML.json?["message"]?.string?.hasPrefix(
        "the object provided is unrecognized or malformed: request body:") == true)

    let unknownResource = try HTTPExchange.send("GET", sim.url("sim-0001", "/api/v1/widgets"))
    expectStatus(
      unknownResource, 404, "NotFound", "the server could not find the requested resource")
    let unknownGroup = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/apis/example.com/v1/widgets"))
    expectStatus(unknownGroup, 404, "NotFound", "the server could not find the requested resource")
    let unknownCluster = try HTTPExchange.send("GET", sim.url("nowhere", "/api/v1/namespaces"))
    expectStatus(
      unknownCluster, 404, "NotFound", "the server could not find the requested resource")

    let wrongKind = try HTTPExchange.send(
      "POST", configMaps, body: #"{"apiVersion":"v1","kind":"Widget","metadata":{"name":"w"}}"#,
      contentType: "application/json")
    expectStatus(
      wrongKind, 400, "BadRequest",
      "the kind in the data (Widget) does not match the expected kind (ConfigMap)")

    let created = try HTTPExchange.send(
      "POST", configMaps,
      body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#,
      contentType: "application/json")
    #expect(created.status == 201)
    #expect(created.json?.at("metadata", "resourceVersion") != nil)
    let again = try HTTPExchange.send(
      "POST", configMaps, body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
      contentType: "application/json")
    expectStatus(again, 409, "AlreadyExists", "configmaps \"c\" already exists")

    let wrongType = try HTTPExchange.send(
      "PATCH", configMaps + "/c", body: "a=2", contentType: "text/plain")
    #expect(wrongType.status == 415)
    #expect(wrongType.json?["reason"] == "UnsupportedMediaType")

    let stale = try HTTPExchange.send(
      "PUT", configMaps + "/c",
      body:
        #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"1"},"#
        + #""data":{"a":"2"}}"#,
      contentType: "application/json")
    expectStatus(
      stale, 409, "Conflict",
      "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please "
        + "apply your changes to the latest version and try again")

    let missingNamespace = try HTTPExchange.send(
      "POST", sim.url("sim-0001", "/api/v1/namespaces/nope/configmaps"),
      body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#,
      contentType: "application/json")
    expectStatus(missingNamespace, 404, "NotFound", "namespaces \"nope\" not found")

    let noManager = try HTTPExchange.send(
      "PATCH", configMaps + "/c", body: #"{"apiVersion":"v1","kind":"ConfigMap"}"#,
      contentType: "application/apply-patch+yaml")
    expectStatus(
      noManager, 422, "Invalid",
      "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
        + "is required for apply patch"
    )

    for name in ["d", "e"] {
      let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":""# + name + #""}}"#
      _ = try HTTPExchange.send("POST", configMaps, body: body, contentType: "application/json")
    }
    let page = try HTTPExchange.send("GET", configMaps + "?limit=2")
    #expect(page.json?["items"]?.sequence?.map(\.name) == ["c", "d"])
    // The namespace's kube-root-ca.crt sorts after them.
    #expect(page.json?.at("metadata", "remainingItemCount") == 2)
    let token = try #require(page.json?.at("metadata", "continue")?.string)
    let next = try HTTPExchange.send(
      "GET",
      configMaps + "?limit=2&continue="
        + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
    #expect(next.json?["items"]?.sequence?.map(\.name) == ["e", "kube-root-ca.crt"])
    #expect(next.json?.at("metadata", "continue") == nil)

    let badSelector = try HTTPExchange.send("GET", configMaps + "?labelSelector=a%20in%20(")
    #expect(badSelector.status == 400)

    let huge = Data(repeating: UInt8(ascii: " "), count: 4 << 20)
    let tooLarge = try HTTPExchange.send(
      "POST", configMaps, contentType: "application/json", bodyBytes: huge)
    expectStatus(tooLarge, 413, "RequestEntityTooLarge", "the request is too large")

    let missing = try HTTPExchange.send("DELETE", configMaps + "/ghost")
    expectStatus(missing, 404, "NotFound", "configmaps \"ghost\" not found")

    let version = try HTTPExchange.send("GET", sim.url("sim-0001", "/version"))
    #expect(version.status == 200)
    #expect(version.json?["gitVersion"] == "v1.32.0-fleet-sim")
    let stillThere = try HTTPExchange.send("GET", configMaps + "/c")
    #expect(stillThere.json?.at("data", "a") == "1")
  }

  @Test func patchTypesAndDryRun() throws {
    let sim = try SimFixture()
    let configMaps = sim.url("sim-0001", "/api/v1/namespaces/default/configmaps")
    _ = try HTTPExchange.send(
      "POST", configMaps,
      body:
        #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p","labels":{"a":"1"}},"#
        + #""data":{"x":"1","y":"2"}}"#,
      contentType: "application/json")

    let merge = try HTTPExchange.send(
      "PATCH", configMaps + "/p", body: #"{"data":{"x":null,"z":"3"}}"#,
      contentType: "application/merge-patch+json")
    #expect(merge.json?["data"] == ["y": "2", "z": "3"])
    let json = try HTTPExchange.send(
      "PATCH", configMaps + "/p",
      body:
        #"[{"op":"replace","path":"/data/y","value":"20"},{"op":"add","path":"/metadata/labels/b","#
        + #""value":"2"}]"#,
      contentType: "application/json-patch+json")
    #expect(json.json?["data"] == ["y": "20", "z": "3"])
    #expect(json.json?.at("metadata", "labels") == ["a": "1", "b": "2"])
    let failedTest = try HTTPExchange.send(
      "PATCH", configMaps + "/p", body: #"[{"op":"test","path":"/data/y","value":"nope"}]"#,
      contentType: "application/json-patch+json")
    #expect(failedTest.status == 422)

    let dryRun = try HTTPExchange.send(
      "PATCH", configMaps + "/p?dryRun=All", body: #"{"data":{"y":"dry"}}"#,
      contentType: "application/strategic-merge-patch+json")
    #expect(dryRun.json?.at("data", "y") == "dry")
    #expect(try HTTPExchange.send("GET", configMaps + "/p").json?.at("data", "y") == "20")

    // Strategic merge: containers merge by name, `$patch: delete` removes one.
    let deployments = sim.url("sim-0001", "/apis/apps/v1/namespaces/default/deployments")
    let deployment =
      #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"#
      + #""spec":{"selector":{"matchLabels":{"a":"b"}},"#
      + #""template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"one","#
      + #""image":"i:1"},{"name":"two","image":"j:1"}]}}}}"#
    #expect(
      try HTTPExchange.send("POST", deployments, body: deployment, contentType: "application/json")
        .status == 201)
    let strategic = try HTTPExchange.send(
      "PATCH", deployments + "/d",
      body:
        #"{"spec":{"template":{"spec":{"containers":[{"name":"two","image":"j:2"},"#
        + #"{"name":"one","$patch":"delete"}]}}}}"#,
      contentType: "application/strategic-merge-patch+json")
    #expect(
      strategic.json?.at("spec", "template", "spec", "containers") == [
        ["name": "two", "image": "j:2"]
      ])
    #expect(strategic.json?.at("metadata", "generation") == 2)

    // Deletion with propagation options as kubectl and helm send them.
    let deleted = try HTTPExchange.send(
      "DELETE", deployments + "/d",
      body: #"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}"#,
      contentType: "application/json")
    #expect(deleted.status == 200)
    #expect(try HTTPExchange.send("GET", deployments + "/d").status == 404)
  }
}
