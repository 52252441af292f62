// `fleetwave rollout FLEET`: plan the fleet, run the plan through a driver, show progress,
// write the reports, exit 0/1/3.
import ArgumentParser
import Drivers
import Engine
import Executor
import FleetCore
import Foundation
import Inventory
import Journal
import Planner
import Report

extension FleetwaveCommand {
  struct Rollout: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Roll the release out across the fleet, wave by wave.",
      discussion: """
        Canary first, then each wave in parallel under its limits; a wave is promoted once all \
        its clusters are upgraded, verified and baked. Crossing a failure budget halts the \
        rollout and rolls back as the policy says. Ctrl-C stops starting clusters and lets the \
        running ones finish (a second Ctrl-C cancels them). Every transition is journaled \
        before it happens (STATE/runs/RUN/journal.log), so `fleetwave resume RUN` continues a \
        run after a crash. With the kube driver each wave's clusters are preflighted just \
        before the wave starts (see `fleetwave preflight`); an error stops the run there, \
        resumable. Exit codes: 0 succeeded (or, with --until-blocked, waiting), 1 halted, \
        failed or stopped by a failed preflight, 2 usage, 3 interrupted or waiting for approval, 4 nothing can start within the \
        planning horizon (a freeze or windows that never open).
        """)

    /// The exit code of a run whose every pending cluster is shut out for the whole horizon.
    static let neverUnblocked: Int32 = 4

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "The driver: kube, helm, exec or sim (default: the fleet's release.driver).")
    var driver: String?

    @Flag(help: "Plan and print what would run, without running anything.")
    var dryRun = false

    @Option(help: "At most this many clusters in flight at once (default: rollout.maxParallel).")
    var maxParallel: Int?

    @OptionGroup var valueFlags: HelmValueOptions

    @OptionGroup var scope: RolloutScopeOptions

    @Option(
      help: ArgumentHelp(
        "Approve a wave marked approval: true (or '*'); continues the fleet's unfinished run.",
        valueName: "wave"))
    var approve: [String] = []

    @Option(help: ArgumentHelp("Write the run report as JSON here.", valueName: "file"))
    var reportJson: String?

    @Option(
      help: ArgumentHelp("Write a JUnit XML report (a test case per cluster).", valueName: "file"))
    var junit: String?

    @Option(
      help: ArgumentHelp(
        "Append a Markdown summary (e.g. $GITHUB_STEP_SUMMARY).", valueName: "file"))
    var markdown: String?

    @Option(
      help: ArgumentHelp(
        "Write the run as a self-contained HTML page, with every measurement.", valueName: "file"))
    var html: String?

    @Flag(
      help: """
        In GitHub Actions: do not append the Markdown report to $GITHUB_STEP_SUMMARY \
        (appended by default).
        """)
    var noStepSummary = false

    @Option(help: ArgumentHelp("Where the exec driver keeps each cluster's log.", valueName: "dir"))
    var logDir: String?

    @Option(name: .customLong("run"), help: "The run's id (default: FLEET-TIMESTAMP).")
    var runID: String?

    @Option(help: ArgumentHelp("sim: fail this cluster's upgrade.", valueName: "cluster"))
    var simFail: [String] = []

    @Option(help: ArgumentHelp("sim: fail this cluster's health check.", valueName: "cluster"))
    var simFailHealth: [String] = []

    @Option(help: "sim: chance that any cluster's upgrade fails (0.05 or 5%).")
    var simFailureRate: String?

    @Option(help: "sim: seed for durations and random failures.")
    var simSeed: UInt64 = 1

    @Flag(help: "sim: wait in real time instead of jumping the clock to the next event.")
    var realTime = false

    @OptionGroup var kube: KubeRolloutOptions

    @OptionGroup var preflight: WavePreflightOptions

    @OptionGroup var versions: ReleaseVersionOptions

    @Option(
      help: ArgumentHelp(
        "Where runs, journals and the lock live: a directory, or kube://CONTEXT/NAMESPACE in a "
          + "home cluster (default: FLEET/.fleetwave).", valueName: "dir"))
    var state: String?

    @Flag(
      help: """
        Advance the run as far as windows, freezes, bakes and approvals allow, save it and \
        exit 0 saying what it waits for; continues the fleet's unfinished run if there is one \
        (for cron and scheduled pipelines).
        """)
    var untilBlocked = false

    @Flag(
      help: """
        Keep running through waits: sleep until windows open and bakes end, and poll the \
        journal for approvals and for the end of a pause.
        """)
    var follow = false

    @Flag(
      help: """
        With --follow and --state kube://...: run as one of several replicas. Waits for the \
        fleet's run lock, then continues the fleet's unfinished run (or starts one); takes over \
        within a lease duration and a renew period after the holder dies.
        """)
    var standby = false

    @Option(
      help: ArgumentHelp("With --follow: how often to look for approvals.", valueName: "seconds"))
    var pollInterval: Double = 30

    @Flag(
      help: """
        Run even though another process holds the fleet's run lock (for a lock on a shared \
        file system whose holder is known to be gone). Two runs may then change the same \
        clusters.
        """)
    var force = false

    @Option(
      help: ArgumentHelp(
        "For testing and rehearsal: act as if the time were this (also FLEETWAVE_NOW).",
        valueName: "time"))
    var now: String?

    @Option(
      help: ArgumentHelp(
        "Who approves, pauses or resumes (default: $GITHUB_ACTOR, $GITLAB_USER_LOGIN, $USER).",
        valueName: "name"))
    var by: String?

    @Flag(
      help: """
        Start a new run even though the fleet has an unfinished one (which stays as it is; \
        `fleetwave resume RUN` would continue it).
        """)
    var newRun = false

    func validate() throws {
      if let maxParallel, maxParallel < 1 {
        throw ValidationError("--max-parallel must be at least 1")
      }
      if let driver, DriverKind(rawValue: driver) == nil {
        throw ValidationError(
          "unknown driver '\(driver)'; expected one of: "
            + DriverKind.allCases.map(\.rawValue).joined(separator: ", "))
      }
      if let simFailureRate, FailureRate.parse(simFailureRate) == nil {
        throw ValidationError("--sim-failure-rate must be between 0 and 1 (or 0% and 100%)")
      }
      if untilBlocked && follow {
        throw ValidationError("--until-blocked and --follow exclude each other")
      }
      if let text = now ?? ProcessInfo.processInfo.environment["FLEETWAVE_NOW"],
        Timestamp.parse(text) == nil
      {
        throw ValidationError("--now: '\(text)' is not a time like 2027-01-15T08:00:00Z")
      }
      if !(pollInterval > 0) { throw ValidationError("--poll-interval must be positive") }
      if standby && (!follow || newRun) {
        throw ValidationError("--standby needs --follow and excludes --new-run")
      }
    }

    func run() throws {
      let overrides = try valueFlags.overrides()
      var loaded = try loadFleet(
        fleet, reports: InvalidFleetReports(junit: junit, markdown: markdown ?? stepSummary))
      try versions.apply(to: &loaded.fleet.release, fleetDirectory: loaded.fleet.directory)
      let fleet = loaded.fleet
      var kind = driver.flatMap(DriverKind.init(rawValue:)) ?? fleet.release.driver
      for name in simFail + simFailHealth { try requireCluster(name, in: fleet) }
      let subset = try scope.subset(of: fleet)
      let nowOverride = (now ?? ProcessInfo.processInfo.environment["FLEETWAVE_NOW"])
        .flatMap(Timestamp.parse)
      let startTime = nowOverride ?? Date()
      // $FLEETWAVE_STATE names a home cluster for every verb; a directory there is for the
      // run verbs only (a rollout keeps its runs beside its fleet unless --state says).
      let environmentState = ProcessInfo.processInfo.environment["FLEETWAVE_STATE"]
      let state = self.state ?? environmentState.flatMap { $0.hasPrefix("kube://") ? $0 : nil }
      let stateDirectory = StateBackend.localDirectory(
        state: state, fallback: fleet.directory + "/.fleetwave")
      var store = try StateBackend.store(
        state: state, directory: stateDirectory, kubeconfig: kube.connection.kubeconfig)
      let plan = Planner().plan(fleet, start: startTime)
      try requireWaves(approve, in: plan)
      if dryRun {
        print(
          Self.describe(
            plan, fleet: fleet, driver: kind,
            maxParallel: maxParallel ?? fleet.rollout.maxParallel, subset: subset,
            clusterTimeout: scope.clusterTimeout), terminator: "")
        return
      }
      var standbyRun: String?
      if standby {
        (store, standbyRun) = try waitAsStandby(
          store: store, fleet: fleet.name, startTime: startTime)
      }
      let continued =
        try standbyRun.map { run in store.listRuns().contains(run) ? try store.readRun(run) : nil }
        ?? runToContinue(store: store, fleet: fleet)
      // A continued run keeps the driver it started with unless told otherwise.
      if driver == nil, let recorded = continued?.header.settings["driver"],
        let recordedKind = DriverKind(rawValue: recorded)
      {
        kind = recordedKind
      }
      let parallel =
        maxParallel ?? continued?.header.settings["maxParallel"].flatMap { Int($0) }
        ?? fleet.rollout.maxParallel
      let runID =
        continued?.header.id ?? standbyRun ?? self.runID
        ?? Self.runID(fleet: fleet.name, at: startTime)
      var request = RunRequest(maxParallel: parallel, by: RunRecords.user(by))
      request.approve = approve
      request.force = force
      request.sets = overrides.sets
      request.valueDigest = overrides.digest
      // A continued run keeps the timeout it started with unless told otherwise.
      request.clusterTimeout =
        scope.clusterTimeout
        ?? continued?.header.settings["clusterTimeout"].flatMap(DurationText.parse)
      if let continued, !scope.isEmpty {
        throw ValidationError(
          "--cluster and --selector choose the clusters of a new run; run "
            + "\(continued.header.id) goes on with the clusters it started with")
      }
      if continued == nil, let subset {
        request.excluded = Set(fleet.clusters.map(\.name)).subtracting(subset)
      }
      request.waiting =
        untilBlocked
        ? .untilBlocked
        : follow ? .follow(poll: .milliseconds(Int64(pollInterval * 1000))) : .stop
      var settings = ["driver": kind.rawValue]
      if let maxParallel { settings["maxParallel"] = String(maxParallel) }
      if let kubeconfig = kube.connection.kubeconfig {
        settings["kubeconfig"] = URL(fileURLWithPath: kubeconfig).standardizedFileURL.path
      }
      request.settings = settings
      var sim = SimSettings()
      sim.failUpgrade = Set(simFail)
      sim.failHealth = Set(simFailHealth)
      sim.failureRate = simFailureRate.flatMap(FailureRate.parse) ?? 0
      sim.seed = simSeed
      sim.realTime = realTime

      let observer = RolloutOutput(resumeCommand: resumeCommand(runID))
      let result: RunResult
      var preflightGate: PreflightGate?
      do {
        var drivers = try RunDrivers.make(
          kind, for: loaded, run: runID, stateDirectory: stateDirectory, values: overrides,
          kubeconfig: kube.connection.kubeconfig, forceUnlock: kube.forceUnlock,
          logDirectory: logDir, sim: sim, now: nowOverride)
        preflightGate = preflight.attach(to: &drivers)
        if let continued {
          // Unbuffered, like the live view that follows it.
          observer.say(
            "continuing run \(runID), started \(Timestamp.iso(continued.header.startedAt)), "
              + "driver \(drivers.driver.name)")
          var resume = ResumeAction(
            fleet: loaded, store: store, drivers: drivers, run: runID, request: request)
          resume.liftsPause = false
          result = try resume.run(observer: observer)
        } else {
          result = try RolloutAction(
            fleet: loaded, plan: plan, store: store, drivers: drivers, run: runID,
            request: request
          ).run(observer: observer)
        }
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitCode)
      }
      // Before finishRun, which ends the command with the run's exit code.
      if let summary = result.summary { try publishToGitHubActions(summary) }
      try finishRun(
        result,
        reports: RunReportFiles(json: reportJson, junit: junit, markdown: markdown, html: html),
        nextSteps: NextSteps(fleet: self.fleet, state: state), untilBlocked: untilBlocked,
        follow: follow, checksFailed: preflightGate?.failed ?? false)
    }

    /// The run this invocation continues: the one --run names if it exists, else, with
    /// --until-blocked or --approve, the fleet's unfinished run. Otherwise an unfinished run is
    /// not left behind silently: a new run (named by --run or not) needs --new-run.
    private func runToContinue(store: any StateStore, fleet: Fleet) throws -> StoredRun? {
      if let runID, store.listRuns().contains(runID) {
        do {
          return try store.readRun(runID)
        } catch {
          printError("error: \(error.message)")
          throw ExitCode(1)
        }
      }
      guard !newRun, let unfinished = store.unfinishedRun(fleet: fleet.name) else { return nil }
      // A new run id is a new run: it is refused like any other while one is unfinished.
      if runID == nil && (untilBlocked || !approve.isEmpty) { return unfinished }
      let id = unfinished.header.id
      var message =
        "error: run \(id) of fleet '\(fleet.name)' is unfinished ("
        + (unfinished.state.waitingFor.map { "waiting for: \($0)" } ?? "stopped")
        + "); a new run would start again at the first wave.\n"
      message += "  fleetwave resume \(id)\(NextSteps(fleet: self.fleet, state: state).location)"
      message += " continues it; --new-run starts another run anyway"
      printError(message)
      throw ExitCode(1)
    }

    /// Every --approve must name a wave of the plan (or be '*'): a typo would otherwise
    /// approve nothing and leave the run waiting.
    private func requireWaves(_ names: [String], in plan: FleetCore.Plan) throws {
      let waves = plan.waves.map(\.name)
      for name in names where name != "*" && !waves.contains(name) {
        var message = "--approve \(name): the plan has no wave '\(name)'"
        if let suggestion = Suggestion.closest(to: name, among: waves) {
          message += "; did you mean '\(suggestion)'?"
        } else {
          message += "; its waves are " + waves.joined(separator: ", ")
        }
        throw ValidationError(message)
      }
    }

    static func closingLine(
      _ summary: RunSummary, rollback: Bool = false, nextSteps: NextSteps = NextSteps()
    ) -> String {
      var counts: [ReportedState: Int] = [:]
      for record in summary.clusters {
        counts[ReportedState(record, outcome: summary.outcome), default: 0] += 1
      }
      let parts = ReportedState.allCases.compactMap { state in
        counts[state].map { "\($0) \(state.rawValue)" }
      }
      let outcome =
        rollback
        ? (summary.clusters.contains { $0.phase == .rollbackFailed }
          ? "rollback failed" : "rolled back")
        : summary.outcome.rawValue
      var line =
        "\(rollback ? "rollback" : "rollout") \(summary.run): \(outcome) ("
        + parts.joined(separator: ", ") + ")"
      if let reason = summary.reason { line += "\n  " + reason }
      let rolledBack = summary.clusters.filter { $0.phase == .rolledBack }.map(\.name)
      if !rolledBack.isEmpty { line += "\n  rolled back: " + rolledBack.joined(separator: ", ") }
      if !summary.midUpgrade.isEmpty {
        line +=
          "\n  stopped mid-change (revision unknown): " + summary.midUpgrade.joined(separator: ", ")
      }
      if let wave = summary.waitingForApproval {
        line += "\n  " + nextSteps.approval(run: summary.run, wave: wave).joined(separator: "\n  ")
      }
      return line
    }

    static func runID(fleet: String, at date: Date) -> String {
      let stamp = Timestamp.iso(date).prefix(19).filter { $0 != "-" && $0 != ":" }
      return RunInstance.runID(fleet: fleet, stamp: String(stamp))
    }

    static func describe(
      _ plan: FleetCore.Plan, fleet: Fleet, driver: DriverKind, maxParallel: Int,
      subset: Set<String>? = nil, clusterTimeout: Duration? = nil
    ) -> String {
      let policy = fleet.rollout.failurePolicy
      var text =
        "dry run: \(plan.clusterCount) clusters of \(fleet.name) in \(plan.waves.count) waves, "
      text += "driver \(driver.rawValue), at most \(maxParallel) at once; nothing was changed\n"
      for wave in plan.waves {
        text += "wave \(wave.index) \(wave.name)\(wave.isCanary ? " (canary)" : ""): "
        text += "\(wave.clusters.count) clusters, maxParallel \(min(maxParallel, wave.maxParallel))"
        if let perDomain = wave.maxPerDomain { text += ", maxPerDomain \(perDomain)" }
        text +=
          ", bake \(DurationText.format(wave.bake)), tolerates \(wave.allowedFailures) failures"
        if wave.approval { text += ", needs approval" }
        text += "\n  " + wave.clusters.joined(separator: ", ") + "\n"
        if let subset {
          let excluded = wave.clusters.filter { !subset.contains($0) }
          if !excluded.isEmpty { text += "  excluded: " + excluded.joined(separator: ", ") + "\n" }
        }
      }
      if let clusterTimeout {
        text += "each cluster may take \(DurationText.format(clusterTimeout)) (--timeout)\n"
      }
      text += "on a crossed budget: halt, rollback \(policy.rollback.rawValue), in-flight clusters "
      text += policy.inFlight == .finish ? "finish\n" : "cancelled\n"
      if driver == .exec, let exec = fleet.release.exec,
        let first = plan.waves.first?.clusters.first,
        let cluster = fleet.cluster(named: first)
      {
        let variables = TemplateVariables.values(for: fleet.release)
        let rendered =
          (try? ClusterTemplate.render(
            exec.upgrade, cluster: cluster, variables: variables, sink: .shell))
          ?? exec.upgrade
        text += "per cluster: /bin/sh -c '\(rendered)' (as for \(first))\n"
      }
      for note in plan.notes { text += "note: \(note.message)\n" }
      return text
    }
  }
}

