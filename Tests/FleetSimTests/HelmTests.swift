// The real helm (v4) against the emulator: install with --wait, upgrade, history, rollback,
// status, and a failing upgrade that helm rolls back on its own.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct HelmTests {
  private func writeChart(_ sim: SimFixture) throws -> String {
    try sim.directory.write(
      "chart/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n")
    try sim.directory.write("chart/values.yaml", "image: nginx:1.27\nreplicas: 2\n")
    try sim.directory.write(
      "chart/templates/app.yaml",
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: {{ .Release.Name }}
        labels: {app: {{ .Release.Name }}}
      spec:
        replicas: {{ .Values.replicas }}
        progressDeadlineSeconds: 600
        selector: {matchLabels: {app: {{ .Release.Name }}}}
        template:
          metadata: {labels: {app: {{ .Release.Name }}}}
          spec:
            containers:
            - name: app
              image: {{ .Values.image }}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: {{ .Release.Name }}-config
      data:
        image: {{ .Values.image | quote }}
      ---
      apiVersion: v1
      kind: Service
      metadata:
        name: {{ .Release.Name }}
      spec:
        selector: {app: {{ .Release.Name }}}
        ports: [{port: 80}]

      """)
    return sim.directory.file("chart")
  }

  private func history(_ sim: SimFixture) throws -> [String] {
    let output = try sim.helm(["history", "demo", "-n", "shop", "-o", "json"])
    try #require(output.status == 0, "helm history: \(output.stderr)")
    let entries = try JSONReader.parse(output.stdout).sequence ?? []
    return entries.map {
      let revision = $0["revision"]?.scalarText ?? ""
      return "\(revision) \($0["status"]?.string ?? ""): \($0["description"]?.string ?? "")"
    }
  }

  @Test func installUpgradeRollbackAndAutomaticRollbackOfABadImage() throws {
    let faults = FaultSet(images: [ImageFault(match: "*:broken", effect: .neverReady)])
    let sim = try SimFixture(faults: faults)
    let chart = try writeChart(sim)
    let base = ["-n", "shop", "--wait", "--timeout", "60s"]

    let install = try sim.helm(
      ["upgrade", "--install", "demo", chart, "--create-namespace"] + base)
    #expect(install.status == 0, "\(install.stderr)")
    #expect(install.stdout.contains("STATUS: deployed\nREVISION: 1\n"), "\(install.stdout)")
    let ready = try sim.kubectl([
      "get", "deployment", "demo", "-n", "shop", "-o", "jsonpath={.status.readyReplicas}",
    ])
    #expect(ready.stdout == "2")

    let upgrade = try sim.helm(
      ["upgrade", "--install", "demo", chart, "--set", "image=nginx:1.28"] + base)
    #expect(upgrade.stdout.contains("STATUS: deployed\nREVISION: 2\n"), "\(upgrade.stderr)")

    let rollback = try sim.helm([
      "rollback", "demo", "1", "-n", "shop", "--wait", "--timeout", "60s",
    ])
    #expect(rollback.stdout == "Rollback was a success! Happy Helming!\n", "\(rollback.stderr)")
    let shown = try sim.helm(["status", "demo", "-n", "shop", "-o", "json"])
    try #require(shown.status == 0, "helm status: \(shown.stderr)")
    let status = try JSONReader.parse(shown.stdout)
    #expect(status.at("info", "status") == "deployed")
    #expect(status["version"] == 3)
    #expect(
      try history(sim) == [
        "1 superseded: Install complete", "2 superseded: Upgrade complete",
        "3 deployed: Rollback to 1",
      ])

    // The broken image never becomes ready; helm gives up and rolls back by itself.
    let failed = try sim.helm(
      [
        "upgrade", "demo", chart, "--set", "image=nginx:broken", "--rollback-on-failure", "-n",
        "shop",
        "--wait", "--timeout", "3s",
      ])
    #expect(failed.status == 1)
    #expect(
      failed.stderr.contains(
        "Error: UPGRADE FAILED: release demo failed, and has been rolled back due to "
          + "rollback-on-failure being set: resource Deployment/shop/demo not ready. "
          + "status: InProgress"
      ),
      "\(failed.stderr)")
    let revisions = try history(sim)
    #expect(revisions.count == 5)
    #expect(revisions.last == "5 deployed: Rollback to 3")
    #expect(revisions.dropLast().last?.hasPrefix("4 failed: Upgrade \"demo\" failed: ") == true)
    let image = try sim.kubectl([
      "get", "deployment", "demo", "-n", "shop", "-o",
      "jsonpath={.spec.template.spec.containers[0].image}",
    ])
    #expect(image.stdout == "nginx:1.27")
    let releases = try sim.kubectl([
      "get", "secrets", "-n", "shop", "-l", "owner=helm", "-o", "name",
    ])
    #expect(
      releases.stdout
        == (1...5).map { "secret/sh.helm.release.v1.demo.v\($0)\n" }.joined())
  }
}
