// Every hostile value through the three gate sinks, each gate real: a command gate running
// /bin/sh, an HTTP gate and a Prometheus gate against a loopback server that records what
// arrives. Labels that fail Kubernetes' syntax never get this far from a fleet file; these tests
// hold the escaping itself to account, for values (contexts, servers) that syntax does not cover.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Health
import Testing

@Suite struct HostileInputTests {
  static let failIf = PrometheusAnalysisSpec.Verdict.failIf(MetricCondition(.greater, 1))

  private func verify(_ spec: HealthCheckSpec, _ value: String) -> GateResult {
    HealthGates.make(spec: spec, transport: transport).verifyBlocking(
      clusters: [Cluster(name: "c", labels: ["v": value])], clock: ManualClock(start: start),
      cancellation: Cancellation())
  }

  /// A marked value reaches the command as one word, byte for byte; NUL, which no shell word
  /// can hold, fails the gate with the reason.
  @Test(arguments: HostileValue.all)
  func aCommandGateGetsAMarkedValueAsOneWord(_ hostile: HostileValue) throws {
    let dir = try TemporaryDirectory("hostile-command")
    defer { dir.remove() }
    let result = verify(
      .command(
        CommandCheckSpec(command: "printf '%s' {{ .labels.v | shellquote }} > \(dir.file("word"))")
      ), hostile.value)
    if hostile.attack == "nul" {
      #expect(!result.passed)
      #expect(
        result.summary == #"'{{ .labels.v }}' value 'a\0b' holds NUL, which no shell word can"#)
    } else {
      #expect(result.passed)
      #expect(try String(contentsOfFile: dir.file("word"), encoding: .utf8) == hostile.value)
    }
    #expect(!FileManager.default.fileExists(atPath: "/tmp/PWNED"))
  }

  @Test func aCommandGateRefusesAnUnmarkedPlaceholder() {
    let result = verify(.command(CommandCheckSpec(command: "echo {{ .labels.v }}")), "$(id)")
    #expect(!result.passed)
    #expect(
      result.summary
        == #"'{{ .labels.v }}' in a shell command: commands receive values as environment variables ("$FLEETWAVE_LABEL_V"); to paste the value as one quoted word write '{{ .labels.v | shellquote }}'"#
    )
  }

  /// What the HTTP gate requests, per attack: the value percent-encoded as one path segment
  /// and as one query value.
  static let encoded = [
    "semicolon": "x%3B%20touch%20%2Ftmp%2FPWNED%3B%20echo", "subst": "%24%28id%29",
    "backquote": "%60id%60", "quotes": "it%27s%20%22q%22", "brace": "a%22%7D",
    "dots": "..%2F..%2Foutside", "newline": "line%0Abreak", "nul": "a%00b",
  ]

  @Test(arguments: HostileValue.all)
  func anHTTPGateSendsTheValueAsOneComponent(_ hostile: HostileValue) throws {
    let server = try LoopbackServer { _ in .ok() }
    defer { server.stop() }
    let result = verify(
      .http(HTTPProbeSpec(url: server.baseURL + "/probe/{{ .labels.v }}?team={{ .labels.v }}")),
      hostile.value)
    let expected = try #require(Self.encoded[hostile.attack])
    #expect(result.passed)
    #expect(server.requests.map(\.uri) == ["/probe/\(expected)?team=\(expected)"])
  }

  /// The query the Prometheus gate sends, decoded as Prometheus decodes it: the value escaped
  /// as a PromQL string inside its matcher.
  static let matchers = [
    "semicolon": "x; touch /tmp/PWNED; echo", "subst": "$(id)", "backquote": "`id`",
    "quotes": #"it's \"q\""#, "brace": #"a\"}"#, "dots": "../../outside",
    "newline": #"line\nbreak"#, "nul": #"a\x00b"#,
  ]

  @Test(arguments: HostileValue.all)
  func aPrometheusGateQueriesTheValueAsAPromQLString(_ hostile: HostileValue) throws {
    let server = try scriptedServer([value("0")])
    defer { server.stop() }
    let result = verify(
      .prometheus(
        PrometheusAnalysisSpec(
          url: server.baseURL, query: #"sum(errors{team="{{ .labels.v }}"})"#, verdict: Self.failIf)
      ),
      hostile.value)
    let expected = try #require(Self.matchers[hostile.attack])
    #expect(result.passed)
    let queries = server.requests.map {
      $0.uri.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? $0.uri
    }
    #expect(queries == [#"/api/v1/query?query=sum(errors{team="\#(expected)"})"#])
  }

  @Test func aPrometheusGateRefusesAValueOutsideAQuotedMatcher() {
    let result = verify(
      .prometheus(
        PrometheusAnalysisSpec(
          url: "http://127.0.0.1:1", query: "errors > {{ .labels.v }}", verdict: Self.failIf)),
      "1 or vector(0)")
    #expect(!result.passed)
    #expect(
      result.summary
        == #"'{{ .labels.v }}' in a PromQL query must sit inside a quoted label matcher value, as in {cluster="{{ .labels.v }}"}"#
    )
  }
}
