// Reports built from the journal: a run stopped at a chosen journal record (as a process
// killed there) and resumed reports exactly what an uninterrupted run reports, gate readings
// of every pass included; so does a run stopped at an approval and approved.
import Drivers
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

/// An error-rate gate as a Prometheus gate records it: two readings per verify, each with the
/// query as sent (the clusters substituted) and its limit. The rate grows with the length of
/// the cluster names, so every cluster and wave reads its own value; `failing` clusters read
/// above the limit.
private struct ErrorRateGate: HealthGate {
  var name = "error-rate"
  var failing: Set<String> = []

  func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    -> GateResult
  {
    let names = clusters.map(\.name)
    let query = "sum(rate(http_errors{cluster=~\"\(names.joined(separator: "|"))\"}[5m]))"
    let fails = names.contains { failing.contains($0) }
    let value = fails ? 0.25 : Double(names.joined().utf8.count) / 1000
    let readings = (0..<2).map { _ in
      FleetCore.Measurement(
        gate: name, at: clock.now(), value: value, outcome: fails ? .failed : .passed,
        detail: GateReading.text(gate: name, value: value, limit: 0.05), limit: 0.05,
        query: query)
    }
    return GateResult(
      gate: name, passed: !fails, measurements: readings,
      summary: fails ? "error rate \(value) > 0.05" : "2 of 2 readings passed")
  }
}

/// A run's journal that stops writing at the first record `crashesAt` picks, as a process
/// killed just before writing it would: neither that record nor any after it is written.
private final class CrashingJournal: RunJournal, @unchecked Sendable {
  private let journal: any RunJournal
  private let crashesAt: @Sendable (JournalEntry) -> Bool
  private let lock = NSLock()
  private var stopped = false

  init(_ journal: any RunJournal, crashesAt: @escaping @Sendable (JournalEntry) -> Bool) {
    self.journal = journal
    self.crashesAt = crashesAt
  }

  var crashed: Bool { lock.withLock { stopped } }
  var header: RunHeader { journal.header }
  var state: RunState { journal.state }
  func withState<T>(_ body: (RunState) -> T) -> T { journal.withState(body) }
  func refresh() { journal.refresh() }

  func append(_ entry: JournalEntry) throws(JournalError) -> JournalRecord {
    try survive(entry)
    return try journal.append(entry)
  }

  func record(_ entry: JournalEntry) throws(JournalError) {
    try survive(entry)
    try journal.record(entry)
  }

  func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void) {
    journal.whenDurable(done)
  }

  func flush() throws(JournalError) { try journal.flush() }

  /// Throws from the chosen record on, as the dead process would never write it.
  private func survive(_ entry: JournalEntry) throws(JournalError) {
    let dead = lock.withLock {
      if !stopped && crashesAt(entry) { stopped = true }
      return stopped
    }
    if dead { throw JournalError("killed before writing this record") }
  }
}

/// The local store, with the journal of the run it creates stopping at a chosen record.
private struct CrashingStore: StateStore {
  let local: LocalStateStore
  let crashesAt: @Sendable (JournalEntry) -> Bool
  let opened = OpenedJournal()

  final class OpenedJournal: @unchecked Sendable {
    var journal: CrashingJournal?
  }

  var location: String { local.location }
  func listRuns() -> [String] { local.listRuns() }
  func readRun(_ run: String) throws(EngineError) -> StoredRun { try local.readRun(run) }
  func createRun(_ header: RunHeader, clock: any RolloutClock) throws(EngineError)
    -> any RunJournal
  {
    let journal = CrashingJournal(try local.createRun(header, clock: clock), crashesAt: crashesAt)
    opened.journal = journal
    return journal
  }
  func reopenRun(_ run: String, clock: any RolloutClock) throws(EngineError)
    -> (journal: any RunJournal, recovered: String?)
  {
    try local.reopenRun(run, clock: clock)
  }
  func appendFromOutside(_ run: String, _ entry: JournalEntry, clock: any RolloutClock)
    throws(EngineError) -> JournalRecord
  {
    try local.appendFromOutside(run, entry, clock: clock)
  }
  func lock(fleet: String, instance: RunInstance, at date: Date) throws(RunLockError)
    -> any RunLease
  {
    try local.lock(fleet: fleet, instance: instance, at: date)
  }
  func lockHolder() -> LockHolder? { local.lockHolder() }
}

private let start = Date(timeIntervalSince1970: 1_800_000_000)

