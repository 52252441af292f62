// The one rounding and wording of a gate's value and limit, and the default gate names.
import FleetCore
import Testing

@Suite struct GateReadingTests {
  @Test(arguments: [
    (0.27900000000000003, "0.279"),
    (0.1 + 0.2, "0.3"),
    (0.0034567, "0.00346"),
    (0.000012345, "0.0000123"),
    (1.23456, "1.23"),
    (12.3456, "12.3"),
    (99.95, "100"),
    (123.456, "123"),
    (12345.6, "12346"),
    (42.0, "42"),
    (0.0, "0"),
    (-0.0004, "-0.0004"),
    (-1.2345, "-1.23"),
    (-0.00000001, "-0.00000001"),
  ])
  func numbersRoundToThreeSignificantDigits(value: Double, text: String) {
    #expect(GateReading.number(value) == text)
  }

  @Test func infinitiesAndNaNKeepTheirYAMLSpelling() {
    #expect(GateReading.number(.infinity) == ".inf")
    #expect(GateReading.number(.nan) == ".nan")
  }

  @Test func theSignStatesTheObservation() {
    #expect(
      GateReading.text(gate: "error-rate", value: 0.27900000000000003, limit: 0.05)
        == "error-rate 0.279 > 0.05")
    #expect(
      GateReading.text(gate: "error-rate", value: 0.003, limit: 0.05) == "error-rate 0.003 < 0.05")
    #expect(GateReading.text(gate: "pods", value: 3, limit: 3) == "pods 3 = 3")
    #expect(
      GateReading.text(gate: "healthz", value: 12, limit: 500, unit: "ms")
        == "healthz 12 ms < 500 ms")
    #expect(GateReading.text(gate: "latency", value: 0.123456, limit: nil) == "latency 0.123")
    #expect(GateReading.text(gate: "smoke", value: nil, limit: 1) == "smoke")
  }

  @Test func roundingNeverMakesDifferentNumbersLookEqual() {
    #expect(GateReading.comparison(value: 0.0500001, limit: 0.05) == "0.0500001 > 0.05")
    #expect(GateReading.comparison(value: 1.0001, limit: 1) == "1.0001 > 1")
  }

  @Test(arguments: [
    (
      #"sum(rate(http_errors_total{cluster=~"{{ .clusters }}",code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))"#,
      "http_errors_total"
    ),
    ("job:error_ratio:rate5m", "job:error_ratio:rate5m"),
    ("max by (cluster) (up{job=\"api\"})", "up"),
    ("sum without (pod) (kube_pod_status_ready) < bool 1", "kube_pod_status_ready"),
    ("histogram_quantile(0.99, sum by (le) (rate(latency_bucket[5m])))", "latency_bucket"),
    ("vector(1)", nil),
  ])
  func promQLDefaultsToItsFirstMetric(query: String, name: String?) {
    #expect(GateNaming.metric(query) == name)
  }

  @Test func defaultNamesOfEachKind() {
    let http = HealthCheckSpec.http(
      HTTPProbeSpec(url: "https://{{ .name }}.apps.example.com:8443/api/healthz/?full=1"))
    #expect(http.name == "*.apps.example.com/api/healthz")
    let query = HealthCheckSpec.prometheus(
      PrometheusAnalysisSpec(
        url: "http://prom:9090", query: "vector(0)", verdict: .failIf(MetricCondition(.greater, 0))
      ))
    #expect(query.name == "prometheus")
    let command = HealthCheckSpec.command(
      CommandCheckSpec(command: "KUBECONFIG=x /usr/local/bin/kubectl --context {{ .context }} get"))
    #expect(command.name == "kubectl")
    #expect(
      HealthCheckSpec.command(CommandCheckSpec(command: "{{ .name | shellquote }} x")).name == "*")
    var named = command
    named.rename("pods-ready")
    #expect(named.name == "pods-ready")
    #expect(named.defaultName == "kubectl")
  }
}
