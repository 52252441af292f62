// Approvals that continue the run, on the built binary: the commands printed at exit 3 run
// verbatim, the same run finishes, and no cluster is upgraded twice.
import FleetwaveTestSupport
import Foundation
import Testing

/// A canary and two waves of one cluster each, the last needing approval.
private func writeApprovalFleet(_ dir: TemporaryDirectory) throws {
  _ = try CountingExecFleet(
    in: dir, name: "gated",
    clusters: [("can-1", "canary: \"true\""), ("eu-1", "w: eu"), ("us-1", "w: us")],
    rollout: """
        canary: {selector: canary=true}
        waves:
          - {name: europe, selector: w=eu}
          - {name: rest, approval: true}

      """)
}

/// How many times each cluster was upgraded.
private func upgrades(_ dir: TemporaryDirectory) -> [String: Int] {
  CountingExecFleet.upgrades(marks: dir.file("marks"), clusters: ["can-1", "eu-1", "us-1"])
}

/// The lines of `text` that are fleetwave commands, without their indentation.
private func printedCommands(_ text: String) -> [String] {
  text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    .compactMap { line in
      guard let start = line.range(of: "fleetwave ") else { return nil }
      return String(line[start.lowerBound...])
    }
}

/// Runs a printed command as a shell would split it (the words are plain).
private func runVerbatim(_ command: String, in dir: TemporaryDirectory) throws -> ProcessResult {
  let words = command.split(separator: " ").map(String.init)
  #expect(words.first == "fleetwave")
  return try fleetwave(
    Array(words.dropFirst()), environment: ["USER": "ops"], currentDirectory: dir.path)
}

