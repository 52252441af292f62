// Injected faults (API errors, throttling, unreachable clusters; bad images) and the per-cluster
// application metrics they drive.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct FaultsAndMetricsTests {
  @Test func faultsFileIsCheckedWithPositions() throws {
    let text = """
      images:
        - match: "*:2.0.0-bad"
          efect: errors

      """
    #expect {
      try FaultSet.parse(try YAMLBody.parse(Array(text.utf8), path: "faults.yaml"))
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "faults.yaml:3:5: error: unknown key 'efect'; expected one of match, effect,"
        + " slowFactor, "
        + "errorRatio, clusters, selector"
    }
    let valid = """
      images:
        - {match: "shop/*:2.0.0-bad", effect: errors, errorRatio: 0.5, selector: "env=prod"}
        - {match: "*:stuck", effect: never-ready}
      api:
        - {clusters: [sim-0002], throttleRate: 1, retryAfterSeconds: 7}
        - {selector: "region=us-east-1", latency: 250ms}

      """
    let faults = try FaultSet.parse(try YAMLBody.parse(Array(valid.utf8), path: "faults.yaml"))
    #expect(faults.images.count == 2)
    #expect(
      faults.imageFault("shop/cart:2.0.0-bad", cluster: "a", labels: ["env": "prod"])?.errorRatio
        == 0.5)
    #expect(faults.imageFault("shop/cart:2.0.0-bad", cluster: "a", labels: ["env": "dev"]) == nil)
    #expect(faults.api[1].latency == .milliseconds(250))
    #expect(try FaultSet.parse(faults.value) == faults)
  }

  @Test func apiFaultsPerClusterAndTheAdminEndpoint() throws {
    let sim = try SimFixture(clusters: VirtualClusterSpec.numbered(3))
    let admin = "http://127.0.0.1:\(sim.server.port)/admin/faults"
    let put = try HTTPExchange.send(
      "PUT", admin,
      body: """
        api:
          - {clusters: [sim-0002], throttleRate: 1, retryAfterSeconds: 7}
          - {selector: "region=eu-west-1", errorRate: 1, errorCode: 503}
          - {clusters: [sim-0001], unreachable: true}

        """, contentType: "application/yaml")
    #expect(put.status == 200, "\(put.body)")
    #expect(try HTTPExchange.send("GET", admin).json == put.json)

    let throttled = try HTTPExchange.send("GET", sim.url("sim-0002", "/api/v1/namespaces"))
    #expect(throttled.status == 429)
    #expect(throttled.headers["retry-after"] == "7")
    #expect(throttled.json?["reason"] == "TooManyRequests")
    // sim-0003 is in eu-west-1 (VirtualClusterSpec.numbered cycles regions).
    let failing = try HTTPExchange.send("GET", sim.url("sim-0003", "/api/v1/namespaces"))
    #expect(failing.status == 503)
    #expect(failing.json?["reason"] == "ServiceUnavailable")
    #expect(throws: (any Error).self) {
      try HTTPExchange.send("GET", sim.url("sim-0001", "/version"))
    }

    let invalid = try HTTPExchange.send(
      "PUT", admin, body: "api: [{errorRat: 1}]\n", contentType: "application/yaml")
    #expect(invalid.status == 400)
    #expect(
      invalid.body.hasPrefix("request body:1:8: error: unknown key 'errorRat'"), "\(invalid.body)")

    #expect(try HTTPExchange.send("DELETE", admin).status == 200)
    #expect(try HTTPExchange.send("GET", sim.url("sim-0001", "/version")).status == 200)
    #expect(try HTTPExchange.send("GET", sim.url("sim-0002", "/api/v1/namespaces")).status == 200)
  }

  @Test func errorRatioFollowsTheDeployedImage() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [
      ImageFault(match: "shop:2.0-bad", effect: .errors, errorRatio: 0.25)
    ])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    let deployments = sim.url("sim-0001", "/apis/apps/v1/namespaces/default/deployments")
    let body =
      #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop"},"#
      + #""spec":{"selector":{"matchLabels":{"app":"shop"}},"#
      + #""template":{"metadata":{"labels":{"app":"shop"}},"#
      + #""spec":{"containers":[{"name":"shop","image":"shop:1.0"}]}}}}"#
    #expect(
      try HTTPExchange.send("POST", deployments, body: body, contentType: "application/json").status
        == 201)
    let metrics = sim.url("sim-0001", "/app/metrics")

    clock.advance(by: .seconds(100))
    let healthy = try HTTPExchange.send("GET", metrics).body
    #expect(healthy.contains("\napp_requests_total 2000\n"))
    #expect(healthy.contains("\napp_request_errors_total 2\n"))
    #expect(healthy.contains("\napp_version_info{image=\"shop:1.0\"} 1\n"))
    #expect(
      healthy.hasPrefix(
        "# HELP app_requests_total Requests served by the application.\n# TYPE "
          + "app_requests_total counter\n"
      ))

    let patch =
      #"{"spec":{"template":{"spec":{"containers":[{"name":"shop","image":"shop:2.0-bad"}]}}}}"#
    #expect(
      try HTTPExchange.send(
        "PATCH", deployments + "/shop", body: patch,
        contentType: "application/strategic-merge-patch+json"
      ).status == 200)
    clock.advance(by: .seconds(100))
    let bad = try HTTPExchange.send("GET", metrics).body
    #expect(bad.contains("\napp_requests_total 4000\n"))
    #expect(bad.contains("\napp_request_errors_total 502\n"))
    #expect(try HTTPExchange.send("GET", sim.url("sim-0001", "/app/healthz")).status == 200)

    let fleet = try HTTPExchange.send("GET", "http://127.0.0.1:\(sim.server.port)/metrics").body
    #expect(
      fleet.contains(
        "\napp_requests_total{cluster=\"sim-0001\"} 4000\napp_requests_total{cluster=\"sim-0002\"} "
          + "4000\n"
      ))
    #expect(fleet.contains("\napp_request_errors_total{cluster=\"sim-0002\"} 4\n"))
    #expect(fleet.components(separatedBy: "# TYPE app_requests_total counter").count == 2)
  }
}
