// A fleet that does not load still leaves the reports CI reads: `rollout` on the built binary.
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct InvalidFleetReportTests {
  /// A fleet with an unknown driver stops the rollout, and the JUnit file and the Markdown
  /// summary still say why, with the error's location.
  @Test func anInvalidFleetWritesJUnitAndASummary() throws {
    let dir = try TemporaryDirectory("invalid-fleet-reports")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "helmm")
    let result = try fleetwave(
      [
        "rollout", dir.file("fleet"), "--junit", dir.file("junit.xml"), "--markdown",
        dir.file("summary.md"),
      ], timeout: 60)
    #expect(result.status == 1)
    let error = try #require(result.stderr.split(separator: "\n").first.map(String.init))
    #expect(error.hasPrefix(dir.file("fleet/fleet.yaml") + ":7:11: error: "))
    let junit = try String(contentsOfFile: dir.file("junit.xml"), encoding: .utf8)
    let escaped = error.replacingOccurrences(of: "'", with: "&apos;")
    #expect(junit.contains("<failure message=\"\(escaped)\" type=\"invalid-fleet\">"))
    let valid = try runProcess(
      "/usr/bin/xmllint",
      [
        "--noout", "--schema",
        BuiltProducts.packageRoot.appendingPathComponent("Tests/Schemas/junit.xsd").path,
        dir.file("junit.xml"),
      ])
    #expect(valid.status == 0)
    let summary = try String(contentsOfFile: dir.file("summary.md"), encoding: .utf8)
    #expect(summary.hasPrefix("## Fleetwave: fleet `fleet` is invalid\n\nNothing was rolled out."))
    #expect(summary.contains("- `\(error)`\n"))
  }
}
