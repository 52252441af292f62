// The run actions below the command line: a rollout that stops at an approval, the approval
// appended from outside, and a resume that finishes the same run without redoing work.
import Engine
import Executor
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Journal
import Planner
import Report
import Testing

/// Collects what an action says, instead of printing it, and what each pass's executor
/// held in memory when the pass ended.
final class RecordingObserver: RunObserver {
  var notes: [String] = []
  var lines: [String] = []
  var passes = 0
  var executorSummaries: [RunSummary] = []
  private var executor: Executor?

  func note(_ line: String) { notes.append(line) }
  func say(_ line: String) { lines.append(line) }
  func passStarting(
    _ executor: Executor, plan: FleetCore.Plan, maxParallel: Int, clock: any RolloutClock
  ) {
    passes += 1
    self.executor = executor
  }
  func passEnded() {
    if let executor { executorSummaries.append(executor.summary()) }
    executor = nil
  }
}

private func loadGatedFleet(_ dir: TemporaryDirectory) throws -> LoadedFleet {
  _ = try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: gated}
    release: {name: checkout, namespace: shop, driver: sim, version: 2.0.0}
    clusters:
      - {name: can-1, labels: {canary: "true"}}
      - {name: eu-1, labels: {w: eu}}
      - {name: us-1, labels: {w: us}}
    rollout:
      canary: {selector: canary=true}
      waves:
        - {name: europe, selector: w=eu}
        - {name: rest, approval: true}
    """)
  return try FleetLoader.load(directory: dir.file("fleet"))
}

private let start = Date(timeIntervalSince1970: 1_800_000_000)

/// The cluster states each record of a run wrote, in order, per cluster.
private func clusterHistory(_ records: [JournalRecord]) -> [String: [String]] {
  var history: [String: [String]] = [:]
  for record in records {
    if case .cluster(let name, let state, _, _, _) = record.entry {
      history[name, default: []].append(state)
    }
  }
  return history
}

@Suite struct ActionTests {
  @Test func resumeFinishesTheRunARolloutLeftAtAnApproval() throws {
    let dir = try TemporaryDirectory("engine-actions")
    defer { dir.remove() }
    let loaded = try loadGatedFleet(dir)
    let store = LocalStateStore(stateDirectory: dir.file("state"))
    let plan = Planner().plan(loaded.fleet, start: start)
    let request = RunRequest(maxParallel: 5, by: "ops")
    let observer = RecordingObserver()

    let drivers = try RunDrivers.make(
      .sim, for: loaded, run: "r1", stateDirectory: store.stateDirectory,
      kubeconfig: nil, now: start)
    let first = try RolloutAction(
      fleet: loaded, plan: plan, store: store, drivers: drivers, run: "r1", request: request
    ).run(observer: observer)
    #expect(first.summary?.outcome == .interrupted)
    #expect(first.summary?.waitingForApproval == "rest")
    #expect(store.unfinishedRun(fleet: "gated")?.header.id == "r1")

    _ = try store.appendFromOutside(
      "r1", .approval(wave: 2, by: "lead", name: "rest"), clock: ManualClock(start: start))
    let resumed = try ResumeAction(
      fleet: loaded, store: store,
      drivers: try RunDrivers.make(
        .sim, for: loaded, run: "r1", stateDirectory: store.stateDirectory,
        kubeconfig: nil, now: start),
      run: "r1", request: request
    ).run(observer: observer)
    #expect(resumed.summary?.outcome == .succeeded)
    #expect(resumed.summary?.clusters.map(\.phase) == [.succeeded, .succeeded, .succeeded])
    #expect(observer.passes == 2)
    #expect(observer.notes == [])

    let stored = try store.readRun("r1")
    #expect(stored.state.outcome == "succeeded")
    #expect(stored.state.approvals == ["rest": "lead"])
    #expect(store.unfinishedRun(fleet: "gated") == nil)
    // The second pass touched only the approved wave's cluster: nothing was upgraded twice.
    guard
      let resumedAt = stored.records.firstIndex(where: {
        if case .resumed = $0.entry { return true } else { return false }
      })
    else {
      Issue.record("no resumed record")
      return
    }
    let firstPass = clusterHistory(Array(stored.records[..<resumedAt]))
    let secondPass = clusterHistory(Array(stored.records[resumedAt...]))
    #expect(firstPass.keys.sorted() == ["can-1", "eu-1"])
    #expect(secondPass.keys.sorted() == ["us-1"])
    #expect(firstPass["can-1"]?.last == "succeeded")
    #expect(firstPass["eu-1"]?.last == "succeeded")
    #expect(secondPass["us-1"]?.last == "succeeded")
  }

  @Test func resumingAFinishedRunDoesNothing() throws {
    let dir = try TemporaryDirectory("engine-finished")
    defer { dir.remove() }
    let loaded = try loadGatedFleet(dir)
    let store = LocalStateStore(stateDirectory: dir.file("state"))
    var request = RunRequest(maxParallel: 5, by: "ops")
    request.approve = ["*"]
    let observer = RecordingObserver()
    func drivers() throws -> RunDrivers {
      try RunDrivers.make(
        .sim, for: loaded, run: "r1", stateDirectory: store.stateDirectory,
        kubeconfig: nil, now: start)
    }
    let done = try RolloutAction(
      fleet: loaded, plan: Planner().plan(loaded.fleet, start: start), store: store,
      drivers: try drivers(), run: "r1", request: request
    ).run(observer: observer)
    #expect(done.summary?.outcome == .succeeded)
    let again = try ResumeAction(
      fleet: loaded, store: store, drivers: try drivers(), run: "r1", request: request
    ).run(observer: observer)
    #expect(again.summary == nil)
    #expect(again.finishedBefore == "succeeded")
    #expect(observer.passes == 1)
  }

  @Test func resumingWithOtherSetArgumentsIsRefused() throws {
    let dir = try TemporaryDirectory("engine-sets")
    defer { dir.remove() }
    let loaded = try loadGatedFleet(dir)
    let store = LocalStateStore(stateDirectory: dir.file("state"))
    var request = RunRequest(maxParallel: 5, by: "ops")
    request.sets = ["image.tag=2"]
    let drivers = try RunDrivers.make(
      .sim, for: loaded, run: "r1", stateDirectory: store.stateDirectory,
      kubeconfig: nil, now: start)
    _ = try RolloutAction(
      fleet: loaded, plan: Planner().plan(loaded.fleet, start: start), store: store,
      drivers: drivers, run: "r1", request: request
    ).run(observer: RecordingObserver())
    request.sets = ["image.tag=3"]
    #expect(
      throws: EngineError(
        "run r1 was started with other --set arguments; pass exactly the --set arguments it "
          + "started with")
    ) {
      try ResumeAction(fleet: loaded, store: store, drivers: drivers, run: "r1", request: request)
        .run(observer: RecordingObserver())
    }
  }

  @Test func aFrozenPlanReadsBackAsTheWavesItFroze() throws {
    let loaded = try FleetLoader.load(
      directory: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path)
    let plan = Planner().plan(loaded.fleet, start: Date(timeIntervalSince1970: 1_800_000_000))
    let frozen = try #require(FrozenPlan.decode(try JSONReader.parse(PlanJSON.render(plan))))
    // The schema does not carry a wave's estimatedDuration; everything else survives.
    var expected = plan.waves
    for index in expected.indices { expected[index].estimatedDuration = .zero }
    #expect(frozen.waves == expected)
    #expect(frozen.waves.count == 6)
    #expect(frozen.allowedFailuresTotal == plan.allowedFailuresTotal)
    #expect(frozen.spreadBy == plan.spreadBy)
    #expect(frozen.start == plan.start)
    #expect(frozen.estimatedFinish == plan.estimatedFinish)
  }
}
