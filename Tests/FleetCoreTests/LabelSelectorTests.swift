import FleetCore
import Testing

@Suite struct LabelSelectorTests {
  let labels = ["env": "prod", "region": "eu-west-1", "canary": "true"]

  @Test(arguments: [
    ("env=prod", true), ("env==prod", true), ("env=dev", false), ("env!=dev", true),
    ("env!=prod", false), ("missing!=x", true), ("region in (eu-west-1, us-east-1)", true),
    ("region in (us-east-1)", false), ("region notin (us-east-1)", true),
    ("missing notin (a)", true), ("canary", true), ("!canary", false), ("!missing", true),
    ("env=prod,canary", true), ("env=prod, !canary", false), ("", true),
  ])
  func matches(selector: String, expected: Bool) throws {
    #expect(try LabelSelector.parse(selector).matches(labels) == expected)
  }

  @Test func errorsPointAtTheColumn() {
    let file = SourceFile(path: "fleet.yaml", text: "selector: env=prod,,x\n")
    let mark = SourceMark(file: file, line: 1, column: 11)
    #expect {
      try LabelSelector.parse("env=prod,,x", mark: mark)
    } throws: { error in
      (error as? Diagnostic)?.description == """
        fleet.yaml:1:20: error: invalid label selector: expected a label key
            selector: env=prod,,x
                               ^
        """
    }
    #expect {
      try LabelSelector.parse("region in (a", mark: mark)
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "fleet.yaml:1:23: error: invalid label selector: value set is not closed with ')'"
    }
    #expect {
      try LabelSelector.parse("env >> prod", mark: mark)
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "fleet.yaml:1:15: error: invalid label selector: expected one of '=', '==', '!=', 'in', 'notin' after 'env'"
    }
  }
}

@Suite struct DurationTextTests {
  @Test(arguments: [
    ("500ms", Int64(500)), ("30s", 30_000), ("10m", 600_000), ("1h30m", 5_400_000),
    ("2d", 172_800_000), ("0", 0), ("1.5s", 1_500),
  ])
  func parses(text: String, milliseconds: Int64) throws {
    let duration = try #require(DurationText.parse(text))
    #expect(DurationText.milliseconds(duration) == milliseconds)
  }

  @Test(arguments: ["", "10", "5x", "m", "1h-5m"])
  func rejects(text: String) {
    #expect(DurationText.parse(text) == nil)
  }

  @Test func formatsShortest() {
    #expect(DurationText.format(.seconds(5400)) == "1h30m")
    #expect(DurationText.format(.milliseconds(250)) == "250ms")
    #expect(DurationText.format(.zero) == "0s")
  }
}

@Suite struct FailureLimitTests {
  @Test func percentagesRoundDown() {
    #expect(FailureLimit.percent(10).allowed(of: 9) == 0)
    #expect(FailureLimit.percent(10).allowed(of: 10) == 1)
    #expect(FailureLimit.percent(10).allowed(of: 29) == 2)
    #expect(FailureLimit.count(3).allowed(of: 1) == 3)
  }
}
