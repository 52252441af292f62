// Fleets built in code for the planner tests: a small demo fleet and a seeded random generator.
import FleetCore
import Foundation

/// Parses "2026-03-29T01:00:00Z"; tests only, so a bad literal is a test bug.
func utc(_ text: String) -> Date {
  let formatter = ISO8601DateFormatter()
  formatter.formatOptions = [.withInternetDateTime]
  guard let date = formatter.date(from: text) else { fatalError("bad test timestamp \(text)") }
  return date
}

func selector(_ text: String) -> LabelSelector {
  do { return try LabelSelector.parse(text) } catch { fatalError("bad test selector \(text)") }
}

func window(
  _ name: String, _ days: Set<Weekday>, _ from: (Int, Int), _ to: (Int, Int), _ zone: String
) -> MaintenanceWindow {
  MaintenanceWindow(
    name: name, days: days, from: TimeOfDay(hour: from.0, minute: from.1),
    to: TimeOfDay(hour: to.0, minute: to.1), timeZone: zone)
}

let everyDay = Set(Weekday.allCases)
let weekdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]

/// Nine clusters in three regions (one without a region), a canary, a staging wave, a count
/// wave that overlaps the prod selector, a window in Tokyo, a short freeze, an approval gate,
/// and a cluster no wave selects.
func demoFleet() -> Fleet {
  func cluster(
    _ name: String, _ labels: [String: String], windows: [String] = [], minutes: Int? = nil
  )
    -> Cluster
  {
    Cluster(
      name: name, labels: labels, windows: windows,
      expectedDuration: minutes.map { .seconds($0 * 60) })
  }
  let clusters = [
    cluster("prod-us-2", ["env": "prod", "region": "us"]),
    cluster("prod-eu-1", ["env": "prod", "region": "eu", "canary": "true"]),
    cluster("stg-eu-1", ["env": "staging", "region": "eu"]),
    cluster("prod-eu-2", ["env": "prod", "region": "eu"]),
    cluster("stg-us-1", ["env": "staging", "region": "us"]),
    cluster("prod-ap-1", ["env": "prod", "region": "ap"], windows: ["ap-night"]),
    cluster("prod-eu-3", ["env": "prod", "region": "eu"]),
    cluster("prod-us-1", ["env": "prod", "region": "us"]),
    cluster("zz-lab-1", ["env": "lab"], minutes: 2),
  ]
  let policy = RolloutPolicy(
    canary: CanarySpec(selector: selector("canary=true"), bake: .seconds(600)),
    waves: [
      WaveSpec(name: "staging", members: .selector(selector("env=staging"))),
      WaveSpec(name: "early", members: .count(2)),
      WaveSpec(
        name: "prod", members: .selector(selector("env=prod")), maxFailures: .percent(50),
        approval: true),
    ],
    maxParallel: 2, spreadBy: "region", maxPerDomain: 1, bake: .seconds(300),
    failurePolicy: FailurePolicy(maxFailuresPerWave: .count(0), maxFailuresTotal: .count(2)))
  return Fleet(
    name: "demo", directory: "fleets/demo",
    release: Release(name: "checkout", namespace: "shop", version: "1.4.2"),
    clusters: clusters, rollout: policy,
    windows: ["ap-night": window("ap-night", weekdays, (22, 0), (4, 0), "Asia/Tokyo")],
    freezes: [
      FreezePeriod(
        from: utc("2026-03-27T08:20:00Z"), to: utc("2026-03-27T08:40:00Z"), reason: "deploy freeze")
    ])
}

