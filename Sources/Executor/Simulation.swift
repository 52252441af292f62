// `fleetwave simulate`: the policy run many times on the sim driver at virtual time, and what
// those runs say about halts, rollbacks and time to finish.
import Drivers
import FleetCore
import Foundation
import Planner

public struct SimulationOptions: Sendable {
  public var runs: Int
  /// Chance that any one cluster's upgrade fails.
  public var failureRate: Double
  /// Clusters whose upgrade always fails.
  public var failing: Set<String>
  public var seed: UInt64
  /// Each cluster's upgrade takes between half and one and a half times this.
  public var expectedDurations: [String: Duration]
  public var defaultDuration: Duration
  public var maxParallel: Int
  public var failurePolicy: FailurePolicy
  public var clusterTimeout: Duration
  /// Maintenance windows and freezes, the rules `plan` and `rollout` start clusters by; nil
  /// starts every cluster at once.
  public var startTimes: StartTimes?

  public init(
    runs: Int = 100, failureRate: Double = 0, failing: Set<String> = [], seed: UInt64 = 1,
    expectedDurations: [String: Duration] = [:], defaultDuration: Duration = .seconds(300),
    maxParallel: Int = 10, failurePolicy: FailurePolicy = FailurePolicy(),
    clusterTimeout: Duration = .seconds(1800), startTimes: StartTimes? = nil
  ) {
    self.startTimes = startTimes
    self.runs = runs
    self.failureRate = failureRate
    self.failing = failing
    self.seed = seed
    self.expectedDurations = expectedDurations
    self.defaultDuration = defaultDuration
    self.maxParallel = maxParallel
    self.failurePolicy = failurePolicy
    self.clusterTimeout = clusterTimeout
  }
}

/// One simulated run, reduced to what the statistics need.
public struct SimulatedRun: Sendable, Equatable {
  public var seed: UInt64
  public var outcome: RunOutcome
  public var haltedWave: String?
  public var touched: Int
  public var rolledBack: Int
  public var failed: Int
  public var seconds: Double
}

public struct SimulationReport: Sendable, Equatable {
  public var fleet: String
  public var clusters: Int
  public var waves: [String]
  /// When the simulated runs start: windows and freezes are judged from here.
  public var start: Date
  public var options: SimulationOptions.Summary
  public var runs: [SimulatedRun]

  public func count(_ outcome: RunOutcome) -> Int { runs.filter { $0.outcome == outcome }.count }

  /// How many runs halted in each wave, in wave order (waves without halts left out).
  public var haltsByWave: [(wave: String, runs: Int)] {
    waves.compactMap { wave in
      let count = runs.filter { $0.haltedWave == wave }.count
      return count > 0 ? (wave, count) : nil
    }
  }

  public static func == (a: SimulationReport, b: SimulationReport) -> Bool {
    a.fleet == b.fleet && a.clusters == b.clusters && a.waves == b.waves && a.runs == b.runs
      && a.start == b.start && a.options == b.options
  }

  /// Nearest-rank percentile of `values` (`p` in 0...100).
  public static func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
  }

  public var text: String {
    let n = runs.count
    func pct(_ k: Int) -> String {
      n == 0 ? "0%" : Value.format((Double(k) * 1000 / Double(n)).rounded() / 10) + "%"
    }
    func spread(_ values: [Double], _ format: (Double) -> String) -> String {
      ["p50", "p90", "p99"].enumerated().map { index, name in
        "\(name) \(format(Self.percentile(values, [50, 90, 99][index])))"
      }.joined(separator: "  ") + "  max \(format(values.max() ?? 0))"
    }
    let number = { (v: Double) in String(Int(v)) }
    let time = { (v: Double) in DurationText.format(.seconds(Int64(v.rounded()))) }
    var out =
      "simulated \(n) runs of \(fleet) (\(clusters) clusters, \(waves.count) waves, driver sim); "
    out += "failure rate \(Value.format(options.failureRate * 100))%"
    if !options.failing.isEmpty { out += ", failing " + options.failing.joined(separator: ", ") }
    out += ", seed \(options.seed)\n"
    if options.startTimes {
      out += "  from \(Timestamp.iso(start)), waiting for windows and freezes as plan does\n"
    }
    for outcome in RunOutcome.allCases where self.count(outcome) > 0 || outcome == .halted {
      out += "  \(outcome.rawValue): \(self.count(outcome)) (\(pct(self.count(outcome))))\n"
    }
    if !haltsByWave.isEmpty {
      out +=
        "  halted in: " + haltsByWave.map { "\($0.wave) \($0.runs)" }.joined(separator: ", ")
        + "\n"
    }
    out += "  clusters touched:     " + spread(runs.map { Double($0.touched) }, number) + "\n"
    out += "  clusters rolled back: " + spread(runs.map { Double($0.rolledBack) }, number) + "\n"
    out += "  time to finish:       " + spread(runs.map(\.seconds), time) + "\n"
    return out
  }
}

extension SimulationOptions {
  /// What a report repeats of the options it ran with.
  public struct Summary: Sendable, Equatable {
    public var failureRate: Double
    public var failing: [String]
    public var seed: UInt64
    /// Whether windows and freezes held clusters back, as they do in `plan` and `rollout`.
    public var startTimes: Bool
  }

  var summary: Summary {
    Summary(
      failureRate: failureRate, failing: failing.sorted(), seed: seed,
      startTimes: startTimes != nil)
  }
}

public enum Simulation {
  /// Runs the plan `options.runs` times, each with its own seed (seed, seed+1, ...), each at
  /// virtual time: nothing sleeps, the clock jumps to the next event.
  public static func run(plan: Plan, clusters: [Cluster], options: SimulationOptions)
    throws(ExecutorError) -> SimulationReport
  {
    var durations: [String: SimDuration] = [:]
    for cluster in clusters {
      let expected =
        options.expectedDurations[cluster.name] ?? cluster.expectedDuration
        ?? options.defaultDuration
      let seconds = DurationText.seconds(expected)
      durations[cluster.name] = .uniform(
        .milliseconds(Int64(seconds * 500)), .milliseconds(Int64(seconds * 1500)))
    }
    var runs: [SimulatedRun] = []
    for index in 0..<max(0, options.runs) {
      let seed = options.seed &+ UInt64(index)
      let driver = SimDriver(
        duration: .fixed(options.defaultDuration), durations: durations,
        faults: SimFaults(
          upgrade: .init(names: options.failing, probability: options.failureRate)),
        seed: seed)
      let clock = ManualClock(start: plan.start)
      let executor = try Executor(
        plan: plan, clusters: clusters, driver: driver, clock: clock,
        approvals: StaticApprovals(["*"]),
        options: ExecutorOptions(
          run: "simulation-\(seed)", maxParallel: options.maxParallel,
          failurePolicy: options.failurePolicy, clusterTimeout: options.clusterTimeout,
          startTimes: options.startTimes))
      let summary = executor.runInVirtualTime(clock)
      runs.append(
        SimulatedRun(
          seed: seed, outcome: summary.outcome,
          haltedWave: summary.waves.first { $0.phase == .halted }?.name,
          touched: summary.clusters.filter(\.wasTouched).count,
          rolledBack: summary.clusters.filter { $0.phase == .rolledBack }.count,
          failed: summary.clusters.filter { $0.error != nil }.count,
          seconds: summary.finishedAt.timeIntervalSince(summary.startedAt)))
    }
    return SimulationReport(
      fleet: plan.fleet, clusters: plan.clusterCount, waves: plan.waves.map(\.name),
      start: plan.start,
      options: options.summary, runs: runs)
  }
}
