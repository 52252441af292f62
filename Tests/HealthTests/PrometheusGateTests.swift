// The prometheus gate's judgement (Argo Rollouts' semantics) against answers in the
// Prometheus HTTP API's format, served by a loopback server, on a ManualClock.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Health
import Testing

/// An `/api/v1/query` answer holding an instant vector.
func vector(_ series: [(labels: [String: String], value: String)]) -> Reply {
  let items = series.map { item in
    let labels = item.labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
    return
      #"{"metric":{\#(labels.joined(separator: ","))},"value":[1800000000.0,"\#(item.value)"]}"#
  }
  let body =
    #"{"status":"success","data":{"resultType":"vector","result":["#
    + items.joined(separator: ",") + "]}}"
  return .respond(status: 200, body: body, headers: [("Content-Type", "application/json")])
}

func value(_ text: String) -> Reply { vector([(labels: [:], value: text)]) }

let badQuery = Reply.respond(
  status: 400,
  body:
    #"{"status":"error","errorType":"bad_data","#
    + #""error":"1:5: parse error: unexpected end of input"}"#
)

@Suite struct PrometheusGateTests {
  func run(
    _ spec: PrometheusAnalysisSpec, replies: [Reply], clusters: [Cluster] = [Cluster(name: "a")]
  ) throws -> (GateResult, [RecordedRequest]) {
    let server = try scriptedServer(replies)
    defer { server.stop() }
    var spec = spec
    spec.url = server.baseURL
    let gate = HealthGates.make(spec: .prometheus(spec), transport: transport)
    let clock = ManualClock(start: start)
    let work = Background {
      gate.verifyBlocking(clusters: clusters, clock: clock, cancellation: Cancellation())
    }
    var waits: [(requests: Int, advance: Duration)] = []
    if spec.initialDelay > .zero { waits.append((0, spec.initialDelay)) }
    for request in 1..<max(1, spec.count) { waits.append((request, spec.interval)) }
    let result = drive(work, server: server, clock: clock, waits: waits)
    return (result, server.requests)
  }

  func spec(
    _ verdict: PrometheusAnalysisSpec.Verdict, count: Int = 5, failureLimit: Int = 1,
    consecutiveErrorLimit: Int = 4, inconclusive: PrometheusAnalysisSpec.Inconclusive = .ignore,
    initialDelay: Duration = .zero, query: String = "sum(rate(errors[1m]))"
  ) -> PrometheusAnalysisSpec {
    PrometheusAnalysisSpec(
      url: "", query: query, verdict: verdict, interval: .seconds(30), count: count,
      failureLimit: failureLimit, consecutiveErrorLimit: consecutiveErrorLimit,
      initialDelay: initialDelay, inconclusive: inconclusive)
  }

  let failIf = PrometheusAnalysisSpec.Verdict.failIf(MetricCondition(.greater, 0.01))

