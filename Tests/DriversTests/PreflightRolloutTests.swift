// The preflight a kube-driver rollout runs before each wave: a failing cluster of a later wave
// stops the run before that wave touches anything, the run resumes once it is fixed, and
// `--skip-preflight` is journaled and shown by status.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct PreflightRolloutTests {
  let clusters = [Cluster(name: "pf-a"), Cluster(name: "pf-b")]

  /// The demo chart on two clusters, one wave each: pf-a first, then pf-b.
  func writeFleet(_ sim: KubeSim, tag: String = "1.0.0") throws -> String {
    let fleet = sim.directory.file("fleet")
    try copyDemoChart(into: fleet)
    try sim.directory.write(
      "fleet/values.yaml", "image: {repository: shop/checkout, tag: \"\(tag)\"}\n")
    try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: pf}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 1.0.0}
      values: [values.yaml]
      clusters:
        - {name: pf-a, context: pf-a, labels: {step: one}}
        - {name: pf-b, context: pf-b, labels: {step: two}}
      rollout:
        waves: [{name: first, selector: step=one}, {name: second, selector: step=two}]
        clusterTimeout: 20s
      """)
    return fleet
  }

  func fleetwave(_ sim: KubeSim, _ arguments: [String]) throws -> ProcessResult {
    try FleetwaveTestSupport.fleetwave(
      arguments, environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)],
      timeout: 180)
  }

  /// Another run's Lease on `cluster`: the preflight of its wave names it.
  func holdLease(_ sim: KubeSim, on cluster: String) throws {
    let kubectl = PreflightCommandTests()
    try kubectl.kubectl(sim, cluster, ["create", "namespace", "shop"])
    try kubectl.kubectl(
      sim, cluster, ["apply", "-f", "-"],
      input: """
        apiVersion: coordination.k8s.io/v1
        kind: Lease
        metadata: {name: fleetwave-checkout, namespace: shop}
        spec:
          holderIdentity: other-run/host-9
          acquireTime: "2026-11-28T10:00:00.000000Z"
          renewTime: "2026-11-28T10:00:00.000000Z"
          leaseDurationSeconds: 60
        """)
  }

  @Test func aFailingPreflightStopsTheWaveBeforeItStartsAndTheRunResumesOnceFixed() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    try holdLease(sim, on: "pf-b")

    let stopped = try fleetwave(
      sim, ["rollout", fleet, "--kubeconfig", sim.kubeconfig, "--run", "r1"])
    #expect(stopped.status == 1, "\(stopped.stdout)\(stopped.stderr)")
    let problem =
      "pf-b: release checkout is locked: the Lease shop/fleetwave-checkout is held by "
      + "other-run/host-9 since 2026-11-28T10:00:00.000000Z"
    #expect(stopped.stderr == "preflight: \(problem)\n")
    #expect(
      stopped.stdout.contains(
        " wave 1 second preflight FAILED: failed on 1 of 1 cluster: \(problem)\n"),
      "\(stopped.stdout)")
    #expect(
      stopped.stdout.contains(
        "rollout r1: interrupted (1 succeeded, 1 not-started)\n"
          + "  wave 'second' did not start: preflight failed: failed on 1 of 1 cluster: "
          + "\(problem)\n"), "\(stopped.stdout)")
    // pf-a's wave went; pf-b's was not touched: no Deployment, no revision record.
    #expect(try sim.deployment("pf-a", namespace: "shop", name: "checkout") != nil)
    #expect(try sim.deployment("pf-b", namespace: "shop", name: "checkout") == nil)
    let history = RevisionHistory(
      client: try sim.client("pf-b"), release: "checkout", namespace: "shop")
    #expect(try history.records().isEmpty)

    let status = try fleetwave(sim, ["status", "r1", "--fleet", fleet])
    #expect(status.status == 0, "\(status.stderr)")
    #expect(
      status.stdout.contains(
        "  wave 0 first: promoted; 1 succeeded; failures 0 of 0 allowed; "
          + "preflight passed on 1 cluster\n"
          + "  wave 1 second: pending; 1 pending; failures 0 of 0 allowed; "
          + "preflight failed on 1 of 1 cluster: \(problem)\n"), "\(status.stdout)")

    // The other run let go: resuming checks wave `second` again and goes on.
    try PreflightCommandTests().kubectl(
      sim, "pf-b", ["delete", "lease", "fleetwave-checkout", "-n", "shop"])
    let resumed = try fleetwave(sim, ["resume", "r1", "--fleet", fleet])
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("rollout r1: succeeded (2 succeeded)"), "\(resumed.stdout)")
    #expect(try sim.deployment("pf-b", namespace: "shop", name: "checkout") != nil)
  }

  @Test func skipPreflightIsJournaledAndShownByStatus() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)

    let run = try fleetwave(
      sim, ["rollout", fleet, "--kubeconfig", sim.kubeconfig, "--run", "r1", "--skip-preflight"])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stderr == "")

    let status = try fleetwave(sim, ["status", "r1", "--fleet", fleet])
    #expect(
      status.stdout.contains(
        "  wave 0 first: promoted; 1 succeeded; failures 0 of 0 allowed; "
          + "preflight skipped (--skip-preflight)\n"
          + "  wave 1 second: promoted; 1 succeeded; failures 0 of 0 allowed; "
          + "preflight skipped (--skip-preflight)\n"), "\(status.stdout)")
    let json = try JSONReader.parse(
      try fleetwave(sim, ["status", "r1", "--fleet", fleet, "-o", "json"]).stdout)
    #expect(
      json["waves"]?.sequence?.first?["preflight"]
        == ["passed": true, "summary": "skipped (--skip-preflight)"])
  }

  @Test func warningsArePrintedAndTheWaveGoesOnUnlessStrict() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim, tag: "latest")
    let warning =
      "Deployment shop/checkout runs image shop/checkout:latest: the tag latest moves (pin a "
      + "version or a digest)"

    let strict = try fleetwave(
      sim, ["rollout", fleet, "--kubeconfig", sim.kubeconfig, "--run", "r1", "--strict"])
    #expect(strict.status == 1, "\(strict.stdout)\(strict.stderr)")
    #expect(strict.stderr == "preflight: pf-a: \(warning)\n")
    #expect(try sim.deployment("pf-a", namespace: "shop", name: "checkout") == nil)

    // r1 stays unfinished, resumable: a new run must say so.
    let warned = try fleetwave(
      sim, ["rollout", fleet, "--kubeconfig", sim.kubeconfig, "--run", "r2", "--new-run"])
    #expect(warned.status == 0, "\(warned.stdout)\(warned.stderr)")
    #expect(
      warned.stderr
        == "preflight: pf-a: warning: \(warning)\npreflight: pf-b: warning: \(warning)\n")
    #expect(warned.stdout.contains("rollout r2: succeeded (2 succeeded)"), "\(warned.stdout)")
  }
}