/// A probability written as 0.05 or 5%.
enum FailureRate {
  static func parse(_ text: String) -> Double? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let value: Double?
    if trimmed.hasSuffix("%") {
      value = Double(trimmed.dropLast()).map { $0 / 100 }
    } else {
      value = Double(trimmed)
    }
    guard let value, value >= 0, value <= 1 else { return nil }
    return value
  }
}

/// Loads a fleet or prints its problems and exits 1.
func loadFleet(_ path: String, reports: InvalidFleetReports? = nil) throws -> LoadedFleet {
  do {
    return try FleetLoader.load(directory: path)
  } catch {
    for diagnostic in error.diagnostics { printError(diagnostic.description) }
    reports?.write(fleet: path, diagnostics: error.diagnostics)
    if reports != nil, GitHubActions() != nil {
      for line in GitHubActions.annotations(error.diagnostics) { print(line) }
    }
    throw ExitCode(1)
  }
}

/// A cluster named on the command line must exist: usage error with a suggestion otherwise.
func requireCluster(_ name: String, in fleet: Fleet) throws {
  guard fleet.cluster(named: name) == nil else { return }
  var message = "no cluster named '\(name)' in fleet '\(fleet.name)'"
  if let suggestion = Suggestion.closest(to: name, among: fleet.clusters.map(\.name)) {
    message += "; did you mean '\(suggestion)'?"
  }
  throw ValidationError(message)
}

