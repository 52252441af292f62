// `fleetwave simulate FLEET`: the rollout policy run many times on the sim driver at virtual
// time, with halts, rollbacks and time to finish summarised.
import ArgumentParser
import Executor
import FleetCore
import Foundation
import Inventory
import Planner

extension FleetwaveCommand {
  struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the rollout policy many times in simulation and summarise the outcomes.",
      discussion: """
        Each run uses the sim driver at virtual time (no waiting): every cluster takes between \
        half and one and a half times its expectedDuration, upgrades fail at --failure-rate and \
        always for --fail clusters. Prints how often the rollout halts and where, how many \
        clusters get touched and rolled back, and the time to finish (percentiles). Runs start \
        now (or at --now) and wait for maintenance windows and freezes as `plan` and `rollout` \
        do; approvals are taken as given at once.
        """)

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "How many runs.")
    var runs: Int = 100

    @Option(help: "Chance that any one cluster's upgrade fails (0.05 or 5%).")
    var failureRate: String = "0"

    @Option(
      parsing: .upToNextOption,
      help: ArgumentHelp("Clusters whose upgrade always fails.", valueName: "cluster"))
    var fail: [String] = []

    @Option(help: "Seed of the first run; run i uses seed+i.")
    var seed: UInt64 = 1

    @Option(help: "At most this many clusters in flight at once (default: rollout.maxParallel).")
    var maxParallel: Int?

    @Option(
      help: ArgumentHelp(
        "Start the runs at this time, for windows and freezes (also FLEETWAVE_NOW).",
        valueName: "time"))
    var now: String?

    private var nowText: String? { now ?? ProcessInfo.processInfo.environment["FLEETWAVE_NOW"] }

    func validate() throws {
      guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
      guard FailureRate.parse(failureRate) != nil else {
        throw ValidationError("--failure-rate must be between 0 and 1 (or 0% and 100%)")
      }
      if let maxParallel, maxParallel < 1 {
        throw ValidationError("--max-parallel must be at least 1")
      }
      if let text = nowText, Timestamp.parse(text) == nil {
        throw ValidationError("--now: '\(text)' is not a time like 2027-01-15T08:00:00Z")
      }
    }

    func run() throws {
      let loaded = try loadFleet(fleet)
      let fleet = loaded.fleet
      for name in fail { try requireCluster(name, in: fleet) }
      let plan = Planner().plan(fleet, start: nowText.flatMap(Timestamp.parse) ?? Date())
      let policy = fleet.rollout
      let options = SimulationOptions(
        runs: runs, failureRate: FailureRate.parse(failureRate) ?? 0, failing: Set(fail),
        seed: seed, defaultDuration: policy.expectedDuration,
        maxParallel: maxParallel ?? policy.maxParallel, failurePolicy: policy.failurePolicy,
        clusterTimeout: policy.clusterTimeout, startTimes: StartTimes(fleet: fleet))
      do {
        print(
          try Simulation.run(plan: plan, clusters: fleet.clusters, options: options).text,
          terminator: "")
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(1)
      }
    }
  }
}
