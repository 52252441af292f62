// `fleetwave uninstall` with the sim driver: an uninstall run stops at an approval like a
// rollout, is continued by `resume` (never by `rollout --approve`), and cannot be rolled back.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct UninstallCommandTests {
  @Test func anUninstallWaitsForApprovalGoesOnByResumeAndIsNeverRolledBack() throws {
    let dir = try TemporaryDirectory("uninstall-command")
    defer { dir.remove() }
    try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: retire}
      release: {name: shop, namespace: shop, driver: sim, version: "1.0"}
      clusters:
        - {name: can-1, labels: {canary: "true"}}
        - {name: eu-1, labels: {w: eu}}
        - {name: us-1, labels: {w: us}}
      rollout:
        canary: {selector: canary=true}
        waves:
          - {name: europe, selector: w=eu}
          - {name: rest, approval: true}
      """)
    let fleet = dir.file("fleet")
    let state = dir.file("state")

    let dryRun = try fleetwave(["uninstall", fleet, "--dry-run", "--keep-history"])
    #expect(dryRun.status == 0)
    #expect(
      dryRun.stdout.hasPrefix(
        "dry run: uninstall shop from 3 clusters of retire in 3 waves, in the plan's order, "
          + "keeping the revision records, driver sim, at most 10 at once; nothing was changed\n"),
      "\(dryRun.stdout)")
    #expect(
      dryRun.stdout.contains(
        "on a crossed budget: halt (an uninstall is not rolled back), in-flight clusters finish\n"))

    let first = try fleetwave(
      ["uninstall", fleet, "--state", state, "--run", "u1", "--report-json", dir.file("u1.json")])
    #expect(first.status == 3, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.contains("uninstall u1: "), "\(first.stdout)")
    #expect(first.stdout.contains("  fleetwave resume u1 --state \(state)\n"), "\(first.stdout)")
    #expect(!first.stdout.contains("fleetwave rollout"), "\(first.stdout)")

    let approvedByRollout = try fleetwave(
      ["rollout", fleet, "--state", state, "--approve", "rest"])
    #expect(approvedByRollout.status == 1)
    #expect(
      approvedByRollout.stderr
        == "error: run u1 of fleet 'retire' is an unfinished uninstall; continue it with: "
        + "fleetwave resume u1 --state \(state)\n")

    let approved = try fleetwave(["approve", "u1", "--wave", "rest", "--state", state])
    #expect(approved.status == 0, "\(approved.stderr)")
    let resumed = try fleetwave(
      ["resume", "u1", "--state", state, "--report-json", dir.file("u1.json")])
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(
      resumed.stdout.hasSuffix("uninstall u1: succeeded (3 succeeded)\n"), "\(resumed.stdout)")
    let report = try JSONReader.parse(
      try String(contentsOfFile: dir.file("u1.json"), encoding: .utf8))
    #expect(
      report["clusters"]?.sequence?.map {
        "\($0["name"]?.string ?? ""):\($0["toRevision"]?.string ?? "")"
      }
        == ["can-1:uninstalled", "eu-1:uninstalled", "us-1:uninstalled"])

    let rollback = try fleetwave(["rollback", "u1", "--state", state])
    #expect(rollback.status == 1)
    #expect(
      rollback.stderr
        == "error: run u1 uninstalled the release; an uninstall cannot be rolled back (roll the "
        + "release out again to reinstall it)\n")
    let status = try fleetwave(["status", "u1", "--state", state, "-o", "json"])
    #expect(try JSONReader.parse(status.stdout)["action"] == "uninstall")
  }
}
