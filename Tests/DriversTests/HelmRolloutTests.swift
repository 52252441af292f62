// `fleetwave rollout --driver helm` as a user runs it: the built binary, the real helm, the
// fleet emulator; install, upgrade, and a bad image in a later wave that halts and rolls back.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct HelmRolloutTests {
  private func report(_ path: String) throws -> Value {
    try JSONReader.parse(String(contentsOfFile: path, encoding: .utf8))
  }

  /// name: "state from → to (rollback)" for every cluster of a report.
  private func outcomes(_ report: Value) -> [String: String] {
    var outcomes: [String: String] = [:]
    for cluster in report["clusters"]?.sequence ?? [] {
      let revisions = ["fromRevision", "toRevision", "rollbackRevision"].map {
        cluster[$0]?.string ?? "-"
      }
      outcomes[cluster["name"]?.string ?? "?"] =
        "\(cluster["state"]?.string ?? "?") \(revisions.joined(separator: " → "))"
    }
    return outcomes
  }

  @Test func installUpgradeThenABadImageInALaterWaveHaltsAndRollsBack() throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [
        ImageFault(match: "*:3.0.0", effect: .neverReady, scope: ClusterScope(clusters: ["b-2"]))
      ]))
    let environment = sim.environment.merging(["FLEETWAVE_HELM": sim.helm]) { $1 }
    func rollout(_ run: String, _ extra: [String]) throws -> ProcessResult {
      try fleetwave(
        [
          "rollout", sim.fleetDirectory, "--driver", "helm", "--kubeconfig", sim.kubeconfig,
          "--run", run, "--report-json", sim.directory.file("\(run).json"), "--log-dir",
          sim.directory.file("logs-\(run)"),
        ] + extra, environment: environment, timeout: 240)
    }
    let names = ["canary-1", "b-1", "b-2", "b-3"]

    let install = try rollout("r1", [])
    #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
    #expect(install.stdout.hasSuffix("rollout r1: succeeded (4 succeeded)\n"), "\(install.stdout)")
    for name in names {
      #expect(try sim.history(name) == ["1 deployed: Install complete"], "\(name)")
    }
    #expect(try sim.image("b-1") == "shop/checkout:1.0.0")
    #expect(
      outcomes(try report(sim.directory.file("r1.json")))
        == Dictionary(uniqueKeysWithValues: names.map { ($0, "succeeded - → 1 → -") }))

    #expect(try sim.arguments("b-1") == #"["--a","--b"]"#)

    // --set works as in helm, on the merged values: one list item changes, not the list.
    let upgrade = try rollout("r2", ["--set", "image.tag=2.0.0", "--set", "extraArgs[1]=--c"])
    #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
    for name in names {
      #expect(
        try sim.history(name) == [
          "1 superseded: Install complete", "2 deployed: Upgrade complete",
        ],
        "\(name)")
    }
    #expect(try sim.image("b-3") == "shop/checkout:2.0.0")
    #expect(try sim.arguments("b-3") == #"["--a","--c"]"#)
    #expect(
      outcomes(try report(sim.directory.file("r2.json")))
        == Dictionary(uniqueKeysWithValues: names.map { ($0, "succeeded 1 → 2 → -") }))

    // 3.0.0 never gets ready on b-2: helm waits 10 s (half the 20 s cluster timeout), gives
    // up and rolls back by itself; the wave halts and the policy rolls the wave back.
    let failing = try rollout("r3", ["--set", "image.tag=3.0.0"])
    let helmError =
      "Error: UPGRADE FAILED: release checkout failed, and has been rolled back due to "
      + "rollback-on-failure being set: resource Deployment/shop/checkout not ready. "
      + "status: InProgress, message: Updated: 1/2"
    // The cause, from the events of the pod helm's rollback removed (KubeDiagnosisTests).
    let pod = "checkout-lpsgxnsm6n-z4hj6"
    let pull =
      "Failed to pull image \"shop/checkout:3.0.0\": rpc error: code = NotFound desc = failed "
      + "to pull and unpack image \"shop/checkout:3.0.0\": not found"
    let diagnosed =
      helmError + ": ImagePullBackOff: pod \(pod): \(pull)\n  Warning Failed pod/\(pod): \(pull)\n"
      + "  Normal BackOff pod/\(pod): Back-off pulling image \"shop/checkout:3.0.0\""
    #expect(failing.status == 1, "\(failing.stdout)\(failing.stderr)")
    #expect(
      withoutEventCounts(failing.stdout).contains(" wave 1 rest b-2 failed: \(diagnosed)\n"),
      "\(failing.stdout)")
    #expect(
      failing.stdout.hasSuffix(
        """
        rollout r3: halted (1 succeeded, 3 rolled-back)
          wave 'rest' has 1 failed of 3 clusters; its budget allows 0
          rolled back: b-1, b-2, b-3

        """), "\(failing.stdout)")
    let halted = try report(sim.directory.file("r3.json"))
    #expect(halted["outcome"] == "halted")
    #expect(
      outcomes(halted) == [
        "canary-1": "succeeded 2 → 3 → -", "b-1": "rolled-back 2 → 3 → 4",
        "b-2": "rolled-back 2 → - → 4", "b-3": "rolled-back 2 → 3 → 4",
      ])
    let b2 = halted["clusters"]?.sequence?.first { $0["name"] == "b-2" }
    #expect(b2?["error"]?.string.map(withoutEventCounts) == diagnosed)

    #expect(
      try sim.history("canary-1") == [
        "1 superseded: Install complete", "2 superseded: Upgrade complete",
        "3 deployed: Upgrade complete",
      ])
    for name in ["b-1", "b-3"] {
      #expect(
        try sim.history(name) == [
          "1 superseded: Install complete", "2 superseded: Upgrade complete",
          "3 superseded: Upgrade complete", "4 deployed: Rollback to 2",
        ], "\(name)")
    }
    // helm restored b-2 itself; the policy's rollback found nothing left to do there.
    let b2History = try sim.history("b-2")
    #expect(b2History.count == 4)
    #expect(b2History.last == "4 deployed: Rollback to 2")
    #expect(b2History.dropLast().last?.hasPrefix("3 failed: Upgrade \"checkout\" failed: ") == true)
    let b2Log = try String(contentsOfFile: sim.directory.file("logs-r3/b-2.log"), encoding: .utf8)
    #expect(b2Log.contains("=== revision 4 already runs revision 2; no rollback\n"))
    #expect(!b2Log.contains(" rollback checkout 2 "))
    for name in names where name != "canary-1" {
      #expect(try sim.image(name) == "shop/checkout:2.0.0", "\(name)")
    }
    #expect(try sim.image("canary-1") == "shop/checkout:3.0.0")
  }

  @Test func aMissingHelmOrABadSetStopsBeforeAnyClusterIsTouched() throws {
    let sim = try HelmFixture()
    let missing = try fleetwave(
      ["rollout", sim.fleetDirectory, "--driver", "helm", "--kubeconfig", sim.kubeconfig],
      environment: sim.environment.merging(["FLEETWAVE_HELM": sim.directory.file("no-helm")]) {
        $1
      })
    #expect(missing.status == 1)
    #expect(
      missing.stderr
        == "error: helm not found: set FLEETWAVE_HELM, put helm beside fleetwave or on PATH, or"
        + " run Scripts/install-helm.sh\n")
    let badSet = try fleetwave(
      ["rollout", sim.fleetDirectory, "--driver", "helm", "--set", "image.tag"],
      environment: sim.environment.merging(["FLEETWAVE_HELM": sim.helm]) { $1 })
    #expect(badSet.status == 2)
    #expect(badSet.stderr == "error: --set image.tag: key \"tag\" has no value\n")
    #expect(badSet.stdout == "")
    // A --set that cannot be read is shown by its key: its value may be a secret.
    let secretSet = try fleetwave(
      ["rollout", sim.fleetDirectory, "--driver", "helm", "--set", "token[x]=hunter2"],
      environment: sim.environment.merging(["FLEETWAVE_HELM": sim.helm]) { $1 })
    #expect(secretSet.status == 2)
    #expect(secretSet.stderr == "error: --set token[x]: error parsing index: 'x' is not a number\n")
  }
}
