// The Helm CI/CD lab end to end with the real helm and kubectl, as a platform engineer runs it:
// a chart from `helm create`, per-environment installs, `helm test`, a failing pre-upgrade hook
// rolled back by --atomic, `helm rollback`, a release stuck in pending-upgrade and recovered,
// `helm uninstall`.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct HelmLabTests {
  /// Output with helm's dates (`Sat Nov 28 13:16:00 2026`) replaced and the padding at line ends
  /// that `helm history` leaves dropped.
  private func stable(_ text: String) -> String {
    let dates = text.replacingOccurrences(
      of: #"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}"#, with: "DATE",
      options: .regularExpression)
    return dates.split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }
      .joined(separator: "\n")
  }

  private let migrateHook = """
    {{- if .Values.migrate.enabled }}
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: {{ include "web.fullname" . }}-migrate
      annotations:
        helm.sh/hook: pre-upgrade
        helm.sh/hook-delete-policy: before-hook-creation
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: migrate
            image: {{ .Values.migrate.image }}
    {{- end }}

    """

  private static let failedHook =
    "pre-upgrade hooks failed: resource Job/dev/web-migrate not ready. status: Failed, message: "
    + "Job Failed. failed: 1/1"

  @Test func theHelmLabRunsEndToEnd() throws {
    let faults = FaultSet(images: [
      ImageFault(match: "*:crashy", effect: .crashLoop),
      ImageFault(match: "*:stuck", effect: .neverReady),
    ])
    let sim = try SimFixture(faults: faults)
    let chart = sim.directory.file("web")
    let created = try sim.helm(["create", chart])
    #expect(created.stdout == "Creating \(chart)\n", "\(created.stderr)")
    try sim.directory.write("web/templates/migrate.yaml", migrateHook)
    let values = try String(contentsOfFile: chart + "/values.yaml", encoding: .utf8)
    try sim.directory.write(
      "web/values.yaml", values + "migrate:\n  enabled: false\n  image: migrate:1\n")
    let dev = try sim.directory.write("dev.yaml", "replicaCount: 1\n")
    let staging = try sim.directory.write("staging.yaml", "replicaCount: 2\n")
    let wait = ["--wait", "--timeout", "60s"]

    for (namespace, file) in [("dev", dev), ("staging", staging)] {
      let installed = try sim.helm(
        [
          "upgrade", "--install", "web", chart, "-n", namespace, "--create-namespace", "-f", file,
          "--atomic",
        ] + wait)
      #expect(installed.status == 0, "\(installed.stderr)")
      #expect(
        installed.stdout.hasPrefix(
          "Release \"web\" does not exist. Installing it now.\nNAME: web\nLAST DEPLOYED: "),
        "\(installed.stdout)")
    }
    let deployments = try sim.kubectl([
      "get", "deployments", "-A", "-o",
      "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,"
        + "READY:.status.readyReplicas,IMAGE:.spec.template.spec.containers[0].image",
    ])
    #expect(
      deployments.stdout == """
        NAMESPACE   NAME   READY   IMAGE
        dev         web    1       nginx:1.16.0
        staging     web    2       nginx:1.16.0

        """, "\(deployments.stderr)")

    let tested = try sim.helm(["test", "web", "-n", "dev"])
    #expect(
      stable(tested.stdout) == """
        NAME: web
        LAST DEPLOYED: DATE
        NAMESPACE: dev
        STATUS: deployed
        REVISION: 1
        DESCRIPTION: Install complete
        TEST SUITE:     web-test-connection
        Last Started:   DATE
        Last Completed: DATE
        Phase:          Succeeded

        """, "\(tested.stderr)")

    let upgraded = try sim.helm(
      ["upgrade", "web", chart, "-n", "dev", "-f", dev, "--set", "image.tag=1.27", "--atomic"]
        + wait)
    #expect(upgraded.status == 0, "\(upgraded.stderr)")
    // A pre-upgrade hook Job that crashes fails the upgrade; --atomic rolls it back.
    let hooked = try sim.helm(
      [
        "upgrade", "web", chart, "-n", "dev", "-f", dev, "--set", "migrate.enabled=true",
        "--set", "migrate.image=migrate:crashy", "--atomic",
      ] + wait)
    #expect(hooked.status == 1)
    #expect(
      hooked.stderr.split(separator: "\n").last.map(String.init)
        == "Error: UPGRADE FAILED: release web failed, and has been rolled back due to "
        + "rollback-on-failure being set: " + Self.failedHook)
    let rolledBack = try sim.helm(["rollback", "web", "1", "-n", "dev", "--wait"])
    #expect(rolledBack.stdout == "Rollback was a success! Happy Helming!\n", "\(rolledBack.stderr)")
    let header = "REVISION\tUPDATED                 \tSTATUS"
    #expect(
      stable(try sim.helm(["history", "web", "-n", "dev"]).stdout) == """
        \(header)    \tCHART    \tAPP VERSION\tDESCRIPTION
        1       \tDATE\tsuperseded\tweb-0.1.0\t1.16.0     \tInstall complete
        2       \tDATE\tsuperseded\tweb-0.1.0\t1.16.0     \tUpgrade complete
        3       \tDATE\tfailed    \tweb-0.1.0\t1.16.0     \tUpgrade "web" failed: \(Self.failedHook)
        4       \tDATE\tsuperseded\tweb-0.1.0\t1.16.0     \tRollback to 2
        5       \tDATE\tdeployed  \tweb-0.1.0\t1.16.0     \tRollback to 1

        """)

    // helm killed while it waits for a never-ready image leaves the release pending-upgrade.
    let helm = try #require(BuiltProducts.helm)
    let stuck = try BackgroundProcess(
      helm, ["upgrade", "web", chart, "-n", "dev", "-f", dev, "--set", "image.tag=stuck"] + wait,
      environment: sim.environment)
    let pending = sim.url("sim-0001", "/api/v1/namespaces/dev/secrets/sh.helm.release.v1.web.v6")
    var waited = 0
    while try HTTPExchange.send("GET", pending).json?.at("metadata", "labels", "status")
      != "pending-upgrade", waited < 600
    {
      // Waiting on another process, not on this one's threads: nothing to inject a clock into.
      Thread.sleep(forTimeInterval: 0.05)
      waited += 1
    }
    stuck.signal(SIGKILL)
    stuck.wait()
    let blocked = try sim.helm(["upgrade", "web", chart, "-n", "dev", "-f", dev] + wait)
    #expect(
      blocked.stderr
        == "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n")
    let recovered = try sim.helm(["rollback", "web", "5", "-n", "dev", "--wait"])
    #expect(recovered.stdout == "Rollback was a success! Happy Helming!\n", "\(recovered.stderr)")
    let history = stable(try sim.helm(["history", "web", "-n", "dev", "--max", "2"]).stdout)
    #expect(
      history == """
        \(header)         \tCHART    \tAPP VERSION\tDESCRIPTION
        6       \tDATE\tpending-upgrade\tweb-0.1.0\t1.16.0     \tPreparing upgrade
        7       \tDATE\tdeployed       \tweb-0.1.0\t1.16.0     \tRollback to 5

        """)

    let uninstalled = try sim.helm(["uninstall", "web", "-n", "dev"])
    #expect(uninstalled.stdout == "release \"web\" uninstalled\n", "\(uninstalled.stderr)")
    let listed = try sim.helm(["list", "-A", "-o", "json"])
    let releases = try JSONReader.parse(listed.stdout).sequence?.map { $0["namespace"] }
    #expect(releases == ["staging"], "\(listed.stdout)")
    let left = try sim.kubectl(["get", "deployments,services,replicasets", "-n", "dev"])
    #expect(left.stdout + left.stderr == "No resources found in dev namespace.\n")
  }
}
