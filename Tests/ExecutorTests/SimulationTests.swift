// `simulate` statistics: deterministic per seed, halts where failures are injected, and
// never sleeps (hours of virtual rollout finish at once).
import Drivers
import Executor
import FleetCore
import Foundation
import Planner
import Testing

@Suite struct SimulationTests {
  let shapes = [
    WaveShape(name: "canary", clusters: ["k1"], bake: .seconds(600), canary: true),
    WaveShape(name: "early", clusters: names("e", 4), bake: .seconds(300), allowed: 1),
    WaveShape(name: "rest", clusters: names("r", 10), allowed: 2),
  ]
  var fleet: [Cluster] { clusters(["k1"] + names("e", 4) + names("r", 10)) }

  @Test func aFailingCanaryHaltsEveryRunInTheCanaryWave() throws {
    let report = try Simulation.run(
      plan: plan(shapes), clusters: fleet,
      options: SimulationOptions(
        runs: 5, failing: ["k1"], defaultDuration: .seconds(60), maxParallel: 3))
    #expect(report.count(.halted) == 5)
    #expect(report.haltsByWave.map(\.wave) == ["canary"])
    #expect(report.runs.map(\.touched) == [1, 1, 1, 1, 1])
    #expect(report.runs.map(\.rolledBack) == [1, 1, 1, 1, 1])
  }

  @Test func runsWithoutFailuresTakeExactlyTheirBakesWhenUpgradesAreInstant() throws {
    // Instant upgrades leave only the bakes: 600 s after the canary, 300 s after "early".
    let report = try Simulation.run(
      plan: plan(shapes), clusters: fleet,
      options: SimulationOptions(
        runs: 3,
        expectedDurations: Dictionary(uniqueKeysWithValues: fleet.map { ($0.name, .zero) }),
        defaultDuration: .seconds(60), maxParallel: 3))
    #expect(report.count(.succeeded) == 3)
    #expect(report.runs.map(\.seconds) == [900.0, 900.0, 900.0])
  }

  @Test func theSameSeedGivesTheSameReportAndTheTextSaysWhatHappened() throws {
    let options = SimulationOptions(
      runs: 40, failureRate: 0.1, seed: 42, defaultDuration: .seconds(60), maxParallel: 3)
    let first = try Simulation.run(plan: plan(shapes), clusters: fleet, options: options)
    let second = try Simulation.run(plan: plan(shapes), clusters: fleet, options: options)
    #expect(first == second)
    #expect(first.runs.count == 40)
    #expect(first.count(.halted) + first.count(.succeeded) + first.count(.failed) == 40)
    #expect(first.count(.halted) > 0)
    #expect(
      first.text.hasPrefix(
        "simulated 40 runs of test (15 clusters, 3 waves, driver sim); failure rate 10%, seed 42\n"))
    #expect(first.text.contains("  halted: \(first.count(.halted)) ("))
  }
}

@Suite struct SimulationStartTimeTests {
  @Test func windowsHoldClustersBackAsTheyDoInPlanAndRollout() throws {
    // 1_800_000_000 is Friday 2027-01-15 08:00 UTC; the window opens at 10:00 that day.
    let window = MaintenanceWindow(
      name: "fri", days: [.friday], from: TimeOfDay(hour: 10, minute: 0),
      to: TimeOfDay(hour: 11, minute: 0), timeZone: "UTC")
    let members = [
      Cluster(name: "k1", labels: ["region": "eu"], windows: ["fri"]),
      Cluster(name: "k2", labels: ["region": "us"]),
    ]
    let fleet = Fleet(
      name: "test", directory: "/nonexistent", release: Release(name: "checkout", version: "1"),
      clusters: members, windows: ["fri": window])
    let shapes = [WaveShape(name: "all", clusters: ["k1", "k2"])]
    let instant = Dictionary(uniqueKeysWithValues: members.map { ($0.name, Duration.zero) })
    let ruled = try Simulation.run(
      plan: plan(shapes), clusters: members,
      options: SimulationOptions(
        runs: 2, expectedDurations: instant, startTimes: StartTimes(fleet: fleet)))
    #expect(ruled.runs.map(\.seconds) == [7200.0, 7200.0])
    #expect(
      ruled.text.contains(
        "\n  from 2027-01-15T08:00:00.000Z, waiting for windows and freezes as plan does\n"))
    let unruled = try Simulation.run(
      plan: plan(shapes), clusters: members,
      options: SimulationOptions(runs: 1, expectedDurations: instant))
    #expect(unruled.runs.map(\.seconds) == [0.0])
    #expect(!unruled.text.contains("windows and freezes"))
  }
}
