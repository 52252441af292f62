// Properties every plan must have, checked over seeded random fleets and policies.
import FleetCore
import Foundation
import Report
import Testing

@testable import Planner

@Suite struct PlanPropertyTests {
  static let seeds: [UInt64] = Array(1...300)
  let start = utc("2026-03-27T06:00:00Z")

  @Test(arguments: seeds) func everyClusterIsInExactlyOneWave(seed: UInt64) {
    let fleet = randomFleet(seed: seed)
    let plan = Planner().plan(fleet, start: start)
    #expect(plan.waves.flatMap(\.clusters).sorted() == fleet.clusters.map(\.name).sorted())
    #expect(plan.waves.allSatisfy { !$0.clusters.isEmpty })
    #expect(plan.waves.map(\.index) == Array(plan.waves.indices))
    for wave in plan.waves {
      #expect(wave.schedule.map(\.name) == wave.clusters)
      #expect(wave.domainCounts.values.reduce(0, +) == wave.clusters.count)
    }
    // Unassigned clusters are listed and run in the last wave.
    let last = Set(plan.waves.last?.clusters ?? [])
    #expect(plan.unassigned.allSatisfy(last.contains))
    if !plan.unassigned.isEmpty {
      #expect(
        plan.notes.contains {
          $0.clusters == plan.unassigned && $0.message.hasPrefix("matched by no wave")
        })
    }
  }

  /// Count waves take at most their count, automatic waves at most maxWaveSize, and every
  /// automatic wave but the last is at least as large as the one before.
  @Test(arguments: seeds) func waveSizesStayWithinTheirSpec(seed: UInt64) {
    let fleet = randomFleet(seed: seed)
    let plan = Planner().plan(fleet, start: start)
    let lastName = fleet.rollout.waves.last?.name
    for spec in fleet.rollout.waves where spec.name != lastName {
      guard case .count(let count) = spec.members,
        let wave = plan.waves.first(where: { $0.name == spec.name })
      else { continue }
      #expect(wave.clusters.count <= count)
    }
    if fleet.rollout.waves.isEmpty {
      let sizes = plan.waves.filter { !$0.isCanary }.map(\.clusters.count)
      if let cap = fleet.rollout.growth.maxWaveSize { #expect(sizes.allSatisfy { $0 <= cap }) }
      #expect(zip(sizes, sizes.dropFirst()).dropLast().allSatisfy { $0 <= $1 })
      #expect(sizes.first.map { $0 <= fleet.rollout.growth.initial } ?? true)
    }
  }

  @Test(arguments: seeds) func canariesComeFirstAndMatchTheirSpec(seed: UInt64) {
    let fleet = randomFleet(seed: seed)
    let plan = Planner().plan(fleet, start: start)
    let canaryCount = plan.waves.prefix { $0.isCanary }.count
    #expect(plan.waves.dropFirst(canaryCount).allSatisfy { !$0.isCanary })
    let canaries = plan.waves.prefix(canaryCount).flatMap(\.clusters)
    guard let spec = fleet.rollout.canary else {
      #expect(canaryCount == 0)
      return
    }
    let labels = Dictionary(uniqueKeysWithValues: fleet.clusters.map { ($0.name, $0.labels) })
    if let selector = spec.selector {
      #expect(canaries.allSatisfy { selector.matches(labels[$0] ?? [:]) })
      if spec.count == nil {
        #expect(canaries.count == fleet.clusters.count { selector.matches($0.labels) })
      }
    }
    if let count = spec.count {
      let available =
        spec.selector.map { s in fleet.clusters.count { s.matches($0.labels) } }
        ?? fleet.clusters.count
      #expect(canaries.count == min(count, available))
    }
    if spec.oneDomainPerWave, let label = fleet.rollout.spreadBy {
      for wave in plan.waves.prefix(canaryCount) {
        #expect(
          Set(wave.schedule.map(\.domain)).count == 1, "canary wave \(wave.name) spans domains")
      }
      _ = label
    }
  }

  /// No instant has more clusters running than the wave allows, in total or per domain; no
  /// cluster starts before its wave may, outside its windows or inside a freeze.
  @Test(arguments: seeds) func timelineRespectsLimitsWindowsAndFreezes(seed: UInt64) throws {
    let fleet = randomFleet(seed: seed)
    let plan = Planner().plan(fleet, start: start)
    let clusters = Dictionary(uniqueKeysWithValues: fleet.clusters.map { ($0.name, $0) })
    let horizonEnd = Instant(start) + DurationText.milliseconds(plan.horizon)
    var ready = start
    for wave in plan.waves {
      let scheduled = wave.schedule.filter { $0.estimatedStart != nil }
      for slot in scheduled {
        let begin = try #require(slot.estimatedStart)
        let end = try #require(slot.estimatedFinish)
        #expect(begin >= ready)
        #expect(end.timeIntervalSince(begin) == DurationText.seconds(slot.expectedDuration))
        #expect(slot.earliestStart.map { $0 <= begin } ?? false)
        let running = scheduled.filter { other in
          guard let s = other.estimatedStart, let f = other.estimatedFinish else { return false }
          return s <= begin && begin < f
        }
        #expect(running.count <= wave.maxParallel, "wave \(wave.name) over maxParallel")
        if let perDomain = wave.maxPerDomain {
          #expect(running.count { $0.domain == slot.domain } <= perDomain, "over maxPerDomain")
        }
        for freeze in fleet.freezes {
          #expect(!(freeze.from <= begin && begin < freeze.to), "\(slot.name) starts in a freeze")
        }
        let cluster = try #require(clusters[slot.name])
        if !cluster.windows.isEmpty {
          let inWindow = cluster.windows.contains { name in
            guard let times = fleet.windows[name]?.openTimes(from: Instant(start), to: horizonEnd)
            else { return false }
            return times.next(atOrAfter: Instant(begin)) == Instant(begin)
          }
          #expect(inWindow, "\(slot.name) starts outside its windows at \(Plan.timestamp(begin))")
        }
      }
      if let finish = wave.estimatedFinish {
        ready = finish.addingTimeInterval(DurationText.seconds(wave.bake))
      }
    }
    #expect(
      plan.unschedulable.count == plan.waves.flatMap(\.schedule).count { $0.estimatedStart == nil })
  }

  @Test(arguments: seeds) func sameFleetInAnyOrderGivesTheSameBytes(seed: UInt64) {
    let fleet = randomFleet(seed: seed)
    var shuffled = fleet
    var rng = SeededGenerator(seed: seed ^ 0xFEED)
    shuffled.clusters.shuffle(using: &rng)
    let json = PlanJSON.render(Planner().plan(fleet, start: start))
    #expect(json == PlanJSON.render(Planner().plan(fleet, start: start)))
    #expect(json == PlanJSON.render(Planner().plan(shuffled, start: start)))
  }

  /// The streaming writer lays JSON out exactly as the reference `JSONWriter` does.
  @Test(arguments: seeds.prefix(100)) func jsonIsLaidOutAsJSONWriterDoes(seed: UInt64) throws {
    var fleet = randomFleet(seed: seed)
    fleet.name = "odd \"name\" <&> \\ \t\u{1} ü"
    let json = PlanJSON.render(Planner().plan(fleet, start: start))
    let reparsed = try JSONReader.parse(json)
    #expect(JSONWriter.string(reparsed, options: JSONWriter.Options(pretty: true)) + "\n" == json)
    #expect(reparsed["fleet"]?.string == fleet.name)
  }

  /// percent: N takes ceil(N% of the fleet), at least 1, unless fewer clusters are left.
  @Test(arguments: seeds) func percentagesRoundUpAsDocumented(seed: UInt64) {
    let fleet = randomFleet(seed: seed)
    let plan = Planner().plan(fleet, start: start)
    let fleetSize = fleet.clusters.count
    for (n, spec) in fleet.rollout.waves.enumerated() {
      guard case .percent(let percent) = spec.members else { continue }
      let whole = Int(percent)
      let expected = max(1, (whole * fleetSize + 99) / 100)
      var size = plan.waves.first { $0.name == spec.name }?.clusters.count ?? 0
      if n == fleet.rollout.waves.count - 1 { size -= plan.unassigned.count }
      // Fewer only when the fleet ran out: nothing is left for later waves.
      if size != expected {
        #expect(size < expected)
        #expect(plan.unassigned.isEmpty)
        let later = fleet.rollout.waves.dropFirst(n + 1).map(\.name)
        #expect(plan.waves.allSatisfy { !later.contains($0.name) || isSelector(fleet, $0.name) })
      }
    }
  }

  func isSelector(_ fleet: Fleet, _ name: String) -> Bool {
    guard let spec = fleet.rollout.waves.first(where: { $0.name == name }) else { return false }
    if case .selector = spec.members { return true }
    return false
  }

  @Test func percentWaveSizes() {
    #expect(percentWaveSize(10, fleetSize: 40) == 4)
    #expect(percentWaveSize(10, fleetSize: 41) == 5)
    #expect(percentWaveSize(7, fleetSize: 100) == 7)
    #expect(percentWaveSize(1, fleetSize: 5) == 1)
    #expect(percentWaveSize(0.5, fleetSize: 10) == 1)
    #expect(percentWaveSize(33.3, fleetSize: 1000) == 333)
    #expect(percentWaveSize(100, fleetSize: 3) == 3)
    #expect(percentWaveSize(29, fleetSize: 100) == 29)
    #expect(percentWaveSize(57, fleetSize: 100) == 57)
  }
}
