// The http gate against a scripted loopback server, on a ManualClock.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Health
import Testing

@Suite struct HTTPProbeGateTests {
  /// Runs the gate in the background and advances the clock by `interval` each time a probe has
  /// reached the server and the gate is waiting; stops when the gate returns.
  func drive(
    _ gate: any HealthGate, clusters: [Cluster], server: LoopbackServer, interval: Duration,
    probes: Int, clock: ManualClock
  ) -> GateResult {
    let work = Background {
      gate.verifyBlocking(clusters: clusters, clock: clock, cancellation: Cancellation())
    }
    return HealthTests.drive(
      work, server: server, clock: clock, waits: (1..<probes).map { ($0, interval) })
  }

  @Test func passesAfterTheRequiredSuccessesInARow() throws {
    let server = try scriptedServer([
      .respond(status: 503), .ok(), .respond(status: 500), .ok(), .ok(), .ok(),
    ])
    defer { server.stop() }
    let spec = HTTPProbeSpec(url: server.baseURL + "/healthz", successes: 3, interval: .seconds(5))
    let gate = HealthGates.make(spec: .http(spec), transport: transport)
    let clock = ManualClock(start: start)
    let result = drive(
      gate, clusters: [Cluster(name: "a")], server: server, interval: .seconds(5), probes: 6,
      clock: clock)
    #expect(result.passed)
    // Unnamed, a probe is called by its host and path.
    #expect(result.gate == "127.0.0.1/healthz")
    #expect(latencyFree(result.summary) == "3 good answers in a row; last: HTTP 200 in _ ms")
    #expect(
      result.measurements.map(\.outcome) == [.failed, .passed, .failed, .passed, .passed, .passed])
    #expect(
      result.measurements.map { latencyFree($0.detail) } == [
        "HTTP 503 in _ ms: expected status 200-299", "HTTP 200 in _ ms",
        "HTTP 500 in _ ms: expected status 200-299", "HTTP 200 in _ ms", "HTTP 200 in _ ms",
        "HTTP 200 in _ ms",
      ])
    #expect(
      result.measurements.map(\.at) == (0..<6).map { start.addingTimeInterval(Double($0) * 5) })
    #expect(server.requests.count == 6)
  }

  @Test func failsAtTheTimeoutWithTheLastReason() throws {
    let server = try scriptedServer([.respond(status: 503)])
    defer { server.stop() }
    let spec = HTTPProbeSpec(
      url: server.baseURL + "/healthz", expectStatus: 200...200, interval: .seconds(10),
      timeout: .seconds(30))
    let clock = ManualClock(start: start)
    let result = drive(
      HealthGates.make(spec: .http(spec), transport: transport), clusters: [Cluster(name: "a")],
      server: server, interval: .seconds(10), probes: 4, clock: clock)
    #expect(!result.passed)
    #expect(
      latencyFree(result.summary)
        == "no good answer within 30s (4 probes); last: HTTP 503 in _ ms: expected status 200")
    #expect(result.measurements.count == 4)
  }

  @Test func checksAJSONFieldAndTheBody() throws {
    let server = try scriptedServer([
      .ok(#"{"status": {"ready": false}}"#), .ok("not json"), .ok(#"{"status": {"ready": true}}"#),
    ])
    defer { server.stop() }
    let spec = HTTPProbeSpec(
      url: server.baseURL + "/status", bodyContains: "status", jsonField: "status.ready",
      jsonValue: "true", interval: .seconds(1))
    let clock = ManualClock(start: start)
    let result = drive(
      HealthGates.make(spec: .http(spec), transport: transport), clusters: [Cluster(name: "a")],
      server: server, interval: .seconds(1), probes: 3, clock: clock)
    #expect(result.passed)
    #expect(
      result.measurements.map { latencyFree($0.detail) } == [
        "HTTP 200 in _ ms: status.ready is 'false', expected 'true'",
        "HTTP 200 in _ ms: body does not contain 'status'",
        "HTTP 200 in _ ms",
      ])
  }

  @Test func aSlowAnswerFailsTheLatencyLimit() throws {
    let server = try scriptedServer([.respond(status: 200, body: "ok", delayMs: 1500), .ok()])
    defer { server.stop() }
    let spec = HTTPProbeSpec(
      url: server.baseURL + "/", maxLatency: .seconds(1), interval: .seconds(5))
    let clock = ManualClock(start: start)
    let result = drive(
      HealthGates.make(spec: .http(spec), transport: transport), clusters: [Cluster(name: "a")],
      server: server, interval: .seconds(5), probes: 2, clock: clock)
    #expect(result.passed)
    #expect(result.measurements.map(\.outcome) == [.failed, .passed])
    #expect(latencyFree(result.measurements[0].detail) == "HTTP 200 in _ ms: slower than 1s")
    #expect((result.measurements[0].value ?? 0) >= 1500)
  }

  @Test func transportErrorsAreRecordedAsErrors() throws {
    let port = try freeLoopbackPort()
    let spec = HTTPProbeSpec(url: "http://127.0.0.1:\(port)/healthz", timeout: .zero)
    let result = HealthGates.make(spec: .http(spec), transport: transport)
      .verifyBlocking(
        clusters: [Cluster(name: "a")], clock: ManualClock(start: start),
        cancellation: Cancellation())
    #expect(!result.passed)
    #expect(result.measurements.map(\.outcome) == [.error])
    #expect(result.measurements.map(\.detail) == ["connection refused"])
    #expect(result.summary == "no good answer within 0s (1 probes); last: connection refused")
  }

  @Test func theURLIsTemplatedPerCluster() throws {
    let server = try LoopbackServer { _ in .ok() }
    defer { server.stop() }
    let spec = HTTPProbeSpec(url: server.baseURL + "/{{ .labels.region }}/{{ .name }}")
    let clusters = [
      Cluster(name: "a", labels: ["region": "eu"]), Cluster(name: "b", labels: ["region": "us"]),
    ]
    let result = HealthGates.make(spec: .http(spec), transport: transport)
      .verifyBlocking(
        clusters: clusters, clock: ManualClock(start: start), cancellation: Cancellation())
    #expect(result.passed)
    #expect(result.summary == "passed for all 2 clusters")
    #expect(server.requests.map(\.uri) == ["/eu/a", "/us/b"])
  }

  @Test func aMissingLabelFailsWithTheTemplateError() throws {
    let spec = HTTPProbeSpec(url: "http://127.0.0.1:1/{{ .labels.ingress }}")
    let result = HealthGates.make(spec: .http(spec), transport: transport)
      .verifyBlocking(
        clusters: [Cluster(name: "a")], clock: ManualClock(start: start),
        cancellation: Cancellation())
    #expect(!result.passed)
    #expect(result.summary == "cluster 'a' has no label 'ingress'")
  }

  @Test func cancellationEndsTheWait() throws {
    let server = try scriptedServer([.respond(status: 503)])
    defer { server.stop() }
    let spec = HTTPProbeSpec(url: server.baseURL + "/", interval: .seconds(5))
    let clock = ManualClock(start: start)
    let cancellation = Cancellation()
    let gate = HealthGates.make(spec: .http(spec), transport: transport)
    let result = inBackground {
      gate.verifyBlocking(clusters: [Cluster(name: "a")], clock: clock, cancellation: cancellation)
    }
    #expect(eventually(timeout: 30) { clock.nextDeadline != nil })
    cancellation.cancel()
    let outcome = result()
    #expect(!outcome.passed)
    #expect(outcome.summary == "cancelled")
    #expect(outcome.measurements.count == 1)
  }
}
