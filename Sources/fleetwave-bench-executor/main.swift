// Executor benchmarks (run by Scripts/bench-executor.sh on a release build): scheduling
// overhead against the ideal critical path, time from a budget-crossing failure to the halt,
// the exec driver against `xargs -P` running the same commands, and (`virtual`) CPU per cluster
// event at virtual time for 10,000 and 100,000 clusters.
import Drivers
import Executor
import FleetCore
import Foundation

/// Wraps the sim driver to note when a failure leaves the driver (the start of the halt clock).
final class TimedFailures: Driver, @unchecked Sendable {
  let name = "sim"
  let inner: SimDriver
  private let lock = NSLock()
  private var failedAt: [UInt64] = []

  init(_ inner: SimDriver) { self.inner = inner }

  var firstFailure: UInt64? {
    lock.lock()
    defer { lock.unlock() }
    return failedAt.first
  }

  func upgrade(_ call: DriverCall, from: String?, completion: @escaping DriverCompletion<String>) {
    inner.upgrade(call, from: from) { [self] result in
      if case .failure = result {
        lock.lock()
        failedAt.append(DispatchTime.now().uptimeNanoseconds)
        lock.unlock()
      }
      completion(result)
    }
  }

  func rollback(_ call: DriverCall, to: String?, completion: @escaping DriverCompletion<String>) {
    inner.rollback(call, to: to, completion: completion)
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    inner.currentRevision(call, completion: completion)
  }
}

final class Stamp: @unchecked Sendable {
  private let lock = NSLock()
  private var value: UInt64?
  func set(_ v: UInt64) {
    lock.lock()
    if value == nil { value = v }
    lock.unlock()
  }
  var get: UInt64? {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}

func fleetPlan(clusters count: Int, waves: Int, maxParallel: Int, allowed: Int = 0) -> (
  Plan, [Cluster]
) {
  let clusters = (0..<count).map { Cluster(name: "c\($0)", labels: ["region": "r\($0 % 8)"]) }
  let size = (count + waves - 1) / waves
  let planWaves = (0..<waves).map { index in
    Wave(
      index: index, name: "wave-\(index)",
      clusters: Array(clusters[(index * size)..<min(count, (index + 1) * size)]).map(\.name),
      maxParallel: maxParallel, allowedFailures: allowed)
  }
  return (Plan(fleet: "bench", release: "bench", start: Date(), waves: planWaves), clusters)
}

func seconds(_ from: UInt64, _ to: UInt64) -> Double { Double(to - from) / 1e9 }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func benchSim() throws {
  let (plan, clusters) = fleetPlan(clusters: 1000, waves: 5, maxParallel: 50)
  let ideal = plan.waves.reduce(0.0) { total, wave in
    total + (Double(wave.clusters.count) / 50).rounded(.up) * 0.1
  }
  var walls: [Double] = []
  for _ in 0..<3 {
    let executor = try Executor(
      plan: plan, clusters: clusters, driver: SimDriver(duration: .fixed(.milliseconds(100))),
      options: ExecutorOptions(run: "bench", maxParallel: 50))
    let start = DispatchTime.now().uptimeNanoseconds
    let summary = executor.run()
    walls.append(seconds(start, DispatchTime.now().uptimeNanoseconds))
    guard summary.outcome == .succeeded else { throw ExecutorError("bench run \(summary.outcome)") }
  }
  let wall = median(walls)
  print(
    "sim: 1000 clusters, 5 waves, maxParallel 50, 100 ms each, no bake: wall "
      + String(
        format: "%.3f s (median of 3: %@), ideal %.3f s, overhead %.2f%% (goal < 5%%)",
        wall, walls.map { String(format: "%.3f", $0) }.joined(separator: " "), ideal,
        (wall / ideal - 1) * 100))
}

func benchHalt() throws {
  var latencies: [Double] = []
  for round in 0..<5 {
    let (plan, clusters) = fleetPlan(clusters: 1000, waves: 5, maxParallel: 50)
    let victim = plan.waves[2].clusters[17 + round]
    let driver = TimedFailures(
      SimDriver(
        duration: .fixed(.milliseconds(100)), faults: SimFaults(upgrade: .init(names: [victim]))))
    let executor = try Executor(
      plan: plan, clusters: clusters, driver: driver,
      options: ExecutorOptions(
        run: "bench", maxParallel: 50, failurePolicy: FailurePolicy(rollback: .none)))
    let halted = Stamp()
    executor.observe { event in
      if case .waveHalted = event { halted.set(DispatchTime.now().uptimeNanoseconds) }
    }
    let summary = executor.run()
    guard summary.outcome == .halted, let failed = driver.firstFailure, let stop = halted.get else {
      throw ExecutorError("bench run did not halt: \(summary.outcome)")
    }
    latencies.append(seconds(failed, stop) * 1000)
  }
  print(
    "halt: failure leaves the driver -> halt decision: "
      + latencies.map { String(format: "%.3f", $0) }.joined(separator: " ")
      + String(format: " ms (max %.3f ms; goal < 10 ms)", latencies.max() ?? 0))
}

func benchExec() throws {
  let count = 200
  let logs = FileManager.default.temporaryDirectory.appendingPathComponent(
    "fleetwave-bench-\(getpid())"
  ).path
  defer { try? FileManager.default.removeItem(atPath: logs) }
  let (plan, clusters) = fleetPlan(clusters: count, waves: 1, maxParallel: 20)
  let driver = ExecDriver(
    commands: ExecCommands(upgrade: "sleep 0.2"), release: Release(name: "bench", driver: .exec),
    logDirectory: logs)
  let executor = try Executor(
    plan: plan, clusters: clusters, driver: driver,
    options: ExecutorOptions(run: "bench", maxParallel: 20))
  var start = DispatchTime.now().uptimeNanoseconds
  let summary = executor.run()
  let ours = seconds(start, DispatchTime.now().uptimeNanoseconds)
  guard summary.outcome == .succeeded else { throw ExecutorError("exec bench \(summary.outcome)") }

  let xargs = Process()
  xargs.executableURL = URL(fileURLWithPath: "/bin/sh")
  xargs.arguments = ["-c", "seq \(count) | xargs -P 20 -I{} sh -c 'sleep 0.2'"]
  start = DispatchTime.now().uptimeNanoseconds
  try xargs.run()
  xargs.waitUntilExit()
  let theirs = seconds(start, DispatchTime.now().uptimeNanoseconds)
  print(
    String(
      format: "exec: 200 x `sleep 0.2` at parallelism 20: fleetwave %.3f s, xargs -P 20 %.3f s, "
        + "ratio %.3f (ideal %.1f s)", ours, theirs, ours / theirs, Double(count) / 20 * 0.2))
}

/// CPU time (user and system) this process has used so far, in seconds.
func processCPU() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
  let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
  return user + system
}

