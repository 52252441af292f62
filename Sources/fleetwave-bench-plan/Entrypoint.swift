// Benchmark: plan a synthetic 100,000-cluster fleet with spread, windows and a freeze, and
// render it as JSON. Run with `swift run -c release fleetwave-bench-plan [CLUSTERS] [RUNS]`.
import FleetCore
import Foundation
import Planner
import Report

@main struct Entrypoint {
  static func main() throws {
    let arguments = CommandLine.arguments
    let count = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
    let runs = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
    let fleet = try syntheticFleet(clusters: count)
    let start = Date(timeIntervalSince1970: 1_774_598_400)  // 2026-03-27T08:00:00Z
    let clock = ContinuousClock()
    var planTimes: [Duration] = []
    var jsonTimes: [Duration] = []
    var plan: Plan?
    for _ in 0..<runs {
      var made: Plan?
      planTimes.append(clock.measure { made = Planner().plan(fleet, start: start) })
      guard let made else { continue }
      var bytes = 0
      jsonTimes.append(clock.measure { bytes = PlanJSON.render(made).utf8.count })
      plan = made
      print("run: plan \(format(planTimes.last)), json \(format(jsonTimes.last)) (\(bytes) bytes)")
    }
    guard let plan else { return }
    print("clusters: \(plan.clusterCount), waves: \(plan.waves.count)")
    print("unschedulable: \(plan.unschedulable.count)")
    print("wave sizes: \(plan.waves.map(\.clusters.count))")
    print("estimated finish: \(plan.estimatedFinish.map(Plan.timestamp) ?? "-")")
    print("plan: min \(format(planTimes.min())), median \(format(median(planTimes)))")
    print("json: min \(format(jsonTimes.min())), median \(format(median(jsonTimes)))")
  }

  static func median(_ times: [Duration]) -> Duration? {
    let sorted = times.sorted()
    return sorted.isEmpty ? nil : sorted[sorted.count / 2]
  }

  static func format(_ duration: Duration?) -> String {
    guard let duration else { return "-" }
    return String(format: "%.3f s", DurationText.seconds(duration))
  }

  /// 20 regions, three environments, a priority label on half the clusters, a third of them in
  /// one or two of four maintenance windows across time zones, a canary per region.
  static func syntheticFleet(clusters count: Int) throws -> Fleet {
    let regions = (1...20).map { "region-" + String($0) }
    let windowNames = ["night-berlin", "night-ny", "weekend-tokyo", "business-kolkata"]
    var clusters: [Cluster] = []
    clusters.reserveCapacity(count)
    for n in 0..<count {
      var labels = [
        "region": regions[n % regions.count],
        "env": n % 10 == 0 ? "staging" : (n % 10 == 1 ? "dev" : "prod"),
      ]
      if n % 2 == 0 { labels["priority"] = String(n % 5) }
      if n < regions.count { labels["canary"] = "true" }
      var windows: [String] = []
      if n % 3 == 0 { windows.append(windowNames[n % 4]) }
      if n % 9 == 0 { windows.append(windowNames[(n / 9) % 4]) }
      clusters.append(
        Cluster(
          name: "cluster-" + String(n), labels: labels, windows: windows,
          expectedDuration: n % 7 == 0 ? .seconds(420) : nil))
    }
    let policy = RolloutPolicy(
      canary: CanarySpec(selector: try LabelSelector.parse("canary=true"), bake: .seconds(1800)),
      waves: [
        WaveSpec(name: "staging", members: .selector(try LabelSelector.parse("env=staging"))),
        WaveSpec(name: "one-percent", members: .percent(1)),
        WaveSpec(name: "ten-percent", members: .percent(10), maxParallel: 500),
        WaveSpec(name: "rest", members: .rest, maxParallel: 1000, maxPerDomain: 60),
      ],
      maxParallel: 200, spreadBy: "region", maxPerDomain: 20, priorityLabel: "priority",
      bake: .seconds(900), failurePolicy: FailurePolicy(maxFailuresPerWave: .percent(2)),
      expectedDuration: .seconds(300))
    func window(_ name: String, _ days: Set<Weekday>, _ from: Int, _ to: Int, _ zone: String)
      -> MaintenanceWindow
    {
      MaintenanceWindow(
        name: name, days: days, from: TimeOfDay(hour: from, minute: 0),
        to: TimeOfDay(hour: to, minute: 0), timeZone: zone)
    }
    let all = Set(Weekday.allCases)
    return Fleet(
      name: "bench", directory: "fleets/bench", release: Release(name: "app", version: "1.0.0"),
      clusters: clusters, rollout: policy,
      windows: [
        "night-berlin": window("night-berlin", all, 22, 6, "Europe/Berlin"),
        "night-ny": window("night-ny", all, 23, 5, "America/New_York"),
        "weekend-tokyo": window("weekend-tokyo", [.saturday, .sunday], 0, 0, "Asia/Tokyo"),
        "business-kolkata": window(
          "business-kolkata", [.monday, .tuesday, .wednesday, .thursday, .friday], 9, 17,
          "Asia/Kolkata"),
      ],
      freezes: [
        FreezePeriod(
          from: Date(timeIntervalSince1970: 1_774_900_800),
          to: Date(timeIntervalSince1970: 1_774_944_000),
          reason: "synthetic freeze")
      ])
  }
}