/// The command-line side of a run action: the live view around each pass, notes on standard
/// error, other lines on standard output.
final class RolloutOutput: RunObserver {
  private var progress: ProgressView?
  /// What the live view prints after Ctrl-C.
  private let resumeCommand: String?

  init(resumeCommand: String? = nil) { self.resumeCommand = resumeCommand }

  func note(_ line: String) { printError(line) }

  func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

  func passStarting(
    _ executor: Executor, plan: FleetCore.Plan, maxParallel: Int, clock: any RolloutClock
  ) {
    let output = FileHandle.standardOutput
    let progress = ProgressView(
      plan: plan, style: ProgressView.style(for: STDOUT_FILENO), maxParallel: maxParallel,
      clock: clock, ticks: clock is ManualClock ? SystemClock() : clock,
      width: ProgressView.columns(of: STDOUT_FILENO) ?? 100,
      colour: ProgressView.colours(for: STDOUT_FILENO), resumeCommand: resumeCommand,
      driver: executor.driver.name, write: { output.write(Data($0.utf8)) })
    executor.observe { progress.handle($0) }
    progress.start()
    self.progress = progress
  }

  func passEnded() {
    progress?.finish()
    progress = nil
  }
}

/// The report files a run command was asked to write.
struct RunReportFiles {
  var json: String?
  var junit: String?
  var markdown: String?
  var html: String?

