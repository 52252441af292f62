// Exact table, JSON, Markdown and Mermaid output for the demo fleet; HTML structure; --explain.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Planner
import Testing

@testable import Report

@Suite struct RenderTests {
  let plan = Planner().plan(demoFleet(), start: utc("2026-03-27T08:00:00Z"))

  @Test func table() {
    #expect(
      PlanTable.render(plan) == """
        Plan for fleet demo, release checkout 1.4.2
        9 clusters in 4 waves, start 2026-03-27T08:00:00Z, estimated finish 2026-03-27T13:25:00Z
        spread by region; failures allowed over the run: 2
        freeze: deploy freeze, 2026-03-27T08:20:00Z to 2026-03-27T08:40:00Z

        WAVE  NAME     CLUSTERS  PARALLEL  PER-DOMAIN  BAKE  BUDGET   EARLIEST START        EST. FINISH           GATE     DOMAINS
           0  canary*         1         2           1  10m   0        2026-03-27T08:00:00Z  2026-03-27T08:05:00Z  -        eu:1
           1  staging         2         2           1  5m    0        2026-03-27T08:15:00Z  2026-03-27T08:20:00Z  -        eu:1 us:1
           2  early           2         2           1  5m    0        2026-03-27T08:40:00Z  2026-03-27T13:05:00Z  -        ap:1 eu:1
           3  prod            4         2           1  5m    2 (50%)  2026-03-27T13:10:00Z  2026-03-27T13:20:00Z  approve  -:1 eu:1 us:2
        * canary wave

        Clusters in plan order:
          0 canary: prod-eu-1
          1 staging: stg-eu-1, stg-us-1
          2 early: prod-ap-1, prod-eu-2
          3 prod: prod-eu-3, prod-us-1, zz-lab-1, prod-us-2

        Notes:
          - matched by wave 'prod' too; stays in the earlier wave 'early': prod-ap-1, prod-eu-2
          - matched by no wave; added to the last wave 'prod': zz-lab-1
          - the timeline assumes each approval is given as soon as its wave may start

        """)
  }

  /// The documented example is this plan, byte for byte, so the docs cannot drift.
  @Test func jsonMatchesTheDocumentedExample() throws {
    let path = BuiltProducts.packageRoot.appendingPathComponent("docs/examples/demo-plan.json").path
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    // `fleetwave plan` adds the fleet's failure policy, gates and windows (PlanChecks).
    let fleet = demoFleet()
    let checks = PlanChecks(fleet.rollout, windows: fleet.windows)
    #expect(PlanJSON.render(plan, checks: checks) == expected)
  }

  @Test func jsonStableFieldsAndTimes() throws {
    let root = try JSONReader.parse(PlanJSON.render(plan))
    #expect(
      root.mapping?.keys == [
        "fleet", "release", "version", "start", "horizon", "spreadBy", "clusterCount",
        "allowedFailuresTotal", "estimatedFinish", "waves", "unassigned", "unschedulable",
        "freezes",
        "notes",
      ])
    let waves = try #require(root["waves"]?.sequence)
    #expect(waves.map { $0["name"]?.string } == ["canary", "staging", "early", "prod"])
    #expect(waves.map { $0["index"]?.int } == [0, 1, 2, 3])
    #expect(waves.map { $0["bake"]?.string } == ["10m", "5m", "5m", "5m"])
    #expect(
      waves.map { $0["earliestStart"]?.string } == [
        "2026-03-27T08:00:00Z", "2026-03-27T08:15:00Z", "2026-03-27T08:40:00Z",
        "2026-03-27T13:10:00Z",
      ])
    #expect(waves[3]["clusters"] == ["prod-eu-3", "prod-us-1", "zz-lab-1", "prod-us-2"])
    #expect(root["unassigned"] == ["zz-lab-1"])
    #expect(
      root["freezes"] == [
        ["from": "2026-03-27T08:20:00Z", "to": "2026-03-27T08:40:00Z", "reason": "deploy freeze"]
      ])
    let schedule = try #require(waves[3]["schedule"]?.sequence)
    #expect(
      schedule[2] == [
        "cluster": "zz-lab-1", "domain": "-", "earliestStart": "2026-03-27T13:10:00Z",
        "estimatedStart": "2026-03-27T13:15:00Z", "estimatedFinish": "2026-03-27T13:17:00Z",
        "expectedDuration": "2m",
      ])
  }

  @Test func markdown() {
    #expect(
      PlanMarkdown.render(plan) == """
        ### Rollout plan for fleet demo, release checkout 1.4.2

        9 clusters in 4 waves, start 2026-03-27T08:00:00Z, estimated finish 2026-03-27T13:25:00Z, \
        spread by `region`, at most 2 failures over the run.

        Freeze: deploy freeze, 2026-03-27T08:20:00Z to 2026-03-27T08:40:00Z.

        | # | Wave | Clusters | Domains | Max parallel | Per domain | Bake | Failure budget \
        | Earliest start | Est. finish | Gate |
        |--:|---|--:|---|--:|--:|---|---|---|---|---|
        | 0 | canary | 1 | eu:1 | 2 | 1 | 10m | 0 | 2026-03-27T08:00:00Z | 2026-03-27T08:05:00Z | - |
        | 1 | staging | 2 | eu:1, us:1 | 2 | 1 | 5m | 0 | 2026-03-27T08:15:00Z | 2026-03-27T08:20:00Z | - |
        | 2 | early | 2 | ap:1, eu:1 | 2 | 1 | 5m | 0 | 2026-03-27T08:40:00Z | 2026-03-27T13:05:00Z | - |
        | 3 | prod | 4 | -:1, eu:1, us:2 | 2 | 1 | 5m | 2 (50%) | 2026-03-27T13:10:00Z \
        | 2026-03-27T13:20:00Z | approval |

        <details><summary>Clusters per wave, in plan order</summary>

        - **0 canary** (canary selector canary=true): `prod-eu-1`
        - **1 staging** (selector env=staging): `stg-eu-1`, `stg-us-1`
        - **2 early** (count 2): `prod-ap-1`, `prod-eu-2`
        - **3 prod** (selector env=prod): `prod-eu-3`, `prod-us-1`, `zz-lab-1`, `prod-us-2`

        </details>

        **Notes**

        - matched by wave 'prod' too; stays in the earlier wave 'early': `prod-ap-1`, `prod-eu-2`
        - matched by no wave; added to the last wave 'prod': `zz-lab-1`
        - the timeline assumes each approval is given as soon as its wave may start

        """)
  }

  @Test func markdownCellsEscapePipesAndTags() {
    #expect(PlanMarkdown.cell("a|b <script> & c\nd") == "a\\|b &lt;script&gt; &amp; c d")
  }

  @Test func mermaid() {
    #expect(
      PlanMermaid.render(plan) == """
        gantt
          title fleet demo, release checkout 1.4.2 (times in UTC)
          dateFormat YYYY-MM-DD HH:mm:ss
          axisFormat %m-%d %H:%M
          section 0 canary
            prod-eu-1 :w0c0, 2026-03-27 08:00:00, 300s
            bake 10m :done, w0bake, 2026-03-27 08:05:00, 600s
          section 1 staging
            stg-eu-1 :w1c0, 2026-03-27 08:15:00, 300s
            stg-us-1 :w1c1, 2026-03-27 08:15:00, 300s
            bake 5m :done, w1bake, 2026-03-27 08:20:00, 300s
          section 2 early
            prod-ap-1 :w2c0, 2026-03-27 13:00:00, 300s
            prod-eu-2 :w2c1, 2026-03-27 08:40:00, 300s
            bake 5m :done, w2bake, 2026-03-27 13:05:00, 300s
          section 3 prod
            prod-eu-3 :w3c0, 2026-03-27 13:10:00, 300s
            prod-us-1 :w3c1, 2026-03-27 13:10:00, 300s
            zz-lab-1 :w3c2, 2026-03-27 13:15:00, 120s
            prod-us-2 :w3c3, 2026-03-27 13:15:00, 300s
            bake 5m :done, w3bake, 2026-03-27 13:20:00, 300s

        """)
  }

  @Test func htmlIsSelfContainedWithOneBarPerClusterWaveAndBake() {
    let html = PlanHTML.render(plan)
    #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">\n"))
    #expect(html.hasSuffix("</body>\n</html>\n"))
    // No scripts, stylesheets or images from elsewhere; the only URL is the SVG namespace.
    #expect(!html.contains("<script"))
    #expect(!html.contains("<link"))
    #expect(!html.contains("src="))
    #expect(html.components(separatedBy: "http").count == 2)
    #expect(html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    // 9 clusters, 4 waves, 4 bakes, 1 freeze.
    #expect(html.components(separatedBy: "<rect ").count - 1 == 18)
    #expect(
      html.contains(
        "<title>freeze: deploy freeze, 2026-03-27T08:20:00Z to 2026-03-27T08:40:00Z</title>"))
    #expect(
      html.contains("<title>prod-ap-1 (ap): 2026-03-27T13:00:00Z to 2026-03-27T13:05:00Z</title>"))
    #expect(html.contains("<td>2026-03-27 13:10</td><td>2026-03-27 13:20</td>"))
  }

  @Test func htmlEscapesNames() {
    var fleet = demoFleet()
    fleet.name = "<b>&\"x\""
    let html = PlanHTML.render(Planner().plan(fleet, start: utc("2026-03-27T08:00:00Z")))
    #expect(
      html.contains(
        "<h1>Rollout plan for fleet &lt;b&gt;&amp;&quot;x&quot;, release checkout 1.4.2</h1>"))
    #expect(!html.contains("<b>&"))
  }

  @Test func explainAClusterDelayedByItsWindow() {
    #expect(
      Planner().explain("prod-ap-1", in: plan, fleet: demoFleet()) == [
        "cluster prod-ap-1 (region=ap)",
        "wave 2 'early': count 2",
        "  matched by wave 'prod' too; stays in the earlier wave 'early'",
        "position 1 of 2 in the wave, ordered by name, then dealt round-robin across region values",
        "the wave may begin at 2026-03-27T08:25:00Z, when wave 'staging' is expected to finish and bake 5m",
        "windows: ap-night (Mon-Fri 22:00-04:00 Asia/Tokyo)",
        "earliest start: 2026-03-27T13:00:00Z (its next window opens then)",
        "estimated start: 2026-03-27T13:00:00Z, finish 2026-03-27T13:05:00Z (expected duration 5m)",
      ])
  }

  @Test func explainAClusterDelayedByAFreezeAndOneWaitingForASlot() {
    let fleet = demoFleet()
    let freeze = Planner().explain("prod-eu-2", in: plan, fleet: fleet) ?? []
    #expect(
      freeze.suffix(3) == [
        "windows: none, it may start at any time outside freezes",
        "earliest start: 2026-03-27T08:40:00Z (freeze 'deploy freeze' ends then)",
        "estimated start: 2026-03-27T08:40:00Z, finish 2026-03-27T08:45:00Z (expected duration 5m)",
      ])
    let waiting = Planner().explain("prod-us-2", in: plan, fleet: fleet) ?? []
    #expect(
      waiting == [
        "cluster prod-us-2 (region=us)",
        "wave 3 'prod': selector env=prod",
        "position 4 of 4 in the wave, ordered by name, then dealt round-robin across region values",
        "the wave may begin at 2026-03-27T13:10:00Z, when wave 'early' is expected to finish and bake 5m",
        "the wave waits for `fleetwave approve` before it starts",
        "windows: none, it may start at any time outside freezes",
        "earliest start: 2026-03-27T13:10:00Z",
        "estimated start: 2026-03-27T13:15:00Z, finish 2026-03-27T13:20:00Z (expected duration 5m; "
          + "waits for a free slot under maxParallel 2, maxPerDomain 1)",
      ])
    #expect(Planner().explain("nope", in: plan, fleet: fleet) == nil)
  }
}

@Suite struct EmptyPlanRenderTests {
  @Test func aFleetWithoutClustersRendersEverywhere() {
    let fleet = Fleet(
      name: "empty", directory: "e", release: Release(name: "r"), clusters: [],
      rollout: RolloutPolicy(canary: CanarySpec(count: 1)))
    let plan = Planner().plan(fleet, start: utc("2026-03-27T08:00:00Z"))
    #expect(plan.waves.isEmpty)
    #expect(
      plan.notes == [PlanNote("wave 'canary' selects no clusters and is left out of the plan")])
    #expect(
      PlanTable.render(plan).hasPrefix("Plan for fleet empty, release r\n0 clusters in 0 waves, "))
    #expect(PlanHTML.render(plan).contains("<p>The plan has no waves.</p>"))
    #expect(PlanMermaid.render(plan).hasSuffix("axisFormat %m-%d %H:%M\n"))
    #expect(PlanJSON.render(plan).contains("\"waves\": [],\n"))
  }
}
