// The real helm (v4) running test Pods and hook Jobs on the emulator: `helm test` passes on a
// Pod that runs to Succeeded, and a pre-upgrade hook Job that crashes fails the upgrade.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct HelmHookTests {
  private func writeChart(_ sim: SimFixture) throws -> String {
    try sim.directory.write(
      "hooks/Chart.yaml", "apiVersion: v2\nname: hooks\nversion: 0.1.0\nappVersion: \"1.0\"\n")
    try sim.directory.write("hooks/values.yaml", "migrateImage: migrate:1\n")
    try sim.directory.write(
      "hooks/templates/hooks.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: {{ .Release.Name }}-config
      data:
        migrate: {{ .Values.migrateImage | quote }}
      ---
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: {{ .Release.Name }}-migrate
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
              image: {{ .Values.migrateImage }}
      ---
      apiVersion: v1
      kind: Pod
      metadata:
        name: {{ .Release.Name }}-smoke
        annotations:
          helm.sh/hook: test
      spec:
        restartPolicy: Never
        containers:
        - name: smoke
          image: curl:8

      """)
    return sim.directory.file("hooks")
  }

  @Test func helmTestPassesAndACrashingPreUpgradeHookFailsTheUpgrade() throws {
    let faults = FaultSet(images: [ImageFault(match: "*:crashy", effect: .crashLoop)])
    let sim = try SimFixture(faults: faults)
    let chart = try writeChart(sim)
    let base = ["-n", "shop", "--wait", "--timeout", "60s"]
    let install = try sim.helm(
      ["upgrade", "--install", "app", chart, "--create-namespace"] + base)
    #expect(install.status == 0, "\(install.stderr)")

    let test = try sim.helm(["test", "app", "-n", "shop", "--logs"])
    #expect(test.status == 0, "\(test.stderr)")
    let lines = test.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains("TEST SUITE:     app-smoke"), "\(test.stdout)")
    #expect(lines.contains("Phase:          Succeeded"), "\(test.stdout)")
    #expect(
      Array(lines.suffix(3)) == [
        "POD LOGS: app-smoke", "fleet-sim: container smoke started from image curl:8",
        "fleet-sim: container smoke exited with code 0",
      ])

    let upgrade = try sim.helm(
      ["upgrade", "app", chart, "--set", "migrateImage=migrate:crashy"] + base)
    #expect(
      upgrade.stderr.split(separator: "\n").last.map { String($0) }
        == "Error: UPGRADE FAILED: pre-upgrade hooks failed: resource Job/shop/app-migrate not "
        + "ready. status: Failed, message: Job Failed. failed: 1/1")
    #expect(upgrade.status == 1)
  }
}
