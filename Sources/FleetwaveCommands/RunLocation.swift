// Where the run verbs (resume, status, history, rollback, approve, pause) find runs.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Journal

struct RunLocation: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The state directory, or kube://CONTEXT/NAMESPACE for runs kept in a home cluster "
        + "(default: FLEET/.fleetwave with --fleet, else $FLEETWAVE_STATE, else ./.fleetwave).",
      valueName: "dir"))
  var state: String?

  @Option(help: ArgumentHelp("The fleet whose runs these are.", valueName: "dir"))
  var fleet: String?

  /// The fleet's local state directory: the default store, and where logs stay when runs are
  /// kept in a home cluster.
  var localDirectory: String {
    if var fleet {
      if fleet.hasSuffix(".yaml") || fleet.hasSuffix(".yml") {
        fleet = (fleet as NSString).deletingLastPathComponent
      }
      return (fleet.isEmpty ? "." : fleet) + "/.fleetwave"
    }
    return ".fleetwave"
  }

  /// --state, else FLEET/.fleetwave with --fleet, else $FLEETWAVE_STATE, else ./.fleetwave.
  var stateStore: any StateStore {
    get throws {
      let environment = ProcessInfo.processInfo.environment
      let named = state ?? (fleet == nil ? environment["FLEETWAVE_STATE"] : nil)
      return try StateBackend.store(state: named, directory: localDirectory, kubeconfig: nil)
    }
  }

  /// A run's records, or an error naming where it looked.
  func read(_ run: String) throws -> (header: RunHeader, records: [JournalRecord], state: RunState)
  {
    let store = try stateStore
    do {
      let stored = try store.readRun(run)
      // Say so: the run's last action may or may not have happened.
      if let torn = stored.tornTail { printError("warning: \(torn)") }
      return (stored.header, stored.records, stored.state)
    } catch {
      printError("error: \(error.message)")
      throw ExitCode(1)
    }
  }

  /// The latest run by start time, for `status` without a run id.
  func latest() throws -> String {
    let store = try stateStore
    guard let run = store.runsByStart().last?.header.id else {
      printError("error: no runs in \(store.location) (pass --state DIR or --fleet DIR)")
      throw ExitCode(1)
    }
    return run
  }
}

/// Options shared by the verbs that continue a run (resume, rollback).
struct ContinueOptions: ParsableArguments {
  @Option(help: "The driver, if the run was started with --driver.")
  var driver: String?

  @Option(help: "At most this many clusters in flight at once, if the run was started with it.")
  var maxParallel: Int?

  @Option(
    help: ArgumentHelp(
      "For testing and rehearsal: act as if the time were this.", valueName: "time"))
  var now: String?

  @Option(
    help: ArgumentHelp(
      "Who does this (default: $GITHUB_ACTOR, $GITLAB_USER_LOGIN, $USER).", valueName: "name"))
  var by: String?

  @Option(help: ArgumentHelp("Write the run report as JSON here.", valueName: "file"))
  var reportJson: String?

  @Option(help: ArgumentHelp("Write a JUnit XML report.", valueName: "file"))
  var junit: String?

  @Option(help: ArgumentHelp("Append a Markdown summary.", valueName: "file"))
  var markdown: String?

  @Option(help: ArgumentHelp("Write the run as an HTML page.", valueName: "file"))
  var html: String?

  /// The value flags the run started with (checked against the digests it recorded).
  @OptionGroup var valueFlags: HelmValueOptions

  /// Runs the recorded run on its fleet: resumes it, or rolls it back.
  func continueRun(
    _ run: String, location: RunLocation, replan: Bool = false, rollback: Bool = false,
    preflight: WavePreflightOptions? = nil, waiting: RunWaiting = .stop
  ) throws {
    let store = try location.stateStore
    let header = try location.read(run).header
    guard let directory = location.fleet ?? header.fleetDirectory else {
      printError("error: run \(run) does not record its fleet directory; pass --fleet DIR")
      throw ExitCode(1)
    }
    let loaded = try loadFleet(directory)
    // What the run recorded of its own options comes first; options given here win.
    let kindName = driver ?? header.settings["driver"]
    guard let kind = kindName.map({ DriverKind(rawValue: $0) }) ?? loaded.fleet.release.driver
    else {
      throw ValidationError(
        "unknown driver '\(kindName ?? "")'; expected one of: "
          + DriverKind.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let parallel =
      maxParallel ?? header.settings["maxParallel"].flatMap { Int($0) }
      ?? loaded.fleet.rollout.maxParallel
    let nowText = now ?? ProcessInfo.processInfo.environment["FLEETWAVE_NOW"]
    if let nowText, Timestamp.parse(nowText) == nil {
      throw ValidationError("--now: '\(nowText)' is not a time like 2027-01-15T08:00:00Z")
    }
    let overrides = try valueFlags.overrides()
    var request = RunRequest(maxParallel: parallel, by: RunRecords.user(by))
    request.sets = overrides.sets
    request.valueDigest = overrides.digest
    request.clusterTimeout = header.settings["clusterTimeout"].flatMap(DurationText.parse)
    request.waiting = waiting
    let result: RunResult
    var preflightGate: PreflightGate?
    do {
      var drivers = try RunDrivers.make(
        kind, for: loaded, run: run,
        stateDirectory: StateBackend.localDirectory(
          state: location.state, fallback: loaded.fleet.directory + "/.fleetwave"),
        values: overrides,
        kubeconfig: header.settings["kubeconfig"], now: nowText.flatMap(Timestamp.parse))
      // A rollback starts no wave: nothing to check before one.
      if !rollback { preflightGate = preflight?.attach(to: &drivers) }
      result = try ResumeAction(
        fleet: loaded, store: store, drivers: drivers, run: run, request: request,
        replan: replan || rollback, rollback: rollback
      ).run(observer: RolloutOutput())
    } catch {
      printError("error: \(error.message)")
      throw ExitCode(error.exitCode)
    }
    try finishRun(
      result,
      reports: RunReportFiles(json: reportJson, junit: junit, markdown: markdown, html: html),
      nextSteps: NextSteps(
        fleet: location.fleet,
        state: location.state ?? (location.fleet == nil ? store.location : nil)),
      untilBlocked: waiting == .untilBlocked, follow: waiting != .stop && waiting != .untilBlocked,
      checksFailed: preflightGate?.failed ?? false)
  }
}
