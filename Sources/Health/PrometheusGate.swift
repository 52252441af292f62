// The `prometheus` gate: a PromQL query measured `count` times, judged as Argo Rollouts does.
import FleetCore
import Foundation
import HTTP

/// Argo Rollouts' analysis semantics: the gate fails as soon as failed measurements EXCEED
/// `failureLimit`, or query errors in a row EXCEED `consecutiveErrorLimit`; otherwise it passes
/// after `count` measurements if at least one was conclusive. A query that returns no data (or
/// only NaN) is inconclusive and counts as `inconclusive` says.
public struct PrometheusGate: HealthGate {
  public let spec: PrometheusAnalysisSpec
  let transport: HTTPTransport
  let variables: [String: String]

  public init(
    spec: PrometheusAnalysisSpec, transport: HTTPTransport, variables: [String: String] = [:]
  ) {
    self.spec = spec
    self.transport = transport
    self.variables = variables
  }

  public var name: String { HealthCheckSpec.prometheus(spec).name }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    await verifyEach(
      gate: name, templates: [spec.url, spec.query], clusters: clusters, variables: variables,
      cancellation: cancellation
    ) { scope in await analyse(scope, clock: clock, cancellation: cancellation) }
  }

  private func analyse(_ scope: GateScope, clock: any RolloutClock, cancellation: Cancellation)
    async -> GateResult
  {
    let endpoint: String
    let query: String
    do {
      endpoint = try scope.render(spec.url, sink: .url)
      query = try scope.render(spec.query, sink: .promql)
    } catch {
      return GateResult(gate: name, passed: false, summary: error.message)
    }
    var measurements: [Measurement] = []
    func finish(_ passed: Bool, _ summary: String) -> GateResult {
      GateResult(gate: name, passed: passed, measurements: measurements, summary: summary)
    }
    if spec.initialDelay > .zero,
      !(await clock.sleep(for: spec.initialDelay, cancellation: cancellation))
    {
      return finish(false, "cancelled")
    }
    let count = max(1, spec.count)
    var failed = 0
    var succeeded = 0
    var consecutiveErrors = 0
    for index in 0..<count {
      if index > 0, !(await clock.sleep(for: spec.interval, cancellation: cancellation)) {
        return finish(false, "cancelled")
      }
      var measurement = await measure(
        query, endpoint: endpoint, at: clock.now(), cancellation: cancellation)
      // Journaled with the reading, so a report shows what was asked of this cluster.
      measurement.query = query
      switch spec.verdict {
      case .failIf(let condition), .successIf(let condition):
        measurement.limit = condition.threshold
      }
      if cancellation.isCancelled { return finish(false, "cancelled") }
      if measurement.outcome == .inconclusive {
        switch spec.inconclusive {
        case .pass:
          succeeded += 1
          measurement.detail += "; counted as passed"
        case .fail:
          failed += 1
          measurement.detail += "; counted as failed"
        case .ignore: break
        }
      }
      measurements.append(measurement)
      switch measurement.outcome {
      case .passed: succeeded += 1
      case .failed: failed += 1
      case .inconclusive, .error: break
      }
      consecutiveErrors = measurement.outcome == .error ? consecutiveErrors + 1 : 0
      if failed > spec.failureLimit {
        return finish(
          false,
          "failed (\(failed)) > failureLimit (\(spec.failureLimit)); last: \(measurement.detail)")
      }
      if consecutiveErrors > spec.consecutiveErrorLimit {
        return finish(
          false,
          "consecutive errors (\(consecutiveErrors)) > consecutiveErrorLimit "
            + "(\(spec.consecutiveErrorLimit)); last: \(measurement.detail)")
      }
    }
    let last = measurements.last?.detail ?? ""
    guard succeeded > 0 else {
      // Passing on no evidence would let a misspelt metric wave every release through.
      return finish(false, "no conclusive measurement in \(count); last: \(last)")
    }
    return finish(
      true,
      "\(succeeded) of \(count) measurements passed, \(failed) failed "
        + "(failureLimit \(spec.failureLimit)); last: \(last)")
  }

  private func measure(_ query: String, endpoint: String, at: Date, cancellation: Cancellation)
    async -> Measurement
  {
    let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
    let url = base + "/api/v1/query?query=" + Self.formEncode(query)
    let response: HTTPResponse
    do {
      // Errors are counted against consecutiveErrorLimit, as Argo does, not retried here.
      response = try await transport.send(
        HTTPRequest(.get, url, retry: .none), cancellation: cancellation)
    } catch {
      return Measurement(gate: name, at: at, outcome: .error, detail: error.description)
    }
    switch PrometheusResult.parse(response) {
    case .failure(let problem):
      return Measurement(
        gate: name, at: at, outcome: .error, detail: "query failed: \(problem.text)")
    case .success(let series):
      return judge(series, at: at)
    }
  }

  /// Every series must pass: with `failIf`, any series meeting it fails the measurement; with
  /// `successIf`, any series missing it does. The value recorded is the worst series'.
  func judge(_ all: [PrometheusResult.Series], at: Date) -> Measurement {
    let series = all.filter { !$0.value.isNaN }
    guard !series.isEmpty else {
      let why = all.isEmpty ? "no data" : "only NaN values"
      return Measurement(gate: name, at: at, outcome: .inconclusive, detail: why)
    }
    let (condition, failIf): (MetricCondition, Bool) = {
      switch spec.verdict {
      case .failIf(let condition): return (condition, true)
      case .successIf(let condition): return (condition, false)
      }
    }()
    let bad = series.filter { condition.holds(for: $0.value) == failIf }
    let phrase = failIf ? "\(condition)" : "not \(condition)"
    if !bad.isEmpty {
      let shown = bad.prefix(3).map { $0.text }.joined(separator: ", ")
      let more = bad.count > 3 ? ", ..." : ""
      let detail =
        series.count == 1
        ? "\(shown) \(phrase)" : "\(bad.count) of \(series.count) series \(phrase): \(shown)\(more)"
      return Measurement(gate: name, at: at, value: bad[0].value, outcome: .failed, detail: detail)
    }
    let worst = series.max { a, b in
      Self.closeness(a.value, condition) < Self.closeness(b.value, condition)
    }
    let value = worst?.value ?? series[0].value
    let passPhrase = failIf ? "not \(condition)" : "\(condition)"
    let detail =
      series.count == 1
      ? "\(series[0].text) \(passPhrase)" : "all \(series.count) series \(passPhrase)"
    return Measurement(gate: name, at: at, value: value, outcome: .passed, detail: detail)
  }

  /// Larger when a value is nearer the condition's threshold from the passing side.
  private static func closeness(_ value: Double, _ condition: MetricCondition) -> Double {
    -abs(value - condition.threshold)
  }

  /// Percent-encodes everything but RFC 3986's unreserved characters.
  static func formEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      let c = Character(Unicode.Scalar(byte))
      if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
        out.append(c)
      } else {
        out += String(format: "%%%02X", byte)
      }
    }
    return out
  }
}