final class EventCount: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func add() {
    lock.lock()
    count += 1
    lock.unlock()
  }
  var value: Int {
    lock.lock()
    defer { lock.unlock() }
    return count
  }
}

/// The sim driver at virtual time, as `simulate` runs it: CPU per cluster event at 10,000 and
/// 100,000 clusters. Every event the executor emits counts; the CPU is the whole process's
/// (executor, clock, sim driver), excluding the building of the plan.
func benchVirtual() throws {
  var perEvent: [Int: Double] = [:]
  for count in [10_000, 100_000] {
    let (plan, clusters) = fleetPlan(clusters: count, waves: 5, maxParallel: 1000)
    let clock = ManualClock(start: plan.start)
    let driver = SimDriver(
      duration: .uniform(.seconds(30), .seconds(90)), seed: UInt64(count))
    let executor = try Executor(
      plan: plan, clusters: clusters, driver: driver, clock: clock,
      options: ExecutorOptions(run: "bench", maxParallel: 1000))
    let events = EventCount()
    executor.observe { _ in events.add() }
    let cpuBefore = processCPU()
    let start = DispatchTime.now().uptimeNanoseconds
    let summary = executor.runInVirtualTime(clock)
    let wall = seconds(start, DispatchTime.now().uptimeNanoseconds)
    let cpu = processCPU() - cpuBefore
    guard summary.outcome == .succeeded else {
      throw ExecutorError("virtual-time bench run \(summary.outcome)")
    }
    perEvent[count] = cpu / Double(events.value)
    print(
      String(
        format: "virtual: %d clusters, 5 waves, maxParallel 1000, sim 30-90 s each: %d events, "
          + "CPU %.2f s (wall %.2f s), %.2f us CPU per event", count, events.value, cpu, wall,
        cpu / Double(events.value) * 1e6))
  }
  if let small = perEvent[10_000], let large = perEvent[100_000] {
    let ratio = large * Double(100_000) / (small * Double(10_000))
    print(
      String(
        format: "virtual: 100k run costs %.2f x the 10k run (goal <= 12 x); per event %.2f x",
        ratio, large / small))
  }
}

let which = CommandLine.arguments.dropFirst().first ?? "all"
do {
  if which == "sim" || which == "all" { try benchSim() }
  if which == "halt" || which == "all" { try benchHalt() }
  if which == "exec" || which == "all" { try benchExec() }
  // Not part of `all`: it runs 110,000 clusters.
  if which == "virtual" { try benchVirtual() }
} catch {
  FileHandle.standardError.write(Data("bench failed: \(error)\n".utf8))
  exit(1)
}
