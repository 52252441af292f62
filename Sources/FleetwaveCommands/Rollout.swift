// `fleetwave rollout FLEET`: plan the fleet, run the plan through a driver, show progress,
// write the reports, exit 0/1/3.
import ArgumentParser
import Drivers
import Executor
import FleetCore
import Foundation
import HTTP
import Health
import Inventory
import Journal
import Planner
import ProcessGroups
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
        run after a crash. Exit codes: 0 succeeded (or, with --until-blocked, waiting), 1 halted \
        or failed, 2 usage, 3 interrupted or waiting for approval, 4 nothing can start within the \
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

    @Option(
      name: .customLong("set"),
      help: ArgumentHelp("Set a value as helm --set does, for every cluster.", valueName: "k=v"))
    var sets: [String] = []

    @Option(help: ArgumentHelp("Approve a wave marked approval: true (or '*').", valueName: "wave"))
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

    @Option(
      help: ArgumentHelp(
        "Where runs, journals and the lock live (default: FLEET/.fleetwave).", valueName: "dir"))
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
      help: ArgumentHelp("Who approves, pauses or resumes (default: $USER).", valueName: "name"))
    var by: String?

    @Option(help: .hidden)
    var resumeRun: String?

    @Option(help: .hidden)
    var rollbackRun: String?

    @Flag(help: "With resume: accept a fleet that changed since the run started, and show how.")
    var replan = false

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
    }

    func run() throws {
      let loaded = try loadFleet(
        fleet, reports: InvalidFleetReports(junit: junit, markdown: markdown))
      let fleet = loaded.fleet
      let kind = driver.flatMap(DriverKind.init(rawValue:)) ?? fleet.release.driver
      for name in simFail + simFailHealth { try requireCluster(name, in: fleet) }
      let nowOverride = (now ?? ProcessInfo.processInfo.environment["FLEETWAVE_NOW"])
        .flatMap(Timestamp.parse)
      let startTime = nowOverride ?? Date()
      let store = RunStore(stateDirectory: state ?? fleet.directory + "/.fleetwave")
      // A scheduled invocation continues its run: the one named, else the fleet's unfinished one.
      var continued = resumeRun ?? rollbackRun
      if continued == nil && untilBlocked {
        continued =
          runID.map { FileManager.default.fileExists(atPath: store.journalPath($0)) ? $0 : nil }
          ?? RunRecords.unfinished(in: store, fleet: fleet.name)
      }
      let runID = continued ?? self.runID ?? Self.runID(fleet: fleet.name, at: startTime)
      let policy = fleet.rollout
      let parallel = maxParallel ?? policy.maxParallel
      let lock =
        dryRun
        ? nil
        : try RunSession.lock(
          store: store, fleet: fleet.name, run: runID, at: startTime, force: force)
      let recorded = try continued.map { try RunSession.reopen(store: store, run: $0) }
      let planned = Planner().plan(fleet, start: recorded?.header.startedAt ?? startTime)

      if dryRun {
        print(
          Self.describe(planned, fleet: fleet, driver: kind, maxParallel: parallel), terminator: "")
        return
      }
      // Each cluster in flight may hold a few descriptors; say so now rather than fail later.
      if let warning = DescriptorLimit.raise(forMaxParallel: parallel) {
        FileHandle.standardError.write(Data((warning + "\n").utf8))
      }

      let sim: SimDriver?
      let driver: any Driver
      var gates: [any HealthGate] = []
      var waveGates: [any HealthGate] = []
      var clock: any RolloutClock =
        nowOverride == nil ? SystemClock() : OffsetClock(startingAt: startTime)
      var manual: ManualClock?
      switch kind {
      case .sim:
        let simulated = SimDriver(
          duration: .fixed(policy.expectedDuration),
          durations: Dictionary(
            uniqueKeysWithValues: fleet.clusters.compactMap { c in
              c.expectedDuration.map { (c.name, SimDuration.fixed($0)) }
            }),
          faults: SimFaults(
            upgrade: .init(
              names: Set(simFail),
              probability: simFailureRate.flatMap(FailureRate.parse) ?? 0),
            health: .init(names: Set(simFailHealth))),
          seed: simSeed)
        sim = simulated
        driver = simulated
        gates = [SimHealthGate(driver: simulated)]
        if !realTime {
          let virtual = ManualClock(start: startTime)
          manual = virtual
          clock = virtual
        }
      case .exec:
        sim = nil
        guard let commands = fleet.release.exec else {
          printError("error: release.exec is not set; the exec driver needs release.exec.upgrade")
          throw ExitCode(1)
        }
        let values = loaded.values
        let sets = self.sets
        driver = ExecDriver(
          commands: commands, release: fleet.release,
          logDirectory: logDir ?? "\(store.runsDirectory)/\(runID)/logs",
          values: { cluster in
            do throws(DiagnosticError) {
              return try values.values(for: cluster, sets: sets)
            } catch {
              throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
            }
          })
      case .kube:
        sim = nil
        driver = makeKubeDriver(
          loaded, sets: sets, kubeconfig: kube.connection.kubeconfig,
          options: KubeDriverOptions(forceUnlock: kube.forceUnlock))
      case .helm:
        sim = nil
        driver = try HelmRollout.driver(
          loaded, sets: sets, kubeconfig: kube.connection.kubeconfig,
          logDirectory: logDir ?? "\(store.runsDirectory)/\(runID)/logs")
      }
      if kind != .sim {
        // Drivers that change real clusters are verified by the fleet's own gates.
        let transport = HTTPTransport()
        var variables = TemplateVariables.values(for: fleet.release)
        variables["run"] = runID
        // Command gates reach the clusters as the run does: kubectl and helm read KUBECONFIG.
        let environment =
          kube.connection.kubeconfig.map {
            ["KUBECONFIG": URL(fileURLWithPath: $0).standardizedFileURL.path]
          } ?? [:]
        gates = policy.health.map {
          HealthGates.make(
            spec: $0, transport: transport, variables: variables, environment: environment)
        }
        waveGates = policy.waveHealth.map {
          HealthGates.make(
            spec: $0, transport: transport, variables: variables, environment: environment)
        }
      }
      _ = sim

      let session = try RunSession.begin(
        store: store, run: runID, lock: lock, recorded: recorded, fleet: fleet, plan: planned,
        clock: clock, command: self)
      var summary: RunSummary
      var blocked: Blocked?
      var announced: String?
      // One signal handler for the whole command: it interrupts the pass running now, or
      // ends a --follow wait between passes, so SIGINT/SIGTERM are honoured in every phase.
      let interrupts = RunInterrupts()
      let signals = InterruptSignals { _, count in
        if count == 1 {
          printError("\ninterrupt: finishing clusters in flight; interrupt again to cancel them")
        }
        interrupts.interrupt()
      }
      repeat {
        (summary, blocked) = try withExtendedLifetime(signals) {
          try runOnce(
            session: session, plan: planned, fleet: fleet, driver: driver, gates: gates,
            waveGates: waveGates, clock: clock, manual: manual, parallel: parallel,
            interrupts: interrupts)
        }
        guard follow, let wait = blocked, wait.until == nil, !interrupts.requested else { break }
        // Following, an approval or the end of a pause comes from another process.
        if announced != wait.reason {
          announced = wait.reason
          FileHandle.standardOutput.write(Data("waiting for: \(wait.reason)\n".utf8))
        }
        let poll = Duration.milliseconds(Int64(pollInterval * 1000))
        if let manual {
          // Virtual time stands still between passes: the approval comes in real time, so
          // the poll sleeps on the system clock and virtual time moves on by as much.
          SystemClock().wait(for: poll, cancellation: interrupts.stopWaiting)
          manual.advance(by: poll)
        } else {
          clock.wait(for: poll, cancellation: interrupts.stopWaiting)
        }
      } while !interrupts.requested

      try writeReports(summary)
      session.finish(summary, blocked: blocked)
      print(Self.closingLine(summary, rollback: rollbackRun != nil))
      if let blocked, untilBlocked || follow {
        print("waiting for: \(blocked.reason)")
        if blocked.neverWithinHorizon {
          // A scheduled job that exits 0 here would stay green for ever while nothing ships.
          FileHandle.standardError.write(
            Data("error: nothing in this run can start within the planning horizon\n".utf8))
          throw ExitCode(Self.neverUnblocked)
        }
        if untilBlocked { return }
      }
      switch summary.outcome {
      case .succeeded: return
      case .halted:
        if rollbackRun != nil, !summary.clusters.contains(where: { $0.phase == .rollbackFailed }) {
          return
        }
        throw ExitCode(1)
      case .failed: throw ExitCode(1)
      case .interrupted: throw ExitCode(3)
      }
    }

    /// One pass of the executor over the run as its journal stands.
    private func runOnce(
      session: RunSession, plan planned: FleetCore.Plan, fleet: Fleet, driver: any Driver,
      gates: [any HealthGate], waveGates: [any HealthGate], clock: any RolloutClock,
      manual: ManualClock?, parallel: Int, interrupts: RunInterrupts
    ) throws -> (RunSummary, Blocked?) {
      let policy = fleet.rollout
      let journal = session.journal
      let executor: Executor
      do {
        executor = try Executor(
          plan: planned, clusters: fleet.clusters, driver: driver, gates: gates,
          waveGates: waveGates, clock: clock,
          approvals: JournalApprovals(journal: journal, approved: Set(approve)),
          options: ExecutorOptions(
            run: session.run, maxParallel: parallel, failurePolicy: policy.failurePolicy,
            clusterTimeout: policy.clusterTimeout, startTimes: StartTimes(fleet: fleet),
            waiting: untilBlocked ? .untilBlocked : .follow,
            resumeFrom: session.recordedRun(plan: planned, rollback: rollbackRun != nil),
            pausedBy: {
              // Reads only what another process appended since (a pause): never a replay.
              journal.refresh()
              return journal.withState { $0.paused ? $0.pausedBy ?? "someone" : nil }
            }
          ).resumedRun(startedAt: journal.header.startedAt))
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(1)
      }
      let rollingBack = rollbackRun != nil
      let waveNames = planned.waves.map(\.name)
      executor.recordAhead { event, record in
        if rollingBack, case .runFinished = event { return }
        guard let entry = RunRecorder.entry(for: event, cluster: record, waves: waveNames) else {
          return
        }
        // Each --follow pass finds the wave where the last one left it (waiting for approval):
        // a state the journal already holds is not written again.
        if case .wave(_, let state, let name?, nil) = entry,
          journal.withState({ $0.waves[name] == state })
        {
          return
        }
        try journal.append(entry)
      }

      let output = FileHandle.standardOutput
      let style = ProgressView.style(for: STDOUT_FILENO)
      let progress = ProgressView(
        plan: planned, style: style, maxParallel: parallel, clock: clock,
        width: ProgressView.columns(of: STDOUT_FILENO) ?? 100, driver: driver.name,
        write: { output.write(Data($0.utf8)) })
      executor.observe { progress.handle($0) }
      progress.start()
      interrupts.running(executor)
      let summary = manual.map { executor.runInVirtualTime($0) } ?? executor.run()
      interrupts.running(nil)
      progress.finish()
      return (summary, executor.blockedBy)
    }

    private func writeReports(_ summary: RunSummary) throws {
      do {
        if let reportJson {
          try RunReportJSON.string(summary).write(
            toFile: reportJson, atomically: true, encoding: .utf8)
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

    static func closingLine(_ summary: RunSummary, rollback: Bool = false) -> String {
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
        line += "\n  to go on, run again with --approve \(wave)"
      }
      return line
    }

    static func runID(fleet: String, at date: Date) -> String {
      let stamp = Timestamp.iso(date).prefix(19).filter { $0 != "-" && $0 != ":" }
      return "\(fleet)-\(stamp)"
    }

    static func describe(_ plan: FleetCore.Plan, fleet: Fleet, driver: DriverKind, maxParallel: Int)
      -> String
    {
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

/// Where this process's interrupts go: the executor of the pass running now (the first stops
/// new work, the second cancels what is in flight), and the wait between --follow passes.
final class RunInterrupts: @unchecked Sendable {
  private let lock = NSLock()
  private var executor: Executor?
  private var count = 0
  /// Cancelled by the first interrupt: ends a wait between passes at once.
  let stopWaiting = Cancellation()

  var requested: Bool { stopWaiting.isCancelled }

  /// The pass now running; an interrupt that came before it started is passed on at once.
  func running(_ executor: Executor?) {
    lock.lock()
    self.executor = executor
    let missed = count
    lock.unlock()
    for _ in 0..<missed { executor?.interrupt() }
  }

  func interrupt() {
    lock.lock()
    count += 1
    let executor = self.executor
    lock.unlock()
    stopWaiting.cancel()
    executor?.interrupt()
  }
}

extension ExecutorOptions {
  /// These options for a pass of a run whose journal began at `startedAt`.
  func resumedRun(startedAt: Date) -> ExecutorOptions {
    var options = self
    options.startedAt = startedAt
    return options
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