/// Five clusters in three waves with bakes; `rest` may need an approval.
private func loadFleet(_ dir: TemporaryDirectory, approval: Bool = false) throws -> LoadedFleet {
  _ = try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: shop}
    release: {name: checkout, namespace: shop, driver: sim, version: 2.0.0}
    clusters:
      - {name: can-1, labels: {canary: "true"}}
      - {name: eu-1, labels: {w: eu}}
      - {name: eu-2, labels: {w: eu}}
      - {name: us-1, labels: {w: us}}
      - {name: us-2, labels: {w: us}}
    rollout:
      maxParallel: 2
      canary: {selector: canary=true, bake: 10m}
      waves:
        - {name: europe, selector: w=eu, bake: 30m}
        - {name: rest, approval: \(approval)}
    """)
  return try FleetLoader.load(directory: dir.file("fleet"))
}

/// One process's drivers: the simulated clusters outlive the process (`sim`), its clock
/// starts at `now`.
private func drivers(_ sim: SimDriver, now: Date, failing: Set<String> = []) -> RunDrivers {
  let clock = ManualClock(start: now)
  return RunDrivers(
    kind: .sim, driver: sim, gates: [ErrorRateGate(failing: failing)],
    waveGates: [ErrorRateGate(name: "wave-error-rate")], clock: clock, virtualClock: clock)
}

private func simulatedClusters() -> SimDriver { SimDriver(duration: .fixed(.seconds(300))) }

/// run.json with every timestamp replaced: what two runs of the same plan must share.
private func timeless(_ summary: RunSummary?) -> String {
  let json = summary.map(RunReportJSON.string) ?? "no summary"
  return json.replacingOccurrences(
    of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#, with: "<time>", options: .regularExpression)
}

/// A rollout of the fleet in one process, with every wave approved up front; `failing`
/// clusters fail their gate.
private func runOnce(
  approval: Bool = false, failing: Set<String> = [], observer: RecordingObserver
) throws -> RunResult {
  let dir = try TemporaryDirectory("report-once")
  defer { dir.remove() }
  let loaded = try loadFleet(dir, approval: approval)
  var request = RunRequest(maxParallel: 2, by: "ops")
  request.approve = approval ? ["rest"] : []
  return try RolloutAction(
    fleet: loaded, plan: Planner().plan(loaded.fleet, start: start),
    store: LocalStateStore(stateDirectory: dir.file("state")),
    drivers: drivers(simulatedClusters(), now: start, failing: failing), run: "r1",
    request: request
  ).run(observer: observer)
}

/// The run.json of a rollout that runs to its end in one pass.
private func uninterruptedReport(approval: Bool = false) throws -> String {
  let result = try runOnce(approval: approval, observer: RecordingObserver())
  #expect(result.summary?.outcome == .succeeded)
  return timeless(result.summary)
}

/// The cluster and wave each gate reading of a journal was taken for, in order.
private func readings(_ records: [JournalRecord]) -> [String] {
  records.compactMap { record in
    guard case .measurement(let cluster, let wave, _) = record.entry else { return nil }
    return cluster ?? "wave \(wave ?? "?")"
  }
}

@Suite struct ResumedReportTests {
  /// Where the first process dies: before writing the record each picks.
  static let crashes: [(String, @Sendable (JournalEntry) -> Bool)] = [
    (
      "a reading of eu-2's gate",
      {
        if case .measurement("eu-2", _, _) = $0 { return true }
        return false
      }
    ),
    (
      "europe's bake",
      {
        if case .wave(_, "baking", "europe", _) = $0 { return true }
        return false
      }
    ),
    (
      "a reading of europe's wave gate",
      {
        if case .measurement(nil, "europe", _) = $0 { return true }
        return false
      }
    ),
    (
      "us-1's upgrade",
      {
        if case .cluster("us-1", "upgrading", _, _, _) = $0 { return true }
        return false
      }
    ),
  ]

  @Test(arguments: 0..<4)
  func aRunKilledAtARecordAndResumedReportsAsAnUninterruptedRun(crash: Int) throws {
    let (place, crashesAt) = Self.crashes[crash]
    let expected = try uninterruptedReport()
    let dir = try TemporaryDirectory("report-resumed")
    defer { dir.remove() }
    let loaded = try loadFleet(dir)
    let store = CrashingStore(
      local: LocalStateStore(stateDirectory: dir.file("state")), crashesAt: crashesAt)
    let request = RunRequest(maxParallel: 2, by: "ops")
    let sim = simulatedClusters()
    let first = try RolloutAction(
      fleet: loaded, plan: Planner().plan(loaded.fleet, start: start), store: store,
      drivers: drivers(sim, now: start), run: "r1", request: request
    ).run(observer: RecordingObserver())
    #expect(store.opened.journal?.crashed == true, "the first process was killed at \(place)")
    #expect(first.summary?.outcome == .interrupted)
    let beforeCrash = try store.local.readRun("r1").records
    #expect(readings(beforeCrash).contains("can-1"), "readings taken before the kill at \(place)")

    let resumed = try ResumeAction(
      fleet: loaded, store: store.local, drivers: drivers(sim, now: start.addingTimeInterval(7200)),
      run: "r1", request: request
    ).run(observer: RecordingObserver())
    #expect(timeless(resumed.summary) == expected, "killed at \(place)")
    // The report holds what the first process measured: the canary's readings were taken
    // only then, and come back from the journal.
    #expect(resumed.summary?.clusters.first?.measurements.count == 2)
    let stored = try store.local.readRun("r1")
    #expect(stored.state.outcome == "succeeded")
    #expect(JournalIntegrity.problems(in: stored.records) == [])
  }

  @Test func aRunStoppedAtAnApprovalAndApprovedReportsAsAnUninterruptedRun() throws {
    let expected = try uninterruptedReport(approval: true)
    let dir = try TemporaryDirectory("report-approved")
    defer { dir.remove() }
    let loaded = try loadFleet(dir, approval: true)
    let store = LocalStateStore(stateDirectory: dir.file("state"))
    let request = RunRequest(maxParallel: 2, by: "ops")
    let sim = simulatedClusters()
    let first = try RolloutAction(
      fleet: loaded, plan: Planner().plan(loaded.fleet, start: start), store: store,
      drivers: drivers(sim, now: start), run: "r1", request: request
    ).run(observer: RecordingObserver())
    #expect(first.summary?.waitingForApproval == "rest")
    _ = try store.appendFromOutside(
      "r1", .approval(wave: 2, by: "lead", name: "rest"),
      clock: ManualClock(start: start.addingTimeInterval(3 * 3600)))
    let resumed = try ResumeAction(
      fleet: loaded, store: store,
      drivers: drivers(sim, now: start.addingTimeInterval(3 * 3600)), run: "r1",
      request: request
    ).run(observer: RecordingObserver())
    #expect(timeless(resumed.summary) == expected)
  }

  @Test func theReportOfOnePassIsWhatItsExecutorHeld() throws {
    // A gate fails on eu-2: europe halts and eu-2 is rolled back (the policy's default rolls
    // back the failed), eu-1 stays baking, the canary promoted. The report built from the
    // journal must hold exactly what the executor had in memory, times included.
    let observer = RecordingObserver()
    let result = try runOnce(failing: ["eu-2"], observer: observer)
    let summary = try #require(result.summary)
    #expect(summary.outcome == .halted)
    #expect(
      summary.clusters.map(\.phase) == [.succeeded, .baking, .rolledBack, .pending, .pending])
    #expect(summary.clusters[2].error == "health gate 'error-rate' failed: error rate 0.25 > 0.05")
    #expect(summary.waves.map(\.failures) == [0, 1, 0])
    #expect(observer.executorSummaries == [summary])
  }

  @Test func readingsCarryTheirQueryAndLimitIntoRunJSON() throws {
    let observer = RecordingObserver()
    let result = try runOnce(observer: observer)
    #expect(observer.executorSummaries == [try #require(result.summary)])
    let json = try JSONReader.parse(RunReportJSON.string(try #require(result.summary)))
    let reading = json["clusters"]?.sequence?[1]["measurements"]?.sequence?.first
    #expect(reading?["query"]?.string == #"sum(rate(http_errors{cluster=~"eu-1"}[5m]))"#)
    #expect(reading?["limit"]?.double == 0.05)
    #expect(reading?["value"]?.double == 0.004)
    #expect(reading?["outcome"]?.string == "passed")
    // The canary upgrades in 5m and bakes 10m; eu-1 is read once its own 5m upgrade is done.
    #expect(reading?["at"]?.string == "2027-01-15T08:20:00.000Z")
    let waveGate = json["waves"]?.sequence?[1]["gates"]?.sequence?.first
    #expect(waveGate?["gate"]?.string == "wave-error-rate")
    #expect(waveGate?["passed"]?.bool == true)
  }
}
