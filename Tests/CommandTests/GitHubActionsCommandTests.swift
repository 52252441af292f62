// `rollout` inside GitHub Actions, on the built binary: annotations for what failed, the
// step summary, an invalid fleet annotated at its line.
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct GitHubActionsCommandTests {
  /// The tiny fleet halted by b-2's health gate, run in `dir` as a workflow step runs it.
  func haltedRun(_ dir: TemporaryDirectory, extra: [String] = [], summary: String? = nil)
    throws -> ProcessResult
  {
    try fleetwave(
      [
        "rollout", "fleet", "--sim-fail-health", "b-2", "--run", "r1", "--now",
        "2027-01-15T08:00:00Z",
      ] + extra,
      environment: [
        "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary ?? dir.file("summary.md"),
      ],
      currentDirectory: dir.path)
  }

  @Test func aHaltedRunAnnotatesTheFailedClusterAndAppendsTheStepSummary() throws {
    let dir = try TemporaryDirectory("github-actions")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "sim")
    _ = try dir.write("summary.md", "## an earlier step\n\n")
    let result = try haltedRun(dir)
    #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
    let annotations = result.stdout.split(separator: "\n").filter { $0.hasPrefix("::") }
      .map(String.init)
    let expected: [String] = [
      "::error file=fleet/fleet.yaml,title=rollout r1 halted::wave 'first' has 1 failed of 2 "
        + "clusters; its budget allows 0",
      "::error file=fleet/fleet.yaml,title=cluster b-2 failed::wave first: gate sim-health "
        + "failed: unhealthy: b-2 (error rate 0.25 > 0.01); rolled back to revision 3",
      "::warning file=fleet/fleet.yaml,title=cluster b-1 rolled back::wave first: rolled back "
        + "with its wave to revision 3",
    ]
    #expect(annotations == expected)
    // Every gate result is in the log, the passing ones too.
    #expect(
      result.stdout.contains(
        "2027-01-15T08:01:00.000Z wave 1 first b-1 gate sim-health passed: healthy\n"))
    #expect(
      try String(contentsOfFile: dir.file("summary.md"), encoding: .utf8) == """
        ## an earlier step

        ## Fleetwave rollout `r1`: halted

        Fleet **tiny**, release **checkout** 1.4.2, driver `sim`, 1m30s \
        (2027-01-15T08:00:00.000Z to 2027-01-15T08:01:30.000Z).

        > **wave 'first' has 1 failed of 2 clusters; its budget allows 0**

        | state | clusters |
        |---|---:|
        | succeeded | 1 |
        | rolled-back | 2 |
        | skipped | 3 |

        ### Waves

        | # | wave | state | clusters | failures (allowed) | note |
        |---:|---|---|---:|---|---|
        | 0 | canary | promoted | 1 | 0 (0) |  |
        | 1 | first | halted | 2 | 1 (0) | wave 'first' has 1 failed of 2 clusters; its budget allows 0 |
        | 2 | rest | pending | 3 | 0 (0) |  |

        ### Failed and rolled-back clusters

        | cluster | wave | state | revision | error |
        |---|---|---|---|---|
        | `b-1` | first | rolled-back | 1 → 2 → 3 |  |
        | `b-2` | first | rolled-back | 1 → 2 → 3 | health gate 'sim-health' failed: unhealthy: b-2 (error rate 0.25 > 0.01) |

        """)
  }

  @Test func theStepSummaryIsWrittenOnceAndCanBeTurnedOff() throws {
    let dir = try TemporaryDirectory("github-actions")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "sim")
    let off = try haltedRun(dir, extra: ["--no-step-summary"])
    #expect(off.status == 1)
    #expect(!FileManager.default.fileExists(atPath: dir.file("summary.md")))
    // --markdown naming the step summary itself does not append the report twice.
    let same = try fleetwave(
      [
        "rollout", "fleet", "--sim-fail-health", "b-2", "--run", "r2", "--now",
        "2027-01-15T09:00:00Z", "--markdown", "./summary.md",
      ],
      environment: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": dir.file("summary.md")],
      currentDirectory: dir.path)
    #expect(same.status == 1)
    let text = try String(contentsOfFile: dir.file("summary.md"), encoding: .utf8)
    #expect(text.components(separatedBy: "## Fleetwave rollout").count == 2)
    // Outside GitHub Actions there are no workflow commands.
    let plain = try fleetwave(
      ["rollout", "fleet", "--sim-fail-health", "b-2", "--run", "r3"],
      environment: ["GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": dir.file("other.md")],
      currentDirectory: dir.path)
    #expect(plain.status == 1)
    #expect(!plain.stdout.contains("::"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("other.md")))
  }

  @Test func anInvalidFleetIsAnnotatedAtItsLineAndSummarized() throws {
    let dir = try TemporaryDirectory("github-actions")
    defer { dir.remove() }
    let file = try writeTinyFleet(dir, driver: "sim")
    let text = try String(contentsOfFile: file, encoding: .utf8)
    try text.replacingOccurrences(of: "maxParallel: 2", with: "maxParalel: 2")
      .write(toFile: file, atomically: true, encoding: .utf8)
    let result = try fleetwave(
      ["rollout", "fleet", "--run", "r1"],
      environment: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": dir.file("summary.md")],
      currentDirectory: dir.path)
    #expect(result.status == 1)
    #expect(
      result.stdout
        == "::error file=fleet/fleet.yaml,line=26,col=3,title=invalid fleet::unknown key "
        + "'maxParalel' in rollout; did you mean 'maxParallel'?\n")
    let summary = try String(contentsOfFile: dir.file("summary.md"), encoding: .utf8)
    #expect(summary.hasPrefix("## Fleetwave: fleet `fleet` is invalid\n"), "\(summary)")
  }
}
