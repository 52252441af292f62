// `fleetwave uninstall FLEET`: retire the release across the fleet in the plan's waves.
import ArgumentParser
import Drivers
import Engine
import FleetCore
import Foundation
import Inventory
import Journal
import Planner

extension FleetwaveCommand {
  struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Remove the release from the fleet, wave by wave, canaries first.",
      discussion: """
        Runs like a rollout (the plan's waves and order, maxParallel, failure budgets, \
        approvals and bakes; journaled, so `fleetwave resume RUN` continues it) but each \
        cluster's release is uninstalled: kube runs the pre-delete hooks, deletes every object \
        of the release in reverse install order, waits until they are gone and runs the \
        post-delete hooks; helm runs `helm uninstall --wait`. Health gates are not run and \
        nothing is rolled back. A cluster without the release is `not-installed` and counts as \
        done. Exit codes as for rollout.
        """)

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "The driver: kube, helm or sim (default: the fleet's release.driver).")
    var driver: String?

    @Flag(help: "Keep the revision records, marked uninstalled (helm's --keep-history).")
    var keepHistory = false

    @Flag(help: "Plan and print what would run, without running anything.")
    var dryRun = false

    @Option(help: "At most this many clusters in flight at once (default: rollout.maxParallel).")
    var maxParallel: Int?

    @OptionGroup var valueFlags: HelmValueOptions

    @OptionGroup var scope: RolloutScopeOptions

    @Option(
      help: ArgumentHelp("Approve a wave marked approval: true (or '*').", valueName: "wave"))
    var approve: [String] = []

    @Option(help: ArgumentHelp("Write the run report as JSON here.", valueName: "file"))
    var reportJson: String?

    @Option(
      help: ArgumentHelp("Write a JUnit XML report (a test case per cluster).", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Append a Markdown summary.", valueName: "file"))
    var markdown: String?

    @Option(help: ArgumentHelp("Write the run as a self-contained HTML page.", valueName: "file"))
    var html: String?

    @Option(name: .customLong("run"), help: "The run's id (default: FLEET-TIMESTAMP).")
    var runID: String?

    @Option(help: ArgumentHelp("sim: fail this cluster's uninstall.", valueName: "cluster"))
    var simFail: [String] = []

    @OptionGroup var kube: KubeRolloutOptions

    @Option(
      help: ArgumentHelp(
        "Where runs, journals and the lock live: a directory, or kube://CONTEXT/NAMESPACE "
          + "(default: FLEET/.fleetwave).", valueName: "dir"))
    var state: String?

    @Flag(help: "Run even though another process holds the fleet's run lock.")
    var force = false

    @Option(help: ArgumentHelp("Who runs it (default: $USER).", valueName: "name"))
    var by: String?

    func validate() throws {
      if let maxParallel, maxParallel < 1 {
        throw ValidationError("--max-parallel must be at least 1")
      }
      if let driver {
        guard let kind = DriverKind(rawValue: driver) else {
          throw ValidationError(
            "unknown driver '\(driver)'; expected one of: "
              + DriverKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if kind == .exec {
          throw ValidationError("the exec driver cannot uninstall; use kube, helm or sim")
        }
      }
    }

    func run() throws {
      let overrides = try valueFlags.overrides()
      let loaded = try loadFleet(
        fleet, reports: InvalidFleetReports(junit: junit, markdown: markdown))
      let fleet = loaded.fleet
      let kind = driver.flatMap(DriverKind.init(rawValue:)) ?? fleet.release.driver
      if kind == .exec {
        throw ValidationError("the exec driver cannot uninstall; use --driver kube, helm or sim")
      }
      for name in simFail { try requireCluster(name, in: fleet) }
      let subset = try scope.subset(of: fleet)
      let environmentState = ProcessInfo.processInfo.environment["FLEETWAVE_STATE"]
      let state = self.state ?? environmentState.flatMap { $0.hasPrefix("kube://") ? $0 : nil }
      let stateDirectory = StateBackend.localDirectory(
        state: state, fallback: fleet.directory + "/.fleetwave")
      let startTime = Date()
      let plan = Planner().plan(fleet, start: startTime)
      let parallel = maxParallel ?? fleet.rollout.maxParallel
      if dryRun {
        print(
          Rollout.describe(
            plan, fleet: fleet, driver: kind, maxParallel: parallel, subset: subset,
            clusterTimeout: scope.clusterTimeout, uninstall: keepHistory ? .keepHistory : .purge),
          terminator: "")
        return
      }
      let store = try StateBackend.store(
        state: state, directory: stateDirectory, kubeconfig: kube.connection.kubeconfig)
      if let unfinished = store.unfinishedRun(fleet: fleet.name) {
        let id = unfinished.header.id
        printError(
          "error: run \(id) of fleet '\(fleet.name)' is unfinished; finish it first:\n"
            + "  fleetwave resume \(id)\(NextSteps(fleet: self.fleet, state: state).location)")
        throw ExitCode(1)
      }
      let runID = self.runID ?? Rollout.runID(fleet: fleet.name, at: startTime)
      var request = RunRequest(maxParallel: parallel, by: RunRecords.user(by))
      request.approve = approve
      request.force = force
      request.sets = overrides.sets
      request.valueDigest = overrides.digest
      request.clusterTimeout = scope.clusterTimeout
      if let subset { request.excluded = Set(fleet.clusters.map(\.name)).subtracting(subset) }
      var settings = UninstallRun.settings(keepHistory: keepHistory)
      settings["driver"] = kind.rawValue
      if let maxParallel { settings["maxParallel"] = String(maxParallel) }
      if let kubeconfig = kube.connection.kubeconfig {
        settings["kubeconfig"] = URL(fileURLWithPath: kubeconfig).standardizedFileURL.path
      }
      request.settings = settings
      var sim = SimSettings()
      sim.failUpgrade = Set(simFail)
      let result: RunResult
      do {
        let drivers = try RunDrivers.make(
          kind, for: loaded, run: runID, stateDirectory: stateDirectory, values: overrides,
          kubeconfig: kube.connection.kubeconfig, forceUnlock: kube.forceUnlock, sim: sim)
        result = try RolloutAction(
          fleet: loaded, plan: plan, store: store, drivers: drivers, run: runID,
          request: request
        ).run(
          observer: RolloutOutput(
            resumeCommand: "fleetwave resume \(NextSteps.quoted(runID))"
              + NextSteps(fleet: self.fleet, state: state).location))
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitCode)
      }
      try finishRun(
        result,
        reports: RunReportFiles(json: reportJson, junit: junit, markdown: markdown, html: html),
        // Without the fleet: its one-step approval is a `rollout --approve`, which must not
        // continue an uninstall; approve and resume find the run by its state directory.
        nextSteps: NextSteps(fleet: nil, state: state ?? stateDirectory), untilBlocked: false,
        follow: false)
    }
  }
}
