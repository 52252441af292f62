// Diagnosis of failed clusters end to end: a `fleetwave rollout` on a TLS fleet-sim where each
// cluster fails its own way, and the cause with its event lines in every report.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct KubeDiagnosisTests {
  /// The demo chart on `clusters`, one wave that lets them all fail, no rollback.
  func writeFleet(_ sim: KubeSim, clusters: [String], timeout: String = "2m") throws -> String {
    let fleet = sim.directory.file("fleet")
    try copyDemoChart(into: fleet)
    try sim.directory.write(
      "fleet/values.yaml", "image: {repository: shop/checkout, tag: \"2.0.0\"}\n")
    try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: diag}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 1.0.0}
      values: [values.yaml]
      clusters:
      \(clusters.map { "  - {name: \($0), context: \($0)}" }.joined(separator: "\n"))
      rollout:
        waves: [{name: all}]
        maxParallel: 5
        clusterTimeout: \(timeout)
        failurePolicy: {maxFailuresPerWave: 5, maxFailuresTotal: 5, rollback: none}
      """)
    return fleet
  }

  @Test func eachFailedClusterNamesItsCauseWithTheEventsInEveryReport() throws {
    let names = ["diag-pull", "diag-crash", "diag-quota", "diag-unscheduled", "diag-probe"]
    // At speed 200 the default 600 s progress deadline passes in 3 s.
    let sim = try KubeSim(
      clusters: names.map { Cluster(name: $0) }, speed: 200,
      faults: FaultSet(images: [
        ImageFault(
          match: "shop/checkout:2.0.0", effect: .neverReady,
          scope: ClusterScope(clusters: ["diag-pull"])),
        ImageFault(
          match: "shop/checkout:2.0.0", effect: .crashLoop,
          scope: ClusterScope(clusters: ["diag-crash"])),
        ImageFault(
          match: "shop/checkout:2.0.0", effect: .unschedulable,
          scope: ClusterScope(clusters: ["diag-unscheduled"])),
        ImageFault(
          match: "shop/checkout:2.0.0", effect: .probeFailing,
          scope: ClusterScope(clusters: ["diag-probe"])),
      ]))
    let fleet = try writeFleet(sim, clusters: names)
    for arguments in [
      ["create", "namespace", "shop"], ["create", "quota", "pods", "-n", "shop", "--hard=pods=0"],
    ] {
      let result = try runProcess(
        "/usr/bin/env",
        ["kubectl", "--kubeconfig", sim.kubeconfig, "--context", "diag-quota"] + arguments,
        timeout: 60)
      #expect(result.status == 0, "\(result.stderr)")
    }

    let report = sim.directory.file("run.json")
    let markdown = sim.directory.file("run.md")
    let junit = sim.directory.file("junit.xml")
    let html = sim.directory.file("run.html")
    let rollout = try fleetwave(
      [
        "rollout", fleet, "--kubeconfig", sim.kubeconfig, "--report-json", report, "--markdown",
        markdown, "--junit", junit, "--html", html, "--state", sim.directory.file("runs"),
        // Preflight would refuse diag-quota's wave for its quota: the point is to fail on it.
        "--skip-preflight",
      ],
      environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
    #expect(rollout.status == 1)
    let json = try JSONReader.parse(String(contentsOfFile: report, encoding: .utf8))
    let errors = Dictionary(
      uniqueKeysWithValues: (json["clusters"]?.sequence ?? []).map { cluster in
        (
          cluster["name"]?.string ?? "",
          withoutEventCounts(cluster["error"]?.string ?? "")
        )
      })
    // Names the emulator derives from the pod template, the same on every cluster.
    let replicaSet = "checkout-lc4zqms9kx"
    let pod = "\(replicaSet)-ctp6w"
    let deadline = "deployment \"checkout\" exceeded its progress deadline: "
    let pullFailure =
      "Failed to pull image \"shop/checkout:2.0.0\": rpc error: code = NotFound desc = failed to pull and unpack image \"shop/checkout:2.0.0\": not found"
    var expected = [
      "diag-pull": deadline
        + "ImagePullBackOff: pod \(pod) cannot pull image \"shop/checkout:2.0.0\": \(pullFailure)\n"
        + "  Warning Failed pod/\(pod): \(pullFailure)\n"
        + "  Normal BackOff pod/\(pod): Back-off pulling image \"shop/checkout:2.0.0\"",
      "diag-crash": deadline
        + "CrashLoopBackOff: container checkout of pod \(pod) restarted 5 times, last "
        + "terminated: Error (exit code 1)\n"
        + "  Warning BackOff pod/\(pod): Back-off restarting failed container checkout in pod "
        + "\(pod)",
      "diag-quota": deadline
        + "FailedCreate: replicaset/\(replicaSet): Error creating: pods \"\(replicaSet)-\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=0, limited: pods=0\n"
        + "  Warning FailedCreate replicaset/\(replicaSet): Error creating: pods \"\(replicaSet)-\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=0, limited: pods=0",
    ]
    let scheduler =
      "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
      + "3 No preemption victims found for incoming pod."
    let probe = "Readiness probe failed: HTTP probe failed with statuscode: 503"
    expected["diag-unscheduled"] =
      deadline + "Unschedulable: pod \(pod): \(scheduler)\n"
      + "  Warning FailedScheduling pod/\(pod): \(scheduler)"
    expected["diag-probe"] =
      deadline + "readiness probe failing: container checkout of pod \(pod) is running but "
      + "not ready: \(probe)\n  Warning Unhealthy pod/\(pod): \(probe)"
    #expect(errors == expected)

    // Markdown flattens the lines into the table cell; JUnit and HTML keep them as lines.
    let crash = try #require(expected["diag-crash"])
    let table = withoutEventCounts(try String(contentsOfFile: markdown, encoding: .utf8))
    #expect(
      table.contains(
        "| `diag-crash` | all | failed | - → - → - | "
          + crash.replacingOccurrences(of: "\n", with: " ") + " |\n"))
    let xml = withoutEventCounts(try String(contentsOfFile: junit, encoding: .utf8))
    #expect(
      xml.contains(
        "phase: failed&#10;error: "
          + crash.replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(
            of: "\n", with: "&#10;") + "&#10;</failure>"))
    let page = withoutEventCounts(try String(contentsOfFile: html, encoding: .utf8))
    #expect(
      page.contains(
        "<td>"
          + crash.replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(
            of: "\n", with: "<br>") + "</td>"))
  }

  @Test func theHelmDriverNamesTheCauseAfterHelmRolledBack() throws {
    let sim = try KubeSim(
      clusters: [Cluster(name: "diag-helm")], speed: 200,
      faults: FaultSet(images: [ImageFault(match: "shop/checkout:2.0.0", effect: .crashLoop)]))
    // helm waits half the cluster timeout, then rolls back by itself.
    let fleet = try writeFleet(sim, clusters: ["diag-helm"], timeout: "20s")
    let report = sim.directory.file("run.json")
    func rollout(_ extra: [String]) throws -> ProcessResult {
      try fleetwave(
        [
          "rollout", fleet, "--driver", "helm", "--kubeconfig", sim.kubeconfig, "--report-json",
          report, "--state", sim.directory.file("runs"), "--log-dir", sim.directory.file("logs"),
        ] + extra,
        environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
    }
    // A good revision first: a failed first install is uninstalled by helm, workloads and all.
    let install = try rollout(["--set", "image.tag=1.0.0"])
    #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
    let upgrade = try rollout([])
    #expect(upgrade.status == 1)
    let json = try JSONReader.parse(String(contentsOfFile: report, encoding: .utf8))
    let error = withoutEventCounts(json["clusters"]?.sequence?.first?["error"]?.string ?? "")
    // The failing pod is gone with helm's rollback; its events name the cause.
    let pod = "checkout-lc4zqms9kx-ctp6w"
    let backOff = "Back-off restarting failed container checkout in pod \(pod)"
    #expect(
      error
        == "Error: UPGRADE FAILED: release checkout failed, and has been rolled back due to "
        + "rollback-on-failure being set: resource Deployment/shop/checkout not ready. status: "
        + "Failed, message: Progress deadline exceeded: CrashLoopBackOff: pod \(pod): \(backOff)\n"
        + "  Warning BackOff pod/\(pod): \(backOff)")
  }
}

/// `text` without the event counts (` (x3)`) of diagnosis evidence: they depend on how many
/// controller steps the emulator ran before the deadline.
func withoutEventCounts(_ text: String) -> String {
  text.replacingOccurrences(of: #" \(x[0-9]+\)"#, with: "", options: .regularExpression)
}
