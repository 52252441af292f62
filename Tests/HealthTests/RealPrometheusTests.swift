// The prometheus gate against a real Prometheus (Debian's /usr/bin/prometheus) scraping a
// loopback metrics endpoint whose counters the test sets.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Health
import Testing

/// A Prometheus on a free 127.0.0.1 port, scraping `target` every second, with its storage in a
/// temporary directory.
final class PrometheusProcess {
  static let binary = "/usr/bin/prometheus"
  let port: Int
  private let process: TetheredProcess
  private let directory: TemporaryDirectory

  init(scraping target: String) throws {
    directory = try TemporaryDirectory("fleetwave-prometheus")
    port = try freeLoopbackPort()
    let config = try directory.write(
      "prometheus.yml",
      """
      global: {scrape_interval: 1s, evaluation_interval: 1s}
      scrape_configs:
        - job_name: app
          static_configs: [{targets: ["\(target)"]}]
      """)
    process = try TetheredProcess(
      Self.binary,
      [
        "--config.file=\(config)", "--storage.tsdb.path=\(directory.file("data"))",
        "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
      ], log: directory.file("prometheus.log"))
    let ready = eventually(timeout: 60) {
      (try? transport.send(HTTPRequest(.get, self.url + "/-/ready", retry: .none)))?.status == 200
    }
    guard ready else {
      stop()
      throw TLSLikeError("prometheus did not become ready: \(directory.file("prometheus.log"))")
    }
  }

  var url: String { "http://127.0.0.1:\(port)" }

  /// The values of an instant query, for waiting until a scrape has landed.
  func values(_ query: String) -> [Double] {
    let url =
      self.url + "/api/v1/query?query="
      + (query.addingPercentEncoding(
        withAllowedCharacters: .alphanumerics) ?? "")
    guard let response = try? transport.send(HTTPRequest(.get, url, retry: .none)),
      case .success(let series) = PrometheusResult.parse(response)
    else { return [] }
    return series.map(\.value)
  }

  func stop() {
    process.stop()
    directory.remove()
  }
}

struct TLSLikeError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Counters per cluster, served in Prometheus' text format at /metrics.
final class AppMetrics: Sendable {
  private let counters = Locked<[String: (errors: Int, requests: Int)]>([:])

  func set(_ cluster: String, errors: Int, requests: Int) {
    counters.update { $0[cluster] = (errors, requests) }
  }

  var exposition: String {
    let snapshot = counters.value.sorted { $0.key < $1.key }
    var lines = ["# TYPE app_errors_total counter"]
    lines += snapshot.map { "app_errors_total{cluster=\"\($0.key)\"} \($0.value.errors)" }
    lines.append("# TYPE app_requests_total counter")
    lines += snapshot.map { "app_requests_total{cluster=\"\($0.key)\"} \($0.value.requests)" }
    return lines.joined(separator: "\n") + "\n"
  }
}

@Suite(
  .enabled(
    if: FileManager.default.isExecutableFile(atPath: PrometheusProcess.binary),
    """
    needs \(PrometheusProcess.binary) (Debian package prometheus; Scripts/bootstrap.sh \
    installs it)
    """
  ))
struct RealPrometheusTests {
  let errorRatio =
    #"sum(app_errors_total{cluster="{{ .name }}"})"#
    + #" / sum(app_requests_total{cluster="{{ .name }}"})"#
  let waveRatio =
    #"sum by (cluster) (app_errors_total{cluster=~"{{ .clusters }}"})"#
    + #" / sum by (cluster) (app_requests_total{cluster=~"{{ .clusters }}"})"#

  func gate(_ query: String, prometheus: PrometheusProcess, count: Int = 2) -> any HealthGate {
    HealthGates.make(
      spec: .prometheus(
        PrometheusAnalysisSpec(
          url: prometheus.url, query: query, verdict: .failIf(MetricCondition(.greater, 0.01)),
          interval: .milliseconds(200), count: count, failureLimit: 0, consecutiveErrorLimit: 0)),
      transport: transport)
  }

  func verify(_ gate: any HealthGate, _ names: [String]) -> GateResult {
    gate.verifyBlocking(
      clusters: names.map { Cluster(name: $0) }, clock: SystemClock(), cancellation: Cancellation())
  }

  @Test func passesThenFailsWhenErrorsRise() throws {
    let metrics = AppMetrics()
    metrics.set("a", errors: 0, requests: 1000)
    metrics.set("b", errors: 1, requests: 1000)
    // `c.x` is a real name with a dot; `cAx` would match if the dot were not escaped.
    metrics.set("c.x", errors: 0, requests: 1000)
    metrics.set("cAx", errors: 500, requests: 1000)
    let app = try LoopbackServer { _ in .ok(metrics.exposition) }
    defer { app.stop() }
    let prometheus = try PrometheusProcess(scraping: "127.0.0.1:\(app.port)")
    defer { prometheus.stop() }
    #expect(eventually(timeout: 60) { prometheus.values("count(app_requests_total)") == [4] })

    let perCluster = gate(errorRatio, prometheus: prometheus)
    let healthy = verify(perCluster, ["a", "b"])
    #expect(healthy.passed)
    #expect(healthy.summary == "passed for all 2 clusters")
    #expect(
      healthy.measurements.map(\.detail) == [
        "0 not > 0.01", "0 not > 0.01", "0.001 not > 0.01", "0.001 not > 0.01",
      ])

    metrics.set("b", errors: 50, requests: 1000)
    #expect(
      eventually(timeout: 60) {
        prometheus.values(#"app_errors_total{cluster="b"}"#) == [50]
      })
    let unhealthy = verify(perCluster, ["a", "b"])
    #expect(!unhealthy.passed)
    #expect(unhealthy.summary == "b: failed (1) > failureLimit (0); last: 0.05 > 0.01")
    #expect(unhealthy.measurements.last?.value == 0.05)

    // The wave gate halts on b even though it looks at the wave as a whole.
    let wave = gate(waveRatio, prometheus: prometheus, count: 1)
    let waveResult = verify(wave, ["a", "b"])
    #expect(!waveResult.passed)
    #expect(
      waveResult.summary
        == #"failed (1) > failureLimit (0); last: 1 of 2 series > 0.01: {cluster="b"}=0.05"#)
    let otherWave = verify(wave, ["a", "c.x"])
    #expect(otherWave.passed)
    #expect(otherWave.measurements.map(\.detail) == ["all 2 series not > 0.01"])
  }

  @Test func aBrokenQueryIsAnErrorWithPrometheusWords() throws {
    let app = try LoopbackServer { _ in .ok("") }
    defer { app.stop() }
    let prometheus = try PrometheusProcess(scraping: "127.0.0.1:\(app.port)")
    defer { prometheus.stop() }
    let result = verify(gate("sum(app_errors_total", prometheus: prometheus), ["a"])
    #expect(!result.passed)
    #expect(result.measurements.map(\.outcome) == [.error])
    #expect(
      result.summary
        == "consecutive errors (1) > consecutiveErrorLimit (0); last: query failed: bad_data: "
        + "invalid parameter \"query\": 1:21: parse error: unclosed left parenthesis")
  }
}
