// The report files of the built binary come from the run's journal: `resume` of a run that
// stopped at an approval writes the run.json an uninterrupted rollout writes, timestamps aside.
import FleetwaveTestSupport
import Foundation
import Testing

/// The file with every timestamp replaced.
private func timeless(_ path: String) throws -> String {
  try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
    of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#, with: "<time>", options: .regularExpression)
}

@Suite struct ResumedReportCommandTests {
  @Test func resumeAfterAnApprovalWritesTheReportOfAnUninterruptedRollout() throws {
    let whole = try TemporaryDirectory("report-cli-whole")
    defer { whole.remove() }
    try writeShopFleet(whole)
    let straight = try fleetwave(
      [
        "rollout", "fleet", "--run", "r1", "--approve", "rest", "--now", "2027-01-15T08:00:00Z",
        "--report-json", "run.json",
      ], environment: ["USER": "ops"], currentDirectory: whole.path)
    #expect(straight.status == 0, "\(straight.stdout)\(straight.stderr)")

    let parts = try TemporaryDirectory("report-cli-parts")
    defer { parts.remove() }
    try writeShopFleet(parts)
    let first = try fleetwave(
      [
        "rollout", "fleet", "--run", "r1", "--now", "2027-01-15T08:00:00Z", "--report-json",
        "first.json",
      ], environment: ["USER": "ops"], currentDirectory: parts.path)
    #expect(first.status == 3, "\(first.stdout)\(first.stderr)")
    let approve = try fleetwave(
      ["approve", "r1", "--wave", "rest", "--fleet", "fleet"], environment: ["USER": "lead"],
      currentDirectory: parts.path)
    #expect(approve.status == 0, "\(approve.stderr)")
    let resumed = try fleetwave(
      [
        "resume", "r1", "--fleet", "fleet", "--now", "2027-01-15T11:00:00Z", "--report-json",
        "run.json",
      ], environment: ["USER": "ops"], currentDirectory: parts.path)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")

    #expect(try timeless(parts.file("run.json")) == timeless(whole.file("run.json")))
    // The canary's reading was taken by the first process only; the resumed report has it.
    let report = try JSONSerialization.jsonObject(
      with: Data(contentsOf: URL(fileURLWithPath: parts.file("run.json"))))
    let clusters = (report as? [String: Any])?["clusters"] as? [[String: Any]]
    let canary = clusters?.first { $0["name"] as? String == "can-1" }
    let readings = canary?["measurements"] as? [[String: Any]]
    #expect(readings?.map { $0["gate"] as? String } == ["sim-health"])
    #expect(readings?.first?["at"] as? String == "2027-01-15T08:05:00.000Z")
  }
}
