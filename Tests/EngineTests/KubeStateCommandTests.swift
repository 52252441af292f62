// Runs kept in a home cluster, used as ephemeral CI runners use them: a rollout stops at an
// approval on one "machine", and another, with nothing local (another working directory and
// HOME), finds the run, approves it, resumes it, and lists it; no cluster is upgraded twice.
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct KubeStateCommandTests {
  @Test func aRunStartedOnOneRunnerIsApprovedAndFinishedFromAnother() throws {
    let dir = try TemporaryDirectory("kube-state-cli")
    defer { dir.remove() }
    let server = try FleetSimServer.start(
      clusters: VirtualClusterSpec.numbered(1),
      options: FleetSimOptions(tls: true, stateDirectory: dir.file("sim"), threads: 2))
    defer { server.shutdown() }
    let kubeconfig = dir.file("home.kubeconfig")
    try server.writeKubeconfig(to: kubeconfig, tls: true)
    let fleet = try CountingExecFleet(
      in: dir, name: "gated", clusters: [("can-1", "canary: \"true\""), ("eu-1", "w: eu")],
      rollout: """
          canary: {selector: canary=true}
          waves:
            - {name: europe, selector: w=eu, approval: true}

        """)
    for runner in ["runner-1", "runner-2"] {
      try FileManager.default.createDirectory(
        atPath: dir.file(runner), withIntermediateDirectories: true)
    }
    func runner(_ name: String) -> [String: String] {
      [
        "HOME": dir.file(name), "USER": "ops", "KUBECONFIG": kubeconfig,
        "FLEETWAVE_STATE": "kube://sim-0001/fleetwave",
      ]
    }
    // The home namespace is the operator's to create (and to grant access to).
    let namespace = try runProcess(
      "/usr/bin/env",
      [
        "kubectl", "--kubeconfig", kubeconfig, "--context", "sim-0001", "create", "namespace",
        "fleetwave",
      ])
    #expect(namespace.status == 0, "\(namespace.stderr)")

    let first = try fleetwave(
      ["rollout", dir.file("fleet"), "--run", "r1"], environment: runner("runner-1"),
      currentDirectory: dir.file("runner-1"))
    #expect(first.status == 3, "\(first.stdout)\(first.stderr)")
    // Nothing of the run was kept on the runner.
    #expect(!FileManager.default.fileExists(atPath: dir.file("fleet/.fleetwave/runs/r1")))

    let elsewhere = runner("runner-2")
    let approve = try fleetwave(
      ["approve", "r1", "--wave", "europe"], environment: elsewhere,
      currentDirectory: dir.file("runner-2"))
    #expect(approve.status == 0, "\(approve.stderr)")
    #expect(approve.stdout.hasPrefix("approved wave 'europe' of run r1 (by ops at "))
    let resume = try fleetwave(
      ["resume", "r1"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    #expect(resume.stdout.hasSuffix("rollout r1: succeeded (2 succeeded)\n"))
    #expect(fleet.upgrades == ["can-1": 1, "eu-1": 1])

    let history = try fleetwave(
      ["history"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    #expect(history.status == 0)
    let row = try #require(history.stdout.split(separator: "\n").dropFirst().first)
    #expect(row.split(separator: " ").prefix(2) == ["r1", "succeeded"])
    let status = try fleetwave(
      ["status", "r1"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    #expect(status.stdout.contains("wave 1 europe: promoted"), "\(status.stdout)")

    let missing = try fleetwave(
      ["status", "r2"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    #expect(missing.status == 1)
    #expect(
      missing.stderr == "error: no run 'r2' in kube://sim-0001/fleetwave; did you mean 'r1'?\n")
  }
}
