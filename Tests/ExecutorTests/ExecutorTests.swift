// The engine on the sim driver at virtual time: limits, wave order, bake, budgets, halt,
// rollback scopes, approvals and interruption.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

@Suite struct ExecutorTests {
  @Test func inFlightNeverExceedsGlobalWaveOrDomainLimits() throws {
    let members = names("c", 60)
    let shapes = [
      WaveShape(name: "canary", clusters: Array(members[0..<2]), canary: true),
      WaveShape(name: "small", clusters: Array(members[2..<20]), maxParallel: 4),
      WaveShape(name: "big", clusters: Array(members[20...]), maxPerDomain: 2),
    ]
    let fleet = clusters(members, domains: ["eu", "us", "ap", "sa"])
    let domainOf = Dictionary(
      uniqueKeysWithValues: fleet.map { ($0.name, $0.labels["region"] ?? "") })
    let run = try SimRun(
      plan(shapes), clusters: fleet, duration: .uniform(.seconds(1), .seconds(30)), maxParallel: 6)
    let summary = run.run()
    #expect(summary.outcome == .succeeded)
    #expect(summary.names(in: .succeeded).count == 60)

    let events = run.log.events
    #expect(FlightCounter(events) { _, _ in "all" }.maxTotal == 6)
    let perWave = FlightCounter(events) { _, wave in String(wave) }.maxByKey
    #expect(perWave == ["0": 2, "1": 4, "2": 6])
    let perDomainInBig = FlightCounter(
      events.filter {
        if case .clusterPhase(_, 2, _, _, _) = $0 { return true }
        return false
      }
    ) { name, _ in domainOf[name] ?? "" }.maxByKey
    #expect(perDomainInBig == ["eu": 2, "us": 2, "ap": 2, "sa": 2])
  }

  @Test func noClusterOfTheNextWaveStartsBeforeTheWaveIsDoneAndBaked() throws {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1"], bake: .seconds(600), canary: true),
      WaveShape(name: "one", clusters: names("a", 5), maxParallel: 2, bake: .seconds(300)),
      WaveShape(name: "two", clusters: names("b", 5)),
    ]
    let run = try SimRun(
      plan(shapes), clusters: clusters(["k1"] + names("a", 5) + names("b", 5)),
      duration: .uniform(.seconds(5), .seconds(50)))
    let summary = run.run()
    #expect(summary.outcome == .succeeded)