/// The parts of Prometheus' `/api/v1/query` answer a gate judges.
public enum PrometheusResult {
  public struct Series: Sendable, Equatable {
    public var labels: [(String, String)]
    public var value: Double

    public static func == (a: Series, b: Series) -> Bool {
      a.value.bitPattern == b.value.bitPattern && a.labels.elementsEqual(b.labels) { $0 == $1 }
    }

    /// `{cluster="a"}=0.034`, or the bare value for a scalar.
    var text: String {
      let shown = labels.filter { $0.0 != "__name__" }
      // Rounded as every output rounds: `0.279`, not `0.27900000000000003`.
      let value = GateReading.number(self.value)
      guard !shown.isEmpty else { return value }
      return "{" + shown.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}=\(value)"
    }
  }

  public struct Problem: Error, Sendable, Equatable {
    public var text: String
  }

  /// The series of a vector or scalar result; matrix and string results are problems.
  public static func parse(_ response: HTTPResponse) -> Result<[Series], Problem> {
    let document: Value
    do {
      document = try JSONReader.parse(response.body, path: "prometheus")
    } catch {
      return .failure(Problem(text: "HTTP \(response.status), not a Prometheus API answer"))
    }
    guard document["status"]?.string == "success" else {
      let type = document["errorType"]?.string ?? "HTTP \(response.status)"
      let message = document["error"]?.string ?? "no error message"
      return .failure(Problem(text: "\(type): \(message)"))
    }
    guard let data = document["data"], let type = data["resultType"]?.string,
      let result = data["result"]
    else { return .failure(Problem(text: "answer without data.result")) }
    switch type {
    case "scalar":
      guard let value = sample(result) else { return .failure(Problem(text: "malformed scalar")) }
      return .success([Series(labels: [], value: value)])
    case "vector":
      var series: [Series] = []
      for item in result.sequence ?? [] {
        guard let value = item["value"].flatMap(sample) else {
          return .failure(Problem(text: "malformed vector sample"))
        }
        let labels = (item["metric"]?.mapping ?? Mapping()).map { ($0.key, $0.value.string ?? "") }
        series.append(Series(labels: labels.sorted { $0.0 < $1.0 }, value: value))
      }
      return .success(series)
    default:
      return .failure(
        Problem(text: "result type '\(type)' is not a number; use an instant vector or scalar"))
    }
  }

  /// `[timestamp, "value"]`; Prometheus sends values as strings ("NaN", "+Inf" included).
  private static func sample(_ pair: Value) -> Double? {
    guard let items = pair.sequence, items.count == 2, let text = items[1].string else {
      return nil
    }
    switch text {
    case "NaN": return .nan
    case "+Inf": return .infinity
    case "-Inf": return -.infinity
    default: return Double(text)
    }
  }
}