/// SplitMix64: a tiny seeded generator so every random fleet can be reproduced from its seed.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// A random fleet and policy: 1 to 60 clusters over a few regions and envs, some with windows in
/// different time zones, maybe a canary, zero to four waves of every kind, maybe a freeze.
func randomFleet(seed: UInt64) -> Fleet {
  var rng = SeededGenerator(seed: seed)
  let regions = ["eu", "us", "ap", "sa"]
  let envs = ["prod", "staging", "dev"]
  let windowNames = ["night-berlin", "weekend-ny", "late-tokyo"]
  let count = Int.random(in: 1...60, using: &rng)
  var clusters: [Cluster] = []
  for n in 0..<count {
    var labels = ["env": envs.randomElement(using: &rng) ?? "prod"]
    if Int.random(in: 0..<10, using: &rng) > 0 {
      labels["region"] = regions.randomElement(using: &rng)
    }
    if Int.random(in: 0..<4, using: &rng) == 0 { labels["canary"] = "true" }
    if Bool.random(using: &rng) { labels["prio"] = String(Int.random(in: 0...3, using: &rng)) }
    var windows: [String] = []
    if Int.random(in: 0..<3, using: &rng) == 0 {
      windows.append(windowNames.randomElement(using: &rng) ?? "night-berlin")
      if Bool.random(using: &rng) { windows.append(windowNames.randomElement(using: &rng) ?? "") }
    }
    let minutes =
      Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 1...20, using: &rng) : nil
    clusters.append(
      Cluster(
        name: "c" + String(n * 7919 % 1000), labels: labels, windows: windows,
        expectedDuration: minutes.map { .seconds($0 * 60) }))
  }
  // Names must be unique in a validated fleet.
  for n in clusters.indices { clusters[n].name += "-" + String(n) }

  var canary: CanarySpec?
  switch Int.random(in: 0..<4, using: &rng) {
  case 0: canary = CanarySpec(selector: selector("canary=true"))
  case 1: canary = CanarySpec(count: Int.random(in: 1...3, using: &rng))
  case 2:
    canary = CanarySpec(
      selector: selector("canary=true"), count: Int.random(in: 1...3, using: &rng),
      bake: .seconds(60 * Int.random(in: 0...30, using: &rng)),
      oneDomainPerWave: Bool.random(using: &rng))
  default: canary = nil
  }
  var waves: [WaveSpec] = []
  for n in 0..<Int.random(in: 0...4, using: &rng) {
    let members: WaveSpec.Members
    switch Int.random(in: 0..<4, using: &rng) {
    case 0: members = .selector(selector("env=" + (envs.randomElement(using: &rng) ?? "prod")))
    case 1: members = .percent(Double(Int.random(in: 1...60, using: &rng)))
    case 2: members = .count(Int.random(in: 1...10, using: &rng))
    default: members = .rest
    }
    waves.append(
      WaveSpec(
        name: "w" + String(n), members: members,
        maxParallel: Bool.random(using: &rng) ? Int.random(in: 1...5, using: &rng) : nil,
        maxPerDomain: Bool.random(using: &rng) ? Int.random(in: 1...3, using: &rng) : nil,
        bake: .seconds(60 * Int.random(in: 0...10, using: &rng)),
        approval: Int.random(in: 0..<5, using: &rng) == 0))
  }
  let policy = RolloutPolicy(
    canary: canary, waves: waves,
    growth: WaveGrowth(
      initial: Int.random(in: 1...3, using: &rng),
      factor: [1.5, 2, 3].randomElement(using: &rng) ?? 2,
      maxWaveSize: Bool.random(using: &rng) ? Int.random(in: 2...12, using: &rng) : nil),
    maxParallel: Int.random(in: 1...8, using: &rng),
    spreadBy: Int.random(in: 0..<3, using: &rng) == 0 ? nil : "region",
    maxPerDomain: Bool.random(using: &rng) ? Int.random(in: 1...3, using: &rng) : nil,
    priorityLabel: Bool.random(using: &rng) ? "prio" : nil,
    bake: .seconds(60 * Int.random(in: 0...15, using: &rng)),
    failurePolicy: FailurePolicy(
      maxFailuresPerWave: .percent(Double(Int.random(in: 0...50, using: &rng)))),
    expectedDuration: .seconds(60 * Int.random(in: 1...30, using: &rng)))
  var freezes: [FreezePeriod] = []
  if Bool.random(using: &rng) {
    let from = utc("2026-03-27T00:00:00Z").addingTimeInterval(
      Double(Int.random(in: 0...72, using: &rng)) * 3600)
    freezes.append(
      FreezePeriod(
        from: from, to: from.addingTimeInterval(Double(Int.random(in: 1...48, using: &rng)) * 3600),
        reason: "random freeze"))
  }
  return Fleet(
    name: "random-" + String(seed), directory: "fleets/random",
    release: Release(name: "app"), clusters: clusters, rollout: policy,
    windows: [
      "night-berlin": window("night-berlin", everyDay, (22, 0), (6, 0), "Europe/Berlin"),
      "weekend-ny": window(
        "weekend-ny", [.saturday, .sunday], (1, 30), (5, 0), "America/New_York"),
      "late-tokyo": window("late-tokyo", weekdays, (18, 0), (23, 30), "Asia/Tokyo"),
    ],
    freezes: freezes)
}