  func write(_ summary: RunSummary) throws {
    do {
      if let json {
        try RunReportJSON.string(summary).write(toFile: json, atomically: true, encoding: .utf8)
      }
      if let html {
        try RunHTML.string(summary).write(toFile: html, atomically: true, encoding: .utf8)
      }
      if let junit {
        try RunJUnit.string(summary).write(toFile: junit, atomically: true, encoding: .utf8)
      }
      if let markdown {
        if !FileManager.default.fileExists(atPath: markdown) {
          _ = FileManager.default.createFile(atPath: markdown, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: markdown) else {
          throw CocoaError(.fileWriteNoPermission)
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(RunMarkdown.string(summary).utf8))
      }
    } catch {
      printError("error: cannot write a report: \(error.localizedDescription)")
      throw ExitCode(1)
    }
  }
}

/// The commands that continue a run, spelled so that they work verbatim from where this one
/// ran: the run's state is found through the same --state or fleet directory.
struct NextSteps {
  /// The fleet as given on the command line.
  var fleet: String?
  /// The state directory as given on the command line.
  var state: String?

  /// ` --state DIR` or ` --fleet DIR`: how the run verbs find this run's state.
  var location: String {
    if let state { return " --state " + Self.quoted(state) }
    if let fleet { return " --fleet " + Self.quoted(fleet) }
    return ""
  }