@Suite struct ApprovalCommandTests {
  @Test func printedCommandsRunVerbatimFinishTheSameRun() throws {
    let dir = try TemporaryDirectory("approval-roundtrip")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    let first = try fleetwave(
      ["rollout", "fleet", "--run", "r1"], environment: ["USER": "ops"],
      currentDirectory: dir.path)
    #expect(first.status == 3)
    #expect(
      printedCommands(first.stdout) == [
        "fleetwave approve r1 --wave rest --fleet fleet",
        "fleetwave resume r1 --fleet fleet",
        "fleetwave rollout fleet --approve rest",
      ])
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "us-1": 0])

    let approve = try runVerbatim(printedCommands(first.stdout)[0], in: dir)
    #expect(approve.status == 0)
    #expect(approve.stdout.hasPrefix("approved wave 'rest' of run r1 (by ops at "))
    let resume = try runVerbatim(printedCommands(first.stdout)[1], in: dir)
    #expect(resume.status == 0)
    #expect(resume.stdout.hasSuffix("rollout r1: succeeded (3 succeeded)\n"))
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "us-1": 1])
  }

  @Test func rolloutWithApproveContinuesTheUnfinishedRun() throws {
    let dir = try TemporaryDirectory("approval-onestep")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    let first = try fleetwave(["rollout", "fleet", "--run", "r1"], currentDirectory: dir.path)
    #expect(first.status == 3)
    let oneStep = try runVerbatim(printedCommands(first.stdout)[2], in: dir)
    #expect(oneStep.status == 0)
    #expect(oneStep.stdout.hasPrefix("continuing run r1, started "))
    #expect(oneStep.stdout.hasSuffix("rollout r1: succeeded (3 succeeded)\n"))
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "us-1": 1])
    let status = try fleetwave(["status", "r1", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(
      status.stdout.contains(
        "wave 2 rest: promoted; 1 succeeded; failures 0 of 0 allowed; approved by ops\n"))
  }

  @Test func aNewRolloutRefusesToLeaveAnUnfinishedRunUnlessNewRun() throws {
    let dir = try TemporaryDirectory("approval-refuse")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    #expect(
      try fleetwave(["rollout", "fleet", "--run", "r1"], currentDirectory: dir.path).status == 3)
    let again = try fleetwave(["rollout", "fleet"], currentDirectory: dir.path)
    #expect(again.status == 1)
    #expect(
      again.stderr == """
        error: run r1 of fleet 'gated' is unfinished (waiting for: approval of wave 'rest' \
        (fleetwave approve r1 --wave rest)); a new run would start again at the first wave.
          fleetwave resume r1 --fleet fleet continues it; --new-run starts another run anyway

        """)
    // Naming a new run is no way around it.
    let named = try fleetwave(["rollout", "fleet", "--run", "r2"], currentDirectory: dir.path)
    #expect(named.status == 1)
    #expect(named.stderr.hasPrefix("error: run r1 of fleet 'gated' is unfinished"))
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "us-1": 0])
    let fresh = try fleetwave(
      ["rollout", "fleet", "--run", "r2", "--new-run"], currentDirectory: dir.path)
    #expect(fresh.status == 3)
    #expect(fresh.stdout.contains("rollout r2: interrupted"))
  }

  @Test func anUnknownWaveToApproveIsAUsageErrorWithASuggestion() throws {
    let dir = try TemporaryDirectory("approval-typo")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    let typo = try fleetwave(["rollout", "fleet", "--approve", "rset"], currentDirectory: dir.path)
    #expect(typo.status == 2)
    #expect(
      typo.stderr.hasPrefix(
        "Error: --approve rset: the plan has no wave 'rset'; did you mean 'rest'?\n"))
    #expect(upgrades(dir) == ["can-1": 0, "eu-1": 0, "us-1": 0])
  }

  @Test func historyOrdersByStartAndNamesWhoFromCIVariables() throws {
    let dir = try TemporaryDirectory("approval-history")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    // Ids that sort the other way round from their start times.
    #expect(
      try fleetwave(
        ["rollout", "fleet", "--run", "zz-first", "--approve", "rest"],
        environment: ["FLEETWAVE_NOW": "2027-01-18T08:00:00Z", "GITHUB_ACTOR": "octocat"],
        currentDirectory: dir.path
      ).status == 0)
    #expect(
      try fleetwave(
        ["rollout", "fleet", "--run", "aa-second", "--approve", "rest", "--by", "carol"],
        environment: ["FLEETWAVE_NOW": "2027-01-19T08:00:00Z", "GITHUB_ACTOR": "octocat"],
        currentDirectory: dir.path
      ).status == 0)
    let history = try fleetwave(["history", "--fleet", "fleet"], currentDirectory: dir.path)
    let rows = history.stdout.split(separator: "\n").map {
      $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
    #expect(rows.map { $0.first ?? "" } == ["RUN", "zz-first", "aa-second"])
    // BY, then DRIVER, then ACTION, the last column.
    #expect(rows.map { $0.dropLast(2).last ?? "" } == ["BY", "octocat", "carol"])
    #expect(rows.map { $0.dropLast().last ?? "" } == ["DRIVER", "exec", "exec"])
    #expect(rows.map { $0.last ?? "" } == ["ACTION", "rollout", "rollout"])
    let status = try fleetwave(["status", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(status.stdout.hasPrefix("run aa-second: succeeded\n"))
  }

  @Test func historyAddsUpTheDurationsOfEveryPass() throws {
    let dir = try TemporaryDirectory("approval-duration")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    // The sim driver at virtual time: each upgrade takes the default 5m, bakes none. The first
    // pass runs two waves (10m); a day later the resumed pass runs the last (5m).
    let first = try fleetwave(
      ["rollout", "fleet", "--run", "r1", "--driver", "sim"],
      environment: ["FLEETWAVE_NOW": "2027-01-18T08:00:00Z"], currentDirectory: dir.path)
    #expect(first.status == 3)
    let approved = try fleetwave(
      ["rollout", "fleet", "--approve", "rest"],
      environment: ["FLEETWAVE_NOW": "2027-01-19T08:00:00Z"], currentDirectory: dir.path)
    #expect(approved.status == 0)
    let history = try fleetwave(["history", "--fleet", "fleet"], currentDirectory: dir.path)
    let row = history.stdout.split(separator: "\n").last.map {
      $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
    #expect(row?.prefix(3) == ["r1", "succeeded", "15m"])
  }

  @Test func rollbackOfARunIsAnActionNotARerunRollout() throws {
    let dir = try TemporaryDirectory("approval-rollback")
    defer { dir.remove() }
    try writeApprovalFleet(dir)
    #expect(
      try fleetwave(
        ["rollout", "fleet", "--run", "r1", "--approve", "rest"], currentDirectory: dir.path
      )
      .status == 0)
    let rollback = try fleetwave(
      ["rollback", "r1", "--fleet", "fleet", "--by", "ops"], currentDirectory: dir.path)
    #expect(rollback.status == 0)
    #expect(
      rollback.stdout.hasSuffix(
        """
        rollback r1: rolled back (3 rolled-back)
          rollback of run r1 requested by ops
          rolled back: can-1, eu-1, us-1

        """))
    for name in ["can-1", "eu-1", "us-1"] {
      #expect(
        try String(contentsOfFile: dir.file("marks/\(name).rev"), encoding: .utf8) == "1.0.0\n")
    }
    // Rolled back is final: asking again changes nothing.
    let again = try fleetwave(["rollback", "r1", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(again.status == 0)
    #expect(again.stdout == "run r1 already finished: rolled-back; nothing to do\n")
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "us-1": 1])
  }
}