    let events = run.log.events
    for wave in 0..<2 {
      var lastFinished: Date?
      var promotedAt: Date?
      var promotedIndex: Int?
      var firstNextStart: Int?
      for (index, event) in events.enumerated() {
        switch event {
        case .clusterPhase(_, wave, .baking, _, let at): lastFinished = at
        case .wavePromoted(wave, let at):
          promotedAt = at
          promotedIndex = index
        case .clusterPhase(_, let w, .upgrading, _, _) where w == wave + 1 && firstNextStart == nil:
          firstNextStart = index
        default: break
        }
      }
      let bake = shapes[wave].bake
      #expect(
        promotedAt?.timeIntervalSince(lastFinished ?? .distantPast)
          == DurationText.seconds(bake))
      #expect((promotedIndex ?? .max) < (firstNextStart ?? -1))
    }
  }

  @Test func theCanaryRunsFirstAndMustBeTheFirstWave() throws {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1", "k2"], canary: true),
      WaveShape(name: "rest", clusters: names("r", 4)),
    ]
    let run = try SimRun(plan(shapes), clusters: clusters(["k1", "k2"] + names("r", 4)))
    _ = run.run()
    #expect(Array(run.log.clusters(entering: .upgrading).prefix(2)) == ["k1", "k2"])
    #expect(Array(run.log.clusters(entering: .succeeded).prefix(2)) == ["k1", "k2"])

    let misplaced = [shapes[1], shapes[0]]
    #expect(throws: ExecutorError("canary wave 'canary' must be the first wave")) {
      _ = try Executor(
        plan: plan(misplaced), clusters: clusters(["k1", "k2"] + names("r", 4)),
        driver: SimDriver(), options: ExecutorOptions(run: "r"))
    }
  }

  @Test func aCanaryFailureHaltsBeforeAnyOtherWave() throws {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1"], canary: true),
      WaveShape(name: "rest", clusters: names("r", 3), allowed: 3),
    ]
    let run = try SimRun(
      plan(shapes), clusters: clusters(["k1"] + names("r", 3)),
      faults: SimFaults(health: .init(names: ["k1"])), healthGate: true)
    let summary = run.run()
    #expect(summary.outcome == .halted)
    #expect(
      summary.reason == "wave 'canary' has 1 failed of 1 clusters; its budget allows 0")
    #expect(run.log.clusters(entering: .upgrading) == ["k1"])
    #expect(
      summary.record("k1")?.error
        == "health gate 'sim-health' failed: unhealthy: k1 (error rate 0.25 > 0.01)")
    #expect(summary.record("k1")?.measurements.map(\.detail) == ["error rate 0.25 > 0.01"])
    #expect(summary.names(in: .rolledBack) == ["k1"])
    #expect(summary.names(in: .pending) == ["r1", "r2", "r3"])
  }

  @Test func crossingTheBudgetStopsNewStartsWithinOneStep() throws {
    let shapes = [WaveShape(name: "only", clusters: names("c", 12), maxParallel: 3, allowed: 1)]
    let run = try SimRun(
      plan(shapes), clusters: clusters(names("c", 12)),
      faults: SimFaults(upgrade: .init(names: ["c2", "c5"])))
    let summary = run.run()
    #expect(summary.outcome == .halted)
    #expect(summary.reason == "wave 'only' has 2 failed of 12 clusters; its budget allows 1")

    let events = run.log.events
    let halted = try #require(
      run.log.firstIndex {
        if case .waveHalted = $0 { return true }
        return false
      })
    // The event before the halt is the failure that crossed the budget.
    guard case .clusterPhase("c5", _, .failed, _, _) = events[halted - 1] else {
      Issue.record("expected c5's failure right before the halt, got \(events[halted - 1])")
      return
    }
    let startsAfter = events[halted...].filter {
      if case .clusterPhase(_, _, .upgrading, _, _) = $0 { return true }
      return false
    }
    #expect(startsAfter.isEmpty)
    // c4 finished at the same instant as c5 and was handled first, so c7 took its slot.
    #expect(run.log.clusters(entering: .upgrading) == names("c", 7))
    #expect(summary.names(in: .pending) == Array(names("c", 12)[7...]))
  }

  @Test func theRunBudgetHaltsAcrossWaves() throws {
    let shapes = [
      WaveShape(name: "w1", clusters: names("a", 4), allowed: 2),
      WaveShape(name: "w2", clusters: names("b", 4), allowed: 2),
    ]
    let run = try SimRun(
      plan(shapes, allowedTotal: 1), clusters: clusters(names("a", 4) + names("b", 4)),
      faults: SimFaults(upgrade: .init(names: ["a1", "b2"])),
      policy: FailurePolicy(rollback: .none))
    let summary = run.run()
    #expect(summary.outcome == .halted)
    #expect(summary.reason == "the run has 2 failed clusters; its budget allows 1")
    #expect(summary.waves.map(\.phase) == [.promoted, .halted])
    #expect(summary.names(in: .failed) == ["a1", "b2"])
  }

  /// Wave "late" runs c1, c2 together (maxParallel 2, 10 s each); c2 fails, c1's slot went to
  /// c3 a moment before, so c1 and c3 are upgraded when the halt comes.
  func haltInLateWave(_ scope: RollbackScope, inFlight: InFlightPolicy = .finish) throws
    -> (RunSummary, EventLog)
  {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1"], canary: true),
      WaveShape(name: "early", clusters: names("b", 3)),
      WaveShape(name: "late", clusters: names("c", 6), maxParallel: 2),
    ]
    let run = try SimRun(
      plan(shapes), clusters: clusters(["k1"] + names("b", 3) + names("c", 6)),
      faults: SimFaults(upgrade: .init(names: ["c2"])),
      policy: FailurePolicy(rollback: scope, inFlight: inFlight))
    return (run.run(), run.log)
  }

  @Test func rollbackScopeNoneRollsNothingBack() throws {
    let (summary, log) = try haltInLateWave(.none)
    #expect(summary.outcome == .halted)
    #expect(log.clusters(entering: .rollingBack) == [])
    #expect(summary.names(in: .failed) == ["c2"])
    #expect(summary.names(in: .baking) == ["c1", "c3"])
  }

  @Test func rollbackScopeFailedRollsBackOnlyFailedClusters() throws {
    let (summary, log) = try haltInLateWave(.failed)
    #expect(log.clusters(entering: .rollingBack) == ["c2"])
    #expect(summary.names(in: .rolledBack) == ["c2"])
    #expect(summary.record("c2")?.fromRevision == "1")
    #expect(summary.record("c2")?.rollbackRevision == "2")
    #expect(summary.names(in: .baking) == ["c1", "c3"])
  }

  @Test func rollbackScopeWaveRollsBackTheWholeHaltedWave() throws {
    let (summary, log) = try haltInLateWave(.wave)
    #expect(Set(log.clusters(entering: .rollingBack)) == ["c1", "c2", "c3"])
    #expect(summary.names(in: .rolledBack) == ["c1", "c2", "c3"])
    #expect(summary.names(in: .succeeded) == ["k1", "b1", "b2", "b3"])
  }

  @Test func rollbackScopeAllRollsBackEverythingInReverseWaveOrder() throws {
    let (summary, log) = try haltInLateWave(.all)
    let order = log.clusters(entering: .rollingBack)
    #expect(Set(order.prefix(3)) == ["c1", "c2", "c3"])
    #expect(Set(order[3..<6]) == ["b1", "b2", "b3"])
    #expect(Array(order[6...]) == ["k1"])
    #expect(summary.names(in: .rolledBack).count == 7)
    #expect(summary.names(in: .pending) == ["c4", "c5", "c6"])
  }

  @Test func cancellingInFlightClustersOnHaltRollsThemBackWithTheFailed() throws {
    let (summary, _) = try haltInLateWave(.failed, inFlight: .cancel)
    #expect(summary.names(in: .rolledBack) == ["c2", "c3"])
    #expect(summary.record("c3")?.error == "cancelled: the rollout halted")
    #expect(summary.names(in: .baking) == ["c1"])
  }

  @Test func rollbackFailuresAreReported() throws {
    let shapes = [
      WaveShape(name: "one", clusters: names("a", 3)),
      WaveShape(name: "two", clusters: names("b", 2)),
    ]
    let run = try SimRun(
      plan(shapes), clusters: clusters(names("a", 3) + names("b", 2)),
      faults: SimFaults(upgrade: .init(names: ["b1"]), rollback: .init(names: ["a2", "b1"])),
      policy: FailurePolicy(rollback: .all))
    let summary = run.run()
    #expect(summary.outcome == .halted)
    #expect(summary.names(in: .rollbackFailed) == ["a2", "b1"])
    #expect(summary.record("a2")?.rollbackError == "simulated rollback failure")
    #expect(summary.record("b1")?.error == "simulated upgrade failure")
    #expect(summary.record("b1")?.rollbackError == "simulated rollback failure")
    #expect(summary.names(in: .rolledBack) == ["a1", "a3", "b2"])
    #expect(run.driver.history(of: "a1") == [1, 2, 3])
  }

  @Test func approvalGatesPauseTheRunUnlessApproved() throws {
    let shapes = [
      WaveShape(name: "canary", clusters: ["k1"], canary: true),
      WaveShape(name: "prod", clusters: names("p", 2), approval: true),
    ]
    let fleet = clusters(["k1"] + names("p", 2))
    let paused = try SimRun(plan(shapes), clusters: fleet).run()
    #expect(paused.outcome == .interrupted)
    #expect(paused.waitingForApproval == "prod")
    #expect(paused.reason == "waiting for approval of wave 'prod'")
    #expect(paused.waves.map(\.phase) == [.promoted, .waitingForApproval])
    #expect(paused.names(in: .pending) == ["p1", "p2"])

    let approved = try SimRun(plan(shapes), clusters: fleet, approvals: StaticApprovals(["prod"]))
      .run()
    #expect(approved.outcome == .succeeded)
  }

  @Test func withinBudgetFailuresFinishTheRunAsFailed() throws {
    let shapes = [WaveShape(name: "all", clusters: names("c", 4), allowed: 1)]
    let summary = try SimRun(
      plan(shapes), clusters: clusters(names("c", 4)),
      faults: SimFaults(upgrade: .init(names: ["c3"]))
    ).run()
    #expect(summary.outcome == .failed)
    #expect(summary.names(in: .failed) == ["c3"])
    #expect(summary.names(in: .succeeded) == ["c1", "c2", "c4"])
  }

  @Test func aFirstInterruptLetsInFlightClustersFinishAndStartsNothingNew() throws {
    let shapes = [WaveShape(name: "all", clusters: names("c", 6), maxParallel: 2)]
    let run = try SimRun(plan(shapes), clusters: clusters(names("c", 6)))
    run.executor.start()
    run.executor.settle()
    #expect(run.log.clusters(entering: .upgrading) == ["c1", "c2"])
    run.executor.interrupt()
    run.executor.settle()
    run.clock.advance(by: .seconds(10))
    run.executor.settle()
    let summary = run.executor.summary()
    #expect(run.executor.isFinished)
    #expect(summary.outcome == .interrupted)
    #expect(summary.names(in: .baking) == ["c1", "c2"])
    #expect(summary.names(in: .pending) == ["c3", "c4", "c5", "c6"])
    #expect(summary.midUpgrade == [])
    #expect(summary.waves.map(\.phase) == [.interrupted])
  }

  @Test func aSecondInterruptCancelsInFlightClustersAndReportsThemMidUpgrade() throws {
    let shapes = [WaveShape(name: "all", clusters: names("c", 6), maxParallel: 2)]
    let run = try SimRun(plan(shapes), clusters: clusters(names("c", 6)))
    run.executor.start()
    run.executor.settle()
    run.executor.interrupt()
    run.executor.interrupt()
    run.executor.settle()
    let summary = run.executor.summary()
    #expect(run.executor.isFinished)
    #expect(summary.outcome == .interrupted)
    #expect(summary.midUpgrade == ["c1", "c2"])
    #expect(
      summary.record("c1")?.error == "interrupted while upgrading; its revision is unknown")
    #expect(summary.record("c1")?.phase == .upgrading)
    #expect(run.driver.revision(of: "c1") == 1)
  }

  @Test func anInterruptBeforeTheStartEndsTheRunWithoutStartingAnything() throws {
    let run = try SimRun(
      plan([WaveShape(name: "all", clusters: names("c", 2))]), clusters: clusters(names("c", 2)))
    run.executor.interrupt()
    let summary = run.executor.run()
    #expect(summary.outcome == .interrupted)
    #expect(summary.reason == "interrupted before any cluster started")
    #expect(summary.names(in: .pending) == ["c1", "c2"])
  }

  @Test func aFailingWaveGateAfterTheBakeHaltsAndRollsTheWaveBack() throws {
    let shapes = [
      WaveShape(name: "one", clusters: names("a", 3), bake: .seconds(300), allowed: 3),
      WaveShape(name: "two", clusters: names("b", 2)),
    ]
    let run = try SimRun(
      plan(shapes), clusters: clusters(names("a", 3) + names("b", 2)),
      faults: SimFaults(health: .init(names: ["a2"])), waveGate: true,
      policy: FailurePolicy(rollback: .wave))
    let summary = run.run()
    #expect(summary.outcome == .halted)
    #expect(
      summary.reason == "wave gate 'wave-health' failed: unhealthy: a2 (error rate 0.25 > 0.01)")
    // The gate ran once over the whole wave, when its 300 s bake after the 10 s upgrades ended.
    let gate = try #require(summary.waves[0].gates.first)
    let bakeEnd = run.clock.now().addingTimeInterval(-10)
    #expect(gate.measurements.map(\.at) == [bakeEnd, bakeEnd, bakeEnd])
    #expect(bakeEnd.timeIntervalSince(summary.startedAt) == 310)
    #expect(summary.names(in: .rolledBack) == ["a1", "a2", "a3"])
    #expect(summary.names(in: .pending) == ["b1", "b2"])
  }

  @Test func limitsHoldWithRealThreadsAndTheSystemClock() throws {
    // Gates on worker threads and driver completions racing each other, in real time.
    let members = names("c", 200)
    let fleet = clusters(members, domains: ["eu", "us", "ap", "sa"])
    let domainOf = Dictionary(
      uniqueKeysWithValues: fleet.map { ($0.name, $0.labels["region"] ?? "") })
    let shapes = [
      WaveShape(name: "one", clusters: Array(members[..<100]), maxParallel: 5, allowed: 100),
      WaveShape(name: "two", clusters: Array(members[100...]), maxPerDomain: 2, allowed: 100),
    ]
    let driver = SimDriver(
      duration: .uniform(.milliseconds(1), .milliseconds(3)),
      faults: SimFaults(health: .init(probability: 0.1)), seed: 3)
    let log = EventLog()
    let executor = try Executor(
      plan: plan(shapes), clusters: fleet, driver: driver, gates: [SimHealthGate(driver: driver)],
      options: ExecutorOptions(run: "real", maxParallel: 7))
    executor.observe { log.record($0) }
    let summary = executor.run()
    let failing = fleet.filter { driver.healthFails($0) }.map(\.name)
    #expect(summary.outcome == .failed)
    #expect(summary.names(in: .failed) == failing)
    #expect(summary.names(in: .succeeded).count == 200 - failing.count)
    let events = log.events
    #expect(FlightCounter(events) { _, _ in "all" }.maxTotal <= 7)
    #expect(FlightCounter(events) { _, wave in String(wave) }.maxByKey["0"] ?? 0 <= 5)
    let waveTwo = events.filter {
      if case .clusterPhase(_, 1, _, _, _) = $0 { return true }
      return false
    }
    let perDomain = FlightCounter(waveTwo) { name, _ in domainOf[name] ?? "" }.maxByKey
    #expect(perDomain.values.allSatisfy { $0 <= 2 })
  }
}