  func approval(run: String, wave: String) -> [String] {
    var lines = [
      "to go on, approve the wave and resume the run:",
      "  fleetwave approve \(Self.quoted(run)) --wave \(Self.quoted(wave))\(location)",
      "  fleetwave resume \(Self.quoted(run))\(location)",
    ]
    if let fleet {
      lines.append(
        "or in one step: fleetwave rollout \(Self.quoted(fleet)) --approve \(Self.quoted(wave))"
          + (state.map { " --state " + Self.quoted($0) } ?? ""))
    }
    return lines
  }

  /// A word as a POSIX shell reads it back unchanged.
  static func quoted(_ word: String) -> String {
    let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@%+,".contains($0) }
    if plain && !word.isEmpty { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}

/// Prints how a run action ended, writes its reports and exits with the run's code: 0
/// succeeded (or stopped at a wait with --until-blocked), 1 halted or failed (or stopped by a
/// failed preflight, `checksFailed`), 3 interrupted or waiting for approval, 4 nothing can start within the planning horizon.
func finishRun(
  _ result: RunResult, reports: RunReportFiles, nextSteps: NextSteps, untilBlocked: Bool,
  follow: Bool, checksFailed: Bool = false
) throws {
  guard let summary = result.summary else {
    print("run \(result.run) already finished: \(result.finishedBefore ?? "?"); nothing to do")
    return
  }
  try reports.write(summary)
  print(
    FleetwaveCommand.Rollout.closingLine(summary, rollback: result.isRollback, nextSteps: nextSteps)
  )
  if let blocked = result.blocked, untilBlocked || follow {
    print("waiting for: \(blocked.reason)")
    if blocked.neverWithinHorizon {
      // A scheduled job that exits 0 here would stay green for ever while nothing ships.
      printError("error: nothing in this run can start within the planning horizon")
      throw ExitCode(FleetwaveCommand.Rollout.neverUnblocked)
    }
    if untilBlocked { return }
  }
  switch summary.outcome {
  case .succeeded: return
  case .halted:
    if result.isRollback, !summary.clusters.contains(where: { $0.phase == .rollbackFailed }) {
      return
    }
    throw ExitCode(1)
  case .failed: throw ExitCode(1)
  // Stopped by a failed preflight: not a wait or an interrupt, but a problem to fix.
  case .interrupted: throw ExitCode(checksFailed ? 1 : 3)
  }
}
