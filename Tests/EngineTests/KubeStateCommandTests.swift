// Runs kept in a home cluster, used as ephemeral CI runners use them: a rollout stops at an
// approval on one "machine", and another, with nothing local (another working directory and
// HOME), finds the run, approves it, resumes it, and lists it; no cluster is upgraded twice.
import FleetCore
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
    // Nothing of the run but its cluster logs was kept on the runner.
    #expect(
      !FileManager.default.fileExists(atPath: dir.file("fleet/.fleetwave/runs/r1/journal.log")))

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

  /// The value flags a run started with are kept in the home cluster: `resume` and `rollback`
  /// from another runner, with nothing typed again, hand the same values to the clusters; the
  /// values stay out of the journal and of every output.
  @Test func valueFlagsGivenOnOneRunnerAreAppliedByAResumeOnAnother() throws {
    let dir = try TemporaryDirectory("kube-state-values")
    defer { dir.remove() }
    let server = try FleetSimServer.start(
      clusters: VirtualClusterSpec.numbered(1),
      options: FleetSimOptions(tls: true, stateDirectory: dir.file("sim"), threads: 2))
    defer { server.shutdown() }
    let kubeconfig = dir.file("home.kubeconfig")
    try server.writeKubeconfig(to: kubeconfig, tls: true)
    let marks = dir.file("marks")
    try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
    // Each cluster's command keeps the values file it was handed.
    _ = try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: valued}
      release:
        name: checkout
        namespace: shop
        driver: exec
        version: 2.0.0
        exec:
          upgrade: 'cp "$FLEETWAVE_VALUES_FILE" \(marks)/$FLEETWAVE_CLUSTER.values; echo 2.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
          rollback: 'cp "$FLEETWAVE_VALUES_FILE" \(marks)/$FLEETWAVE_CLUSTER.rolled; echo 1.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
          revision: 'cat \(marks)/$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
      clusters:
        - {name: can-1, labels: {canary: "true"}}
        - {name: eu-1, labels: {w: eu}}
      rollout:
        canary: {selector: canary=true}
        waves:
          - {name: europe, selector: w=eu, approval: true}

      """)
    for runner in ["runner-1", "runner-2"] {
      try FileManager.default.createDirectory(
        atPath: dir.file(runner), withIntermediateDirectories: true)
    }
    // Only the first runner has the file --set-file names (by a relative path).
    _ = try dir.write("runner-1/token.txt", "t0ken-from-file")
    func runner(_ name: String) -> [String: String] {
      [
        "HOME": dir.file(name), "USER": "ops", "KUBECONFIG": kubeconfig,
        "FLEETWAVE_STATE": "kube://sim-0001/fleetwave",
      ]
    }
    func kubectl(_ arguments: [String]) throws -> ProcessResult {
      try runProcess(
        "/usr/bin/env",
        ["kubectl", "--kubeconfig", kubeconfig, "--context", "sim-0001"] + arguments)
    }
    #expect(try kubectl(["create", "namespace", "fleetwave"]).status == 0)

    var outputs: [ProcessResult] = []
    let first = try fleetwave(
      [
        "rollout", dir.file("fleet"), "--run", "v1", "--set", "db.password=s3cr3t-pw",
        "--set-string", "build=b0042x", "--set-file", "token=token.txt",
      ],
      environment: runner("runner-1"), currentDirectory: dir.file("runner-1"))
    outputs.append(first)
    #expect(first.status == 3, "\(first.stdout)\(first.stderr)")
    // The cluster logs stay beside the fleet, not in a directory named after the home cluster.
    #expect(
      FileManager.default.fileExists(atPath: dir.file("fleet/.fleetwave/runs/v1/logs/can-1.log")))
    #expect(!FileManager.default.fileExists(atPath: dir.file("runner-1/kube:")))
    let expected = """
      db:
        password: s3cr3t-pw
      build: b0042x
      token: t0ken-from-file

      """
    #expect(try String(contentsOfFile: "\(marks)/can-1.values", encoding: .utf8) == expected)

    let elsewhere = runner("runner-2")
    let wrong = try fleetwave(
      ["resume", "v1", "--set", "db.password=guess"], environment: elsewhere,
      currentDirectory: dir.file("runner-2"))
    outputs.append(wrong)
    #expect(wrong.status == 1)
    #expect(
      wrong.stderr
        == "error: run v1 was started with other --set arguments; pass exactly the --set "
        + "arguments it started with\n")
    outputs.append(
      try fleetwave(
        ["approve", "v1", "--wave", "europe"], environment: elsewhere,
        currentDirectory: dir.file("runner-2")))
    let resume = try fleetwave(
      ["resume", "v1"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    outputs.append(resume)
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    #expect(resume.stdout.hasSuffix("rollout v1: succeeded (2 succeeded)\n"))
    #expect(try String(contentsOfFile: "\(marks)/eu-1.values", encoding: .utf8) == expected)

    let rollback = try fleetwave(
      ["rollback", "v1"], environment: elsewhere, currentDirectory: dir.file("runner-2"))
    outputs.append(rollback)
    #expect(rollback.status == 0, "\(rollback.stdout)\(rollback.stderr)")
    #expect(try String(contentsOfFile: "\(marks)/eu-1.rolled", encoding: .utf8) == expected)
    outputs.append(
      try fleetwave(
        ["status", "v1", "--json"], environment: elsewhere,
        currentDirectory: dir.file("runner-2")))

    // The values Secret belongs to the run's first journal chunk; the journal holds none of
    // the values, and no output showed them.
    let secrets = try kubectl([
      "get", "secrets", "-n", "fleetwave", "-l", "app.kubernetes.io/managed-by=fleetwave",
      "-o",
      "jsonpath={range .items[*]}{.metadata.name} {.type} {.metadata.ownerReferences[0].name}{\"\\n\"}{end}",
    ])
    let key = String(SHA256.hex(Array("v1".utf8)).prefix(20))
    #expect(
      secrets.stdout.split(separator: "\n").sorted() == [
        "fleetwave-journal-\(key)-0 fleetwave.io/journal ",
        "fleetwave-values-\(key) fleetwave.io/values fleetwave-journal-\(key)-0",
      ])
    let journal = try kubectl([
      "get", "secret", "-n", "fleetwave", "fleetwave-journal-\(key)-0", "-o",
      "jsonpath={.data.records}",
    ])
    let records = String(decoding: Data(base64Encoded: journal.stdout) ?? Data(), as: UTF8.self)
    #expect(records.contains("\"setDigest\""))
    for text in [records] + outputs.flatMap({ [$0.stdout, $0.stderr] }) {
      for secret in ["s3cr3t-pw", "b0042x", "t0ken-from-file"] {
        #expect(!text.contains(secret), "\(secret) shown: \(text)")
      }
    }
  }

  /// Where runs go: --state, then $FLEETWAVE_STATE, then fleet.yaml's `state:`, then the local
  /// directory; and the run lock's lease duration, journaled with the run.
  @Test func theStateBlockOfTheFleetFileYieldsToTheEnvironmentAndToState() throws {
    let dir = try TemporaryDirectory("kube-state-block")
    defer { dir.remove() }
    let server = try FleetSimServer.start(
      clusters: VirtualClusterSpec.numbered(1),
      options: FleetSimOptions(tls: true, stateDirectory: dir.file("sim"), threads: 2))
    defer { server.shutdown() }
    let kubeconfig = dir.file("home.kubeconfig")
    try server.writeKubeconfig(to: kubeconfig, tls: true)
    let fleet = try CountingExecFleet(
      in: dir, name: "homed", clusters: [("can-1", "canary: \"true\"")],
      rollout: """
          canary: {selector: canary=true}
        state: {context: sim-0001, namespace: fleetwave}

        """)
    func kubectl(_ arguments: [String]) throws -> ProcessResult {
      try runProcess(
        "/usr/bin/env",
        ["kubectl", "--kubeconfig", kubeconfig, "--context", "sim-0001"] + arguments)
    }
    for namespace in ["fleetwave", "other"] {
      #expect(try kubectl(["create", "namespace", namespace]).status == 0)
    }
    let plain = ["HOME": dir.path, "USER": "ops", "KUBECONFIG": kubeconfig]
    let fleetDirectory = dir.file("fleet")

    let tooShort = try fleetwave(
      ["rollout", fleetDirectory, "--lease-duration", "2s"], environment: plain)
    #expect(tooShort.status == 2)
    #expect(
      tooShort.stderr.hasPrefix(
        "Error: --lease-duration '2s': expected whole seconds from 3s to 5m, such as 5s "
          + "(renewed every third of it, fenced at two thirds)\n"), "\(tooShort.stderr)")

    // fleet.yaml's home cluster, with no --state and no $FLEETWAVE_STATE.
    let homed = try fleetwave(
      ["rollout", fleetDirectory, "--run", "p1", "--lease-duration", "5s"], environment: plain)
    #expect(homed.status == 0, "\(homed.stdout)\(homed.stderr)")
    #expect(
      !FileManager.default.fileExists(atPath: dir.file("fleet/.fleetwave/runs/p1/journal.log")))
    #expect(
      FileManager.default.fileExists(atPath: dir.file("fleet/.fleetwave/runs/p1/logs/can-1.log")))
    #expect(fleet.upgrades == ["can-1": 1])
    let key = String(SHA256.hex(Array("p1".utf8)).prefix(20))
    let journal = try kubectl([
      "get", "secret", "-n", "fleetwave", "fleetwave-journal-\(key)-0", "-o",
      "jsonpath={.data.records}",
    ])
    let records = String(decoding: Data(base64Encoded: journal.stdout) ?? Data(), as: UTF8.self)
    #expect(records.contains("\"leaseDuration\":\"5s\""), "\(records)")
    let found = try fleetwave(["status", "p1", "--fleet", fleetDirectory], environment: plain)
    #expect(found.status == 0, "\(found.stderr)")

    // $FLEETWAVE_STATE wins over fleet.yaml; --state wins over both.
    var elsewhere = plain
    elsewhere["FLEETWAVE_STATE"] = "kube://sim-0001/other"
    let other = try fleetwave(["status", "p1", "--fleet", fleetDirectory], environment: elsewhere)
    #expect(other.status == 1)
    #expect(other.stderr == "error: no run 'p1' in kube://sim-0001/other\n")
    let local = try fleetwave(
      ["status", "p1", "--fleet", fleetDirectory, "--state", dir.file("local")],
      environment: elsewhere)
    #expect(local.status == 1)
    #expect(
      local.stderr
        == "error: no run 'p1' in \(dir.file("local"))/runs (pass --state DIR or --fleet DIR)\n")
    let localRun = try fleetwave(
      ["rollout", fleetDirectory, "--run", "p2", "--state", dir.file("local")],
      environment: elsewhere)
    #expect(localRun.status == 0, "\(localRun.stdout)\(localRun.stderr)")
    #expect(FileManager.default.fileExists(atPath: dir.file("local/runs/p2/journal.log")))
    let noLease = try fleetwave(
      ["rollout", fleetDirectory, "--state", dir.file("local"), "--lease-duration", "5s"],
      environment: plain)
    #expect(noLease.status == 2)
    #expect(
      noLease.stderr.hasPrefix(
        "Error: --lease-duration is for runs in a home cluster (kube:// state)\n"),
      "\(noLease.stderr)")
  }
}