  @Test func failuresUpToTheLimitAreTolerated() throws {
    let (result, requests) = try run(
      spec(failIf),
      replies: [value("0.002"), value("0.05"), value("0.001"), value("0"), value("0.003")])
    #expect(result.passed)
    #expect(
      result.summary
        == "4 of 5 measurements passed, 1 failed (failureLimit 1); last: 0.003 not > 0.01")
    #expect(result.measurements.map(\.outcome) == [.passed, .failed, .passed, .passed, .passed])
    #expect(result.measurements.map(\.value) == [0.002, 0.05, 0.001, 0, 0.003])
    #expect(
      result.measurements.map(\.at) == (0..<5).map { start.addingTimeInterval(Double($0) * 30) })
    #expect(requests.first?.uri == "/api/v1/query?query=sum%28rate%28errors%5B1m%5D%29%29")
  }

  @Test func failsAsSoonAsFailuresExceedTheLimit() throws {
    let (result, requests) = try run(
      spec(failIf), replies: [value("0.05"), value("0.002"), value("0.07"), value("0")])
    #expect(!result.passed)
    #expect(result.summary == "failed (2) > failureLimit (1); last: 0.07 > 0.01")
    #expect(result.measurements.count == 3)
    #expect(requests.count == 3)
  }

  @Test func successIfRequiresEverySeries() throws {
    let successIf = PrometheusAnalysisSpec.Verdict.successIf(MetricCondition(.greaterOrEqual, 0.95))
    let (result, _) = try run(
      spec(successIf, count: 1, failureLimit: 0),
      replies: [
        vector([
          (labels: ["cluster": "a"], value: "0.99"), (labels: ["cluster": "b"], value: "0.93"),
          (labels: ["cluster": "c"], value: "0.97"),
        ])
      ])
    #expect(!result.passed)
    #expect(
      result.summary
        == #"failed (1) > failureLimit (0); last: 1 of 3 series not >= 0.95: {cluster="b"}=0.93"#)
    #expect(result.measurements.first?.value == 0.93)
  }

  @Test func errorsInARowBeyondTheLimitFail() throws {
    let (result, _) = try run(
      spec(failIf, count: 6, consecutiveErrorLimit: 2),
      replies: [badQuery, value("0"), badQuery, badQuery, badQuery, value("0")])
    #expect(!result.passed)
    #expect(
      result.summary
        == "consecutive errors (3) > consecutiveErrorLimit (2); last: query failed: bad_data: "
        + "1:5: parse error: unexpected end of input")
    #expect(result.measurements.map(\.outcome) == [.error, .passed, .error, .error, .error])
  }

  @Test func noDataIsInconclusiveAndCountsAsThePolicySays() throws {
    let empty = vector([])
    let (ignored, _) = try run(spec(failIf, count: 3), replies: [empty, value("0.001"), empty])
    #expect(ignored.passed)
    #expect(ignored.measurements.map(\.outcome) == [.inconclusive, .passed, .inconclusive])
    #expect(ignored.measurements.map(\.detail) == ["no data", "0.001 not > 0.01", "no data"])

    let (failed, _) = try run(
      spec(failIf, count: 3, failureLimit: 0, inconclusive: .fail), replies: [empty])
    #expect(!failed.passed)
    #expect(failed.summary == "failed (1) > failureLimit (0); last: no data; counted as failed")

    let (passed, _) = try run(spec(failIf, count: 2, inconclusive: .pass), replies: [value("NaN")])
    #expect(passed.passed)
    #expect(
      passed.measurements.map(\.detail) == [
        "only NaN values; counted as passed", "only NaN values; counted as passed",
      ])
  }

  @Test func allInconclusiveIsNotAPass() throws {
    let (result, _) = try run(spec(failIf, count: 2), replies: [vector([])])
    #expect(!result.passed)
    #expect(result.summary == "no conclusive measurement in 2; last: no data")
  }

  @Test func initialDelayComesBeforeTheFirstMeasurement() throws {
    let (result, _) = try run(
      spec(failIf, count: 2, initialDelay: .seconds(90)), replies: [value("0")])
    #expect(result.passed)
    #expect(
      result.measurements.map(\.at) == [
        start.addingTimeInterval(90), start.addingTimeInterval(120),
      ])
  }

  @Test func aWaveGateQueriesOnceWithTheClustersAlternation() throws {
    let clusters = [Cluster(name: "a"), Cluster(name: "prod.eu-1")]
    let (result, requests) = try run(
      spec(failIf, count: 1, query: #"errors{cluster=~"{{ .clusters }}"}"#), replies: [value("0")],
      clusters: clusters)
    #expect(result.passed)
    #expect(requests.count == 1)
    let query = requests.first.flatMap { URLComponents(string: $0.uri)?.queryItems?.first?.value }
    #expect(query == #"errors{cluster=~"a|prod\\.eu-1"}"#)
    // The reading keeps the query exactly as sent, and the limit it was judged against.
    #expect(result.measurements.map(\.query) == [#"errors{cluster=~"a|prod\\.eu-1"}"#])
    #expect(result.measurements.map(\.limit) == [0.01])
  }

  @Test func aPerClusterQueryRunsForEachCluster() throws {
    let clusters = [Cluster(name: "a"), Cluster(name: "b")]
    let server = try scriptedServer([value("0")])
    defer { server.stop() }
    let analysis = PrometheusAnalysisSpec(
      url: server.baseURL, query: #"errors{cluster="{{ .name }}"}"#, verdict: failIf)
    let result = HealthGates.make(spec: .prometheus(analysis), transport: transport)
      .verifyBlocking(
        clusters: clusters, clock: ManualClock(start: start), cancellation: Cancellation())
    #expect(result.passed)
    let queries = server.requests.compactMap {
      URLComponents(string: $0.uri)?.queryItems?.first?.value
    }
    #expect(queries == [#"errors{cluster="a"}"#, #"errors{cluster="b"}"#])
  }

  @Test func clustersAlternationEscapesForPromQLStrings() {
    #expect(ClusterTemplate.clustersAlternation(["a", "b-2"]) == "a|b-2")
    #expect(ClusterTemplate.clustersAlternation(["prod.eu"]) == #"prod\\.eu"#)
  }
}
