// Builds gates from the fleet's specs, and decides which clusters each run of a gate covers.
import FleetCore
import Foundation
import HTTP

public enum HealthGates {
  /// The gate for one `rollout.health` or `rollout.waveHealth` entry. Probes and queries go
  /// through `transport`; a spec's own TLS settings (`caFile`, `insecureSkipTLSVerify`) derive
  /// a transport with those added. `variables` fills the fleet-wide placeholders
  /// (`{{ .release }}`, `{{ .namespace }}`, `{{ .version }}`, `{{ .run }}`); `{{ .clusters }}`
  /// is the gate's. `environment` is added to a command gate's (the run's `KUBECONFIG`).
  /// `tester` runs a `helmTest` gate's tests: the run's driver when it can.
  public static func make(
    spec: HealthCheckSpec, transport: HTTPTransport, variables: [String: String] = [:],
    environment: [String: String] = [:], tester: (any ReleaseTesting)? = nil
  ) -> any HealthGate {
    switch spec {
    case .http(let probe):
      var tls = transport.configuration.tls
      if let caFile = probe.caFile { tls.ca = .file(caFile) }
      if probe.insecureSkipTLSVerify { tls.insecureSkipVerify = true }
      let probeTransport = tls == transport.configuration.tls ? transport : transport.with(tls: tls)
      return HTTPProbeGate(spec: probe, transport: probeTransport, variables: variables)
    case .prometheus(let analysis):
      return PrometheusGate(spec: analysis, transport: transport, variables: variables)
    case .command(let check):
      return CommandGate(spec: check, variables: variables, environment: environment)
    case .helmTest(let test):
      return HelmTestGate(spec: test, tester: tester, run: variables["run"] ?? "")
    }
  }
}

/// Which clusters one run of a gate covers. A gate whose templates name a single cluster's
/// fields (`.name`, `.labels.KEY`, `.context`, `.server`) runs once per cluster; one whose
/// templates use only `{{ .clusters }}` and fleet-wide variables (or nothing) runs once for all
/// of them, which is what a wave gate over a fleet-wide metric wants.
struct GateScope {
  /// The clusters of this run; the first one fills the per-cluster fields.
  var clusters: [Cluster]
  var variables: [String: String]

  var label: String { clusters.count == 1 ? clusters[0].name : "\(clusters.count) clusters" }

  static func runs(templates: [String], clusters: [Cluster], variables: [String: String])
    -> [GateScope]
  {
    guard !clusters.isEmpty else { return [] }
    let clusterFields = [".name", ".context", ".server"]
    let perCluster = templates.contains { template in
      placeholders(in: template).contains { clusterFields.contains($0) || $0.hasPrefix(".labels.") }
    }
    if perCluster {
      return clusters.map { GateScope(clusters: [$0], variables: variables) }
    }
    return [GateScope(clusters: clusters, variables: variables)]
  }

  func render(_ template: String, sink: TemplateSink) throws(Diagnostic) -> String {
    var all = variables
    all[ClusterTemplate.clustersVariable] = ClusterTemplate.clustersAlternation(
      clusters.map(\.name))
    return try ClusterTemplate.render(
      template, cluster: clusters[0], variables: all, sink: sink)
  }

  private static func placeholders(in text: String) -> [String] {
    var found: [String] = []
    var rest = Substring(text)
    while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
      found.append(
        ClusterTemplate.fieldPart(
          rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)))
      rest = rest[close.upperBound...]
    }
    return found
  }
}

/// Runs `check` for each scope in turn and combines the results: the gate passes when every
/// run passes; it stops at the first failing run, since the verdict cannot change after it.
func verifyEach(
  gate: String, templates: [String], clusters: [Cluster], variables: [String: String],
  cancellation: Cancellation, _ check: (GateScope) async -> GateResult
) async -> GateResult {
  let runs = GateScope.runs(templates: templates, clusters: clusters, variables: variables)
  guard !runs.isEmpty else {
    return GateResult(gate: gate, passed: true, summary: "no clusters to check")
  }
  var measurements: [Measurement] = []
  for run in runs {
    let result = await check(run)
    measurements += result.measurements
    if !result.passed {
      let summary = runs.count == 1 ? result.summary : "\(run.label): \(result.summary)"
      return GateResult(gate: gate, passed: false, measurements: measurements, summary: summary)
    }
    if runs.count == 1 {
      return GateResult(
        gate: gate, passed: true, measurements: measurements, summary: result.summary)
    }
    if cancellation.isCancelled { break }
  }
  if cancellation.isCancelled {
    return GateResult(gate: gate, passed: false, measurements: measurements, summary: "cancelled")
  }
  return GateResult(
    gate: gate, passed: true, measurements: measurements,
    summary: "passed for all \(runs.count) clusters")
}

/// How many runs one `verify` over `clusters` makes, for a gate's time limit.
func runCount(templates: [String], clusters: [Cluster]) -> Int {
  max(1, GateScope.runs(templates: templates, clusters: clusters, variables: [:]).count)
}

/// Foundation has a `Measurement` too; in this module the word means a gate's observation.
typealias Measurement = FleetCore.Measurement
