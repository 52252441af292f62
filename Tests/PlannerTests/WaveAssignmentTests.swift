// Which wave each cluster lands in, and the order inside a wave, for hand-made fleets.
import FleetCore
import Foundation
import Planner
import Testing

@Suite struct WaveAssignmentTests {
  let start = utc("2026-03-27T08:00:00Z")

  func fleet(_ clusters: [Cluster], _ policy: RolloutPolicy) -> Fleet {
    Fleet(
      name: "t", directory: "t", release: Release(name: "r"), clusters: clusters, rollout: policy)
  }

  func numbered(_ count: Int, labels: (Int) -> [String: String] = { _ in [:] }) -> [Cluster] {
    (1...count).map { Cluster(name: "c" + ($0 < 10 ? "0" : "") + String($0), labels: labels($0)) }
  }

  @Test func automaticWavesGrowGeometricallyUpToTheCap() {
    let plan = Planner().plan(
      fleet(
        numbered(20),
        RolloutPolicy(
          canary: CanarySpec(count: 1), growth: WaveGrowth(initial: 1, factor: 2, maxWaveSize: 5))),
      start: start)
    #expect(
      plan.waves.map(\.name) == [
        "canary", "wave-1", "wave-2", "wave-3", "wave-4", "wave-5", "wave-6",
      ])
    #expect(plan.waves.map(\.clusters.count) == [1, 1, 2, 4, 5, 5, 2])
    #expect(plan.waves[0].clusters == ["c01"])
    #expect(plan.waves[2].clusters == ["c03", "c04"])
    #expect(plan.waves[3].selection == "automatic: 4 (growth x2, at most 5)")
  }

  @Test func automaticGrowthWithFactorOneAndAFractionalFactor() {
    let one = Planner().plan(
      fleet(numbered(5), RolloutPolicy(growth: WaveGrowth(initial: 2, factor: 1))), start: start)
    #expect(one.waves.map(\.clusters.count) == [2, 2, 1])
    let fractional = Planner().plan(
      fleet(numbered(12), RolloutPolicy(growth: WaveGrowth(initial: 1, factor: 1.5))), start: start)
    // 1, ceil(1.5) = 2, 3, ceil(4.5) = 5, then the single one left.
    #expect(fractional.waves.map(\.clusters.count) == [1, 2, 3, 5, 1])
  }

  @Test func clusterMatchedByTwoSelectorWavesStaysInTheFirstAndThePlanSaysSo() {
    let clusters = [
      Cluster(name: "a", labels: ["env": "prod", "tier": "gold"]),
      Cluster(name: "b", labels: ["env": "prod"]),
      Cluster(name: "c", labels: ["env": "dev"]),
      Cluster(name: "d", labels: ["tier": "gold"]),
    ]
    let plan = Planner().plan(
      fleet(
        clusters,
        RolloutPolicy(waves: [
          WaveSpec(name: "gold", members: .selector(selector("tier=gold"))),
          WaveSpec(name: "prod", members: .selector(selector("env=prod"))),
          WaveSpec(name: "empty", members: .selector(selector("env=qa"))),
        ])),
      start: start)
    // The unmatched cluster keeps the last wave from being empty.
    #expect(plan.waves.map(\.name) == ["gold", "prod", "empty"])
    #expect(plan.waves.map(\.clusters) == [["a", "d"], ["b"], ["c"]])
    #expect(plan.unassigned == ["c"])
    #expect(
      plan.notes == [
        PlanNote("matched by wave 'prod' too; stays in the earlier wave 'gold'", clusters: ["a"]),
        PlanNote("matched by no wave; added to the last wave 'empty'", clusters: ["c"]),
      ])
  }

  @Test func emptyWavesAreLeftOutWithANote() {
    let plan = Planner().plan(
      fleet(
        [Cluster(name: "a", labels: ["env": "prod"])],
        RolloutPolicy(
          canary: CanarySpec(selector: selector("canary=true")),
          waves: [
            WaveSpec(name: "qa", members: .selector(selector("env=qa"))),
            WaveSpec(name: "prod", members: .selector(selector("env=prod"))),
          ])),
      start: start)
    #expect(plan.waves.map(\.name) == ["prod"])
    #expect(plan.waves.map(\.index) == [0])
    #expect(
      plan.notes.map(\.message) == [
        "wave 'canary' selects no clusters and is left out of the plan",
        "wave 'qa' selects no clusters and is left out of the plan",
      ])
  }

  @Test func unmatchedClustersGoToTheLastWaveEvenWhenItIsASelectorWave() {
    let clusters = [
      Cluster(name: "a", labels: ["env": "prod"]), Cluster(name: "z", labels: ["env": "lab"]),
    ]
    let plan = Planner().plan(
      fleet(
        clusters,
        RolloutPolicy(waves: [WaveSpec(name: "prod", members: .selector(selector("env=prod")))])),
      start: start)
    #expect(plan.waves.map(\.clusters) == [["a", "z"]])
    #expect(plan.unassigned == ["z"])
    #expect(
      plan.notes == [PlanNote("matched by no wave; added to the last wave 'prod'", clusters: ["z"])]
    )
  }

  @Test func priorityLabelOrdersNumbersThenTextThenMissing() {
    let clusters = [
      Cluster(name: "a", labels: ["prio": "10"]), Cluster(name: "b", labels: ["prio": "2"]),
      Cluster(name: "c"), Cluster(name: "d", labels: ["prio": "high"]),
      Cluster(name: "e", labels: ["prio": "2"]),
    ]
    let plan = Planner().plan(
      fleet(
        clusters,
        RolloutPolicy(waves: [WaveSpec(name: "all", members: .rest)], priorityLabel: "prio")),
      start: start)
    #expect(plan.waves[0].clusters == ["b", "e", "a", "d", "c"])
  }

  @Test func spreadDealsClustersRoundRobinAcrossDomainsAndLimitsPerDomain() throws {
    let regions = ["eu", "eu", "eu", "us", "us", "ap"]
    let clusters = numbered(6) { ["region": regions[$0 - 1]] }
    let plan = Planner().plan(
      fleet(
        clusters,
        RolloutPolicy(
          waves: [WaveSpec(name: "all", members: .rest)], maxParallel: 3, spreadBy: "region",
          maxPerDomain: 1, expectedDuration: .seconds(600))),
      start: start)
    let wave = try #require(plan.waves.first)
    #expect(wave.clusters == ["c01", "c04", "c06", "c02", "c05", "c03"])
    #expect(wave.domainCounts == ["eu": 3, "us": 2, "ap": 1])
    #expect(
      wave.schedule.map { Plan.timestamp($0.estimatedStart ?? .distantPast) } == [
        "2026-03-27T08:00:00Z", "2026-03-27T08:00:00Z", "2026-03-27T08:00:00Z",
        "2026-03-27T08:10:00Z", "2026-03-27T08:10:00Z", "2026-03-27T08:20:00Z",
      ])
    #expect(plan.estimatedFinish.map(Plan.timestamp) == "2026-03-27T08:30:00Z")
  }

  @Test func percentAndCountWavesSampleEveryDomainWithASpreadLabel() {
    // c01-c04 in eu, c05-c08 in us, c09-c12 in ap: by name alone, 25% would be all eu.
    let clusters = numbered(12) { ["region": ["eu", "us", "ap"][($0 - 1) / 4]] }
    let waves = [
      WaveSpec(name: "quarter", members: .percent(25)), WaveSpec(name: "two", members: .count(2)),
      WaveSpec(name: "rest", members: .rest),
    ]
    let spread = Planner().plan(
      fleet(clusters, RolloutPolicy(waves: waves, spreadBy: "region")), start: start)
    #expect(
      spread.waves.map(\.clusters) == [
        ["c01", "c05", "c09"], ["c02", "c06"],
        ["c03", "c07", "c10", "c04", "c08", "c11", "c12"],
      ])
    let byName = Planner().plan(fleet(clusters, RolloutPolicy(waves: waves)), start: start)
    #expect(byName.waves.map(\.clusters.count) == [3, 2, 7])
    #expect(byName.waves[0].clusters == ["c01", "c02", "c03"])
  }

  @Test func oneDomainPerWaveSplitsTheCanariesByDomain() {
    let clusters = [
      Cluster(name: "a", labels: ["region": "us", "canary": "true"]),
      Cluster(name: "b", labels: ["region": "eu", "canary": "true"]),
      Cluster(name: "c", labels: ["region": "us", "canary": "true"]),
      Cluster(name: "d", labels: ["region": "eu"]),
    ]
    let plan = Planner().plan(
      fleet(
        clusters,
        RolloutPolicy(
          canary: CanarySpec(
            selector: selector("canary=true"), bake: .seconds(60), oneDomainPerWave: true),
          spreadBy: "region")),
      start: start)
    #expect(plan.waves.map(\.name) == ["canary-1", "canary-2", "wave-1"])
    #expect(plan.waves.map(\.clusters) == [["a", "c"], ["b"], ["d"]])
    #expect(plan.waves.map(\.isCanary) == [true, true, false])
    #expect(plan.waves[1].selection == "canary selector canary=true, region=eu")
    #expect(plan.waves.map(\.bake) == [.seconds(60), .seconds(60), .zero])
  }

  @Test func waveLimitsComeFromTheWaveThenTheCanaryThenThePolicy() {
    let plan = Planner().plan(
      fleet(
        numbered(10),
        RolloutPolicy(
          canary: CanarySpec(count: 1, maxFailures: .count(0), bake: .seconds(600), approval: true),
          waves: [
            WaveSpec(
              name: "ten", members: .percent(25), maxParallel: 2, bake: .seconds(60),
              maxFailures: .percent(50)),
            WaveSpec(name: "rest", members: .rest),
          ],
          maxParallel: 4, bake: .seconds(300),
          failurePolicy: FailurePolicy(
            maxFailuresPerWave: .percent(10), maxFailuresTotal: .percent(25)))),
      start: start)
    #expect(plan.waves.map(\.clusters.count) == [1, 3, 6])
    #expect(plan.waves.map(\.maxParallel) == [4, 2, 4])
    #expect(plan.waves.map(\.bake) == [.seconds(600), .seconds(60), .seconds(300)])
    #expect(plan.waves.map(\.failureLimit) == [.count(0), .percent(50), .percent(10)])
    // Budgets round down: 50% of 3 is 1, 10% of 6 is 0; 25% of the fleet of 10 is 2.
    #expect(plan.waves.map(\.allowedFailures) == [0, 1, 0])
    #expect(plan.allowedFailuresTotal == 2)
    #expect(plan.waves.map(\.approval) == [true, false, false])
    #expect(plan.waves[1].selection == "25% of 10 = 3 (rounded up)")
  }
}
