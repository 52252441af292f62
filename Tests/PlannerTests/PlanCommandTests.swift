// `fleetwave plan` run as a user runs it: output, errors and exit codes of the built binary.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct PlanCommandTests {
  static let root = BuiltProducts.packageRoot.path
  static let at = "2026-03-27T08:00:00Z"

  /// The fleet of `demoFleet()`, written as a user writes it.
  static let demoYAML = """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: demo}
    release: {name: checkout, namespace: shop, version: 1.4.2, driver: sim}
    clusters:
      - {name: prod-us-2, labels: {env: prod, region: us}}
      - {name: prod-eu-1, labels: {env: prod, region: eu, canary: "true"}}
      - {name: stg-eu-1, labels: {env: staging, region: eu}}
      - {name: prod-eu-2, labels: {env: prod, region: eu}}
      - {name: stg-us-1, labels: {env: staging, region: us}}
      - {name: prod-ap-1, labels: {env: prod, region: ap}, windows: [ap-night]}
      - {name: prod-eu-3, labels: {env: prod, region: eu}}
      - {name: prod-us-1, labels: {env: prod, region: us}}
      - {name: zz-lab-1, labels: {env: lab}, expectedDuration: 2m}
    rollout:
      canary: {selector: canary=true, bake: 10m}
      waves:
        - {name: staging, selector: env=staging}
        - {name: early, count: 2}
        - {name: prod, selector: env=prod, maxFailures: 50%, approval: true}
      maxParallel: 2
      spreadBy: region
      maxPerDomain: 1
      bake: 5m
      failurePolicy: {maxFailuresPerWave: 0, maxFailuresTotal: 2}
    windows:
      ap-night: {days: Mon-Fri, from: "22:00", to: "04:00", timezone: Asia/Tokyo}
    freeze:
      - {from: "2026-03-27T08:20:00Z", to: "2026-03-27T08:40:00Z", reason: deploy freeze}

    """

  func withDemo(_ body: (String) throws -> Void) throws {
    let work = try TemporaryDirectory("plan-command")
    defer { work.remove() }
    try work.write("demo/fleet.yaml", Self.demoYAML)
    try body(work.file("demo"))
  }

  @Test func jsonOfTheLoadedFleetIsTheDocumentedExample() throws {
    try withDemo { demo in
      let result = try fleetwave(["plan", demo, "--at", Self.at, "-o", "json"])
      #expect(result.stderr == "")
      #expect(result.status == 0)
      let expected = try String(
        contentsOfFile: Self.root + "/docs/examples/demo-plan.json", encoding: .utf8)
      #expect(result.stdout == expected)
    }
  }

  @Test func sameInputSameBytesAndAnOffsetIsTheSameInstant() throws {
    try withDemo { demo in
      let first = try fleetwave(["plan", demo, "--at", Self.at, "-o", "json"])
      let second = try fleetwave(["plan", demo, "--at", "2026-03-27T10:00:00+02:00", "-o", "json"])
      #expect(first.status == 0)
      #expect(first.stdout == second.stdout)
    }
  }

  @Test func everyFormatRenders() throws {
    try withDemo { demo in
      let table = try fleetwave(["plan", demo, "--at", Self.at])
      #expect(table.status == 0)
      #expect(
        table.stdout.hasPrefix(
          "Plan for fleet demo, release checkout 1.4.2\n9 clusters in 4 waves, start "
            + "2026-03-27T08:00:00Z, estimated finish 2026-03-27T13:25:00Z\n"))
      let markdown = try fleetwave(["plan", demo, "--at", Self.at, "-o", "markdown"])
      #expect(
        markdown.stdout.hasPrefix("### Rollout plan for fleet demo, release checkout 1.4.2\n"))
      let mermaid = try fleetwave(["plan", demo, "--at", Self.at, "-o", "mermaid"])
      #expect(mermaid.stdout.hasPrefix("gantt\n  title fleet demo, release checkout 1.4.2"))
      let html = try fleetwave(["plan", demo, "--at", Self.at, "-o", "html"])
      #expect(html.stdout.hasPrefix("<!DOCTYPE html>\n"))
      #expect(html.stdout.hasSuffix("</html>\n"))
      #expect([markdown, mermaid, html].allSatisfy { $0.status == 0 && $0.stderr == "" })
    }
  }

  @Test func explainPrintsWhyAndWhen() throws {
    try withDemo { demo in
      let result = try fleetwave(["plan", demo, "--at", Self.at, "--explain", "prod-ap-1"])
      #expect(result.status == 0)
      #expect(
        result.stdout == """
          cluster prod-ap-1 (region=ap)
          wave 2 'early': count 2
            matched by wave 'prod' too; stays in the earlier wave 'early'
          position 1 of 2 in the wave, ordered by name, then dealt round-robin across region values
          the wave may begin at 2026-03-27T08:25:00Z, when wave 'staging' is expected to finish \
          and bake 5m
          windows: ap-night (Mon-Fri 22:00-04:00 Asia/Tokyo)
          earliest start: 2026-03-27T13:00:00Z (its next window opens then)
          estimated start: 2026-03-27T13:00:00Z, finish 2026-03-27T13:05:00Z (expected duration 5m)

          """)
    }
  }

  @Test func unknownClusterToExplainFailsWithASuggestion() throws {
    try withDemo { demo in
      let result = try fleetwave(["plan", demo, "--explain", "prod-ap-2"])
      #expect(result.status == 1)
      #expect(result.stdout == "")
      #expect(
        result.stderr
          == "error: no cluster named 'prod-ap-2' in fleet 'demo'; did you mean 'prod-ap-1'?\n")
    }
  }

  @Test func shortHorizonReportsTheClusterWhoseWindowIsTooFarAway() throws {
    try withDemo { demo in
      // Friday 08:00Z plus 4h: the Tokyo window opens at 13:00Z, after the horizon.
      let result = try fleetwave(["plan", demo, "--at", Self.at, "--horizon", "4h", "-o", "json"])
      #expect(result.status == 0)
      let plan = try JSONReader.parse(result.stdout)
      #expect(plan["horizon"] == "4h")
      #expect(plan["unschedulable"] == ["prod-ap-1"])
      #expect(
        plan["notes"]?.sequence?.contains {
          $0["message"]?.string
            == "cannot start before the horizon 2026-03-27T12:00:00Z; left out of the timeline"
            + " (the rollout would wait for them)"
        } == true)
    }
  }

  @Test func badTimeOrHorizonIsAUsageError() throws {
    try withDemo { demo in
      let at = try fleetwave(["plan", demo, "--at", "next friday"])
      #expect(at.status == 2)
      #expect(
        at.stderr.hasPrefix(
          "Error: invalid --at 'next friday': expected an ISO 8601 time such as"
            + " 2026-03-27T08:00:00Z\n"))
      let horizon = try fleetwave(["plan", demo, "--horizon", "soon"])
      #expect(horizon.status == 2)
      #expect(
        horizon.stderr.hasPrefix(
          "Error: invalid --horizon 'soon': expected a duration such as 28d\n"))
      let format = try fleetwave(["plan", demo, "-o", "pdf"])
      #expect(format.status == 2)
    }
  }

  @Test func invalidFleetPrintsLocatedErrorsAndExitsOne() throws {
    let work = try TemporaryDirectory("plan-command")
    defer { work.remove() }
    try work.write(
      "demo/fleet.yaml",
      Self.demoYAML.replacingOccurrences(of: "maxParallel: 2", with: "maxParallel: two"))
    let result = try fleetwave(["plan", work.file("demo")])
    #expect(result.status == 1)
    #expect(result.stdout == "")
    #expect(
      result.stderr.hasPrefix(
        work.file("demo/fleet.yaml")
          + ":21:16: error: 'maxParallel' in rollout must be an integer, found a string\n"))
  }

  @Test func theRepositoryDemoFleetPlans() throws {
    let result = try fleetwave(
      ["plan", "fleets/demo", "--at", Self.at, "-o", "json"], currentDirectory: Self.root)
    #expect(result.status == 0)
    #expect(result.stderr == "")
    let plan = try JSONReader.parse(result.stdout)
    #expect(plan["fleet"] == "demo")
    #expect(plan["waves"]?.sequence?.first?["name"] == "canary")
  }
}
