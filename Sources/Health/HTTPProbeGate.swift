// The `http` gate: probe a URL until enough good answers in a row, or give up at the timeout.
import FleetCore
import Foundation
import HTTP

public struct HTTPProbeGate: HealthGate {
  public let spec: HTTPProbeSpec
  let transport: HTTPTransport
  let variables: [String: String]

  public init(spec: HTTPProbeSpec, transport: HTTPTransport, variables: [String: String] = [:]) {
    self.spec = spec
    self.transport = transport
    self.variables = variables
  }

  public var name: String { HealthCheckSpec.http(spec).name }

  /// Each run ends by itself at `timeout` plus the one probe that may be in flight then.
  public func timeLimit(for clusters: [Cluster]) -> Duration? {
    (spec.timeout + probeTimeout) * runCount(templates: [spec.url], clusters: clusters)
  }

  /// A probe may take up to one interval (at least 1 s), never past the gate's timeout.
  var probeTimeout: Duration { min(max(spec.interval, .seconds(1)), spec.timeout) }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    await verifyEach(
      gate: name, templates: [spec.url], clusters: clusters, variables: variables,
      cancellation: cancellation
    ) {
      scope in await probe(scope, clock: clock, cancellation: cancellation)
    }
  }

  private func probe(_ scope: GateScope, clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    let url: String
    do {
      url = try scope.render(spec.url, sink: .url)
    } catch {
      return GateResult(gate: name, passed: false, summary: error.message)
    }
    let required = max(1, spec.successes)
    let deadline = clock.now().addingTimeInterval(DurationText.seconds(spec.timeout))
    var measurements: [Measurement] = []
    var streak = 0
    while true {
      let measurement = await measure(
        url, timeout: probeTimeout, clock: clock, cancellation: cancellation)
      if cancellation.isCancelled {
        return GateResult(
          gate: name, passed: false, measurements: measurements, summary: "cancelled")
      }
      measurements.append(measurement)
      streak = measurement.outcome == .passed ? streak + 1 : 0
      if streak >= required {
        return GateResult(
          gate: name, passed: true, measurements: measurements,
          summary: "\(required) good \(required == 1 ? "answer" : "answers in a row"); "
            + "last: \(measurement.detail)")
      }
      let next = clock.now().addingTimeInterval(DurationText.seconds(spec.interval))
      if next > deadline {
        return GateResult(
          gate: name, passed: false, measurements: measurements,
          summary: (required == 1 ? "no good answer" : "not \(required) good answers in a row")
            + " within \(DurationText.format(spec.timeout)) (\(measurements.count) probes); "
            + "last: \(measurement.detail)")
      }
      guard await clock.sleep(until: next, cancellation: cancellation) else {
        return GateResult(
          gate: name, passed: false, measurements: measurements, summary: "cancelled")
      }
    }
  }

  private func measure(
    _ url: String, timeout: Duration, clock: any RolloutClock, cancellation: Cancellation
  ) async -> Measurement {
    let at = clock.now()
    let response: HTTPResponse
    do {
      // No transport retries: each probe is one measurement, and `successes` decides.
      response = try await transport.send(
        HTTPRequest(.get, url, connectTimeout: timeout, timeout: timeout, retry: .none),
        cancellation: cancellation)
    } catch {
      return Measurement(gate: name, at: at, outcome: .error, detail: error.reason.description)
    }
    let milliseconds = Double(DurationText.milliseconds(response.duration))
    let heading = "HTTP \(response.status) in \(Int(milliseconds)) ms"
    if let problem = problem(with: response, latencyMs: milliseconds) {
      return Measurement(
        gate: name, at: at, value: milliseconds, outcome: .failed, detail: "\(heading): \(problem)")
    }
    return Measurement(gate: name, at: at, value: milliseconds, outcome: .passed, detail: heading)
  }

  /// What is wrong with an answer, or nil when it is good.
  func problem(with response: HTTPResponse, latencyMs: Double) -> String? {
    if !spec.expectStatus.contains(response.status) {
      let expected =
        spec.expectStatus.count == 1
        ? "\(spec.expectStatus.lowerBound)"
        : "\(spec.expectStatus.lowerBound)-\(spec.expectStatus.upperBound)"
      return "expected status \(expected)"
    }
    if let limit = spec.maxLatency, latencyMs > Double(DurationText.milliseconds(limit)) {
      return "slower than \(DurationText.format(limit))"
    }
    if let needle = spec.bodyContains, !response.text.contains(needle) {
      return "body does not contain '\(needle)'"
    }
    if let field = spec.jsonField {
      let document: Value
      do {
        document = try JSONReader.parse(response.body, path: "response")
      } catch {
        return "body is not JSON"
      }
      guard let found = Self.lookup(field, in: document) else { return "\(field) is missing" }
      if let expected = spec.jsonValue {
        let actual = found.scalarText ?? JSONWriter.string(found)
        if actual != expected { return "\(field) is '\(actual)', expected '\(expected)'" }
      }
    }
    return nil
  }

  /// Follows a dotted path through mappings; numeric parts index into lists.
  static func lookup(_ path: String, in document: Value) -> Value? {
    var current = document
    for part in path.split(separator: ".") {
      if let mapping = current.mapping, let next = mapping[String(part)] {
        current = next
      } else if let items = current.sequence, let index = Int(part), items.indices.contains(index) {
        current = items[index]
      } else {
        return nil
      }
    }
    return current
  }
}
