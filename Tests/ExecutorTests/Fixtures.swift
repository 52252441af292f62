// Plans, clusters and an event recorder shared by the executor tests.
import Drivers
import Executor
import FleetCore
import Foundation

struct WaveShape {
  var name: String
  var clusters: [String]
  var maxParallel = 100
  var maxPerDomain: Int? = nil
  var bake: Duration = .zero
  var allowed = 0
  var canary = false
  var approval = false
}

func clusters(_ names: [String], domains: [String] = ["eu", "us", "ap"]) -> [Cluster] {
  names.enumerated().map { index, name in
    Cluster(name: name, labels: ["region": domains[index % domains.count]])
  }
}

func plan(_ shapes: [WaveShape], allowedTotal: Int? = nil, spreadBy: String? = "region") -> Plan {
  Plan(
    fleet: "test", release: "checkout", version: "1.4.2",
    start: Date(timeIntervalSince1970: 1_800_000_000),
    waves: shapes.enumerated().map { index, shape in
      Wave(
        index: index, name: shape.name, isCanary: shape.canary, clusters: shape.clusters,
        maxParallel: shape.maxParallel, maxPerDomain: shape.maxPerDomain, bake: shape.bake,
        failureLimit: .count(shape.allowed), allowedFailures: shape.allowed,
        approval: shape.approval)
    },
    allowedFailuresTotal: allowedTotal, spreadBy: spreadBy)
}

func names(_ prefix: String, _ count: Int) -> [String] {
  (1...count).map { "\(prefix)\($0)" }
}

/// Collects the executor's events in order.
final class EventLog: @unchecked Sendable {
  private let lock = NSLock()
  private var list: [RolloutEvent] = []

  func record(_ event: RolloutEvent) {
    lock.lock()
    list.append(event)
    lock.unlock()
  }

  var events: [RolloutEvent] {
    lock.lock()
    defer { lock.unlock() }
    return list
  }

  /// (cluster, phase) for every cluster phase change, in order.
  var phases: [(String, ClusterPhase)] {
    events.compactMap {
      if case .clusterPhase(let cluster, _, let phase, _, _) = $0 { return (cluster, phase) }
      return nil
    }
  }

  func clusters(entering phase: ClusterPhase) -> [String] {
    phases.filter { $0.1 == phase }.map(\.0)
  }

  /// Index in `events` of the first event matching.
  func firstIndex(_ match: (RolloutEvent) -> Bool) -> Int? { events.firstIndex(where: match) }
}

/// Replays events to find the most clusters in flight at once, overall and per key.
struct FlightCounter {
  var maxTotal = 0
  var maxByKey: [String: Int] = [:]

  init(_ events: [RolloutEvent], key: (String, Int) -> String) {
    var current: [String: ClusterPhase] = [:]
    var total = 0
    var byKey: [String: Int] = [:]
    for event in events {
      guard case .clusterPhase(let cluster, let wave, let phase, _, _) = event else { continue }
      let was = current[cluster]?.isInFlight ?? false
      current[cluster] = phase
      let k = key(cluster, wave)
      if phase.isInFlight && !was {
        total += 1
        byKey[k, default: 0] += 1
      } else if !phase.isInFlight && was {
        total -= 1
        byKey[k, default: 0] -= 1
      }
      maxTotal = max(maxTotal, total)
      maxByKey[k] = max(maxByKey[k] ?? 0, byKey[k] ?? 0)
    }
  }
}

/// An executor over the sim driver on a manual clock, with its events recorded.
struct SimRun {
  let clock = ManualClock()
  let log = EventLog()
  let driver: SimDriver
  let executor: Executor

  init(
    _ plan: Plan, clusters: [Cluster], duration: SimDuration = .fixed(.seconds(10)),
    faults: SimFaults = SimFaults(), healthGate: Bool = false, waveGate: Bool = false,
    policy: FailurePolicy = FailurePolicy(),
    maxParallel: Int = 100, approvals: StaticApprovals = StaticApprovals(), seed: UInt64 = 7
  ) throws {
    driver = SimDriver(duration: duration, faults: faults, seed: seed)
    let gates: [any HealthGate] = healthGate ? [SimHealthGate(driver: driver)] : []
    executor = try Executor(
      plan: plan, clusters: clusters, driver: driver, gates: gates,
      waveGates: waveGate ? [SimHealthGate(driver: driver, name: "wave-health")] : [],
      clock: clock,
      approvals: approvals,
      options: ExecutorOptions(run: "run-1", maxParallel: maxParallel, failurePolicy: policy))
    executor.observe { [log] in log.record($0) }
  }

  func run() -> RunSummary { executor.runInVirtualTime(clock) }
}

extension RunSummary {
  func record(_ name: String) -> ClusterRunRecord? { clusters.first { $0.name == name } }
  func names(in phase: ClusterPhase) -> [String] {
    clusters.filter { $0.phase == phase }.map(\.name)
  }
}
