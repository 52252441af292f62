// Where the run verbs (resume, status, history, rollback, approve, pause) find runs.
import ArgumentParser
import FleetCore
import Foundation
import Journal

struct RunLocation: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The state directory (default: FLEET/.fleetwave with --fleet, else $FLEETWAVE_STATE, "
        + "else ./.fleetwave).", valueName: "dir"))
  var state: String?

  @Option(help: ArgumentHelp("The fleet whose runs these are.", valueName: "dir"))
  var fleet: String?

  var store: RunStore {
    if let state { return RunStore(stateDirectory: state) }
    if var fleet {
      if fleet.hasSuffix(".yaml") || fleet.hasSuffix(".yml") {
        fleet = (fleet as NSString).deletingLastPathComponent
      }
      return RunStore(stateDirectory: (fleet.isEmpty ? "." : fleet) + "/.fleetwave")
    }
    let environment = ProcessInfo.processInfo.environment
    return RunStore(stateDirectory: environment["FLEETWAVE_STATE"] ?? ".fleetwave")
  }

  /// A run's records, or an error naming where it looked.
  func read(_ run: String) throws -> (header: RunHeader, records: [JournalRecord], state: RunState)
  {
    let store = self.store
    guard FileManager.default.fileExists(atPath: store.journalPath(run)) else {
      var message = "error: no run '\(run)' in \(store.runsDirectory)"
      let known = store.runIDs()
      if let suggestion = Suggestion.closest(to: run, among: known) {
        message += "; did you mean '\(suggestion)'?"
      } else if known.isEmpty {
        message += " (pass --state DIR or --fleet DIR)"
      }
      printError(message)
      throw ExitCode(1)
    }
    do {
      let contents = try JournalFile.read(path: store.journalPath(run))
      // Say so: the run's last action may or may not have happened.
      if let torn = contents.tornTail { printError("warning: \(torn)") }
      let state = RunState(records: contents.records)
      guard let header = state.header else {
        printError("error: \(store.journalPath(run)): the journal does not start with a run header")
        throw ExitCode(1)
      }
      return (header, contents.records, state)
    } catch let error as JournalError {
      printError("error: \(error)")
      throw ExitCode(1)
    }
  }

  /// The latest run, for `status` without a run id.
  func latest() throws -> String {
    guard let run = store.runIDs().last else {
      printError("error: no runs in \(store.runsDirectory) (pass --state DIR or --fleet DIR)")
      throw ExitCode(1)
    }
    return run
  }
}

/// Options shared by the verbs that continue a run through `rollout`.
struct ContinueOptions: ParsableArguments {
  @Option(help: "The driver, if the run was started with --driver.")
  var driver: String?

  @Option(help: "At most this many clusters in flight at once, if the run was started with it.")
  var maxParallel: Int?

  @Option(
    help: ArgumentHelp(
      "For testing and rehearsal: act as if the time were this.", valueName: "time"))
  var now: String?

  @Option(help: ArgumentHelp("Who does this (default: $USER).", valueName: "name"))
  var by: String?

  @Option(help: ArgumentHelp("Write the run report as JSON here.", valueName: "file"))
  var reportJson: String?

  @Option(help: ArgumentHelp("Write a JUnit XML report.", valueName: "file"))
  var junit: String?

  @Option(help: ArgumentHelp("Append a Markdown summary.", valueName: "file"))
  var markdown: String?

  @Option(help: ArgumentHelp("Write the run as an HTML page.", valueName: "file"))
  var html: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp(
      "The --set arguments the run started with (checked against its record).",
      valueName: "key=value"))
  var setArguments: [String] = []

  var sets: [String] { setArguments.flatMap { ["--set", $0] } }

  var arguments: [String] {
    var list: [String] = []
    func add(_ flag: String, _ value: String?) { if let value { list += [flag, value] } }
    add("--driver", driver)
    add("--max-parallel", maxParallel.map(String.init))
    add("--now", now)
    add("--by", by)
    add("--report-json", reportJson)
    add("--junit", junit)
    add("--markdown", markdown)
    add("--html", html)
    return list
  }

  /// Runs `rollout` on the run's fleet with these options and `extra`.
  func continueRun(_ run: String, location: RunLocation, _ extra: [String]) throws {
    let (header, _, _) = try location.read(run)
    guard let directory = location.fleet ?? header.fleetDirectory else {
      printError("error: run \(run) does not record its fleet directory; pass --fleet DIR")
      throw ExitCode(1)
    }
    // What the run recorded of its own options comes first; options given here win.
    var recorded: [String] = []
    if driver == nil, let value = header.settings["driver"] { recorded += ["--driver", value] }
    if maxParallel == nil, let value = header.settings["maxParallel"] {
      recorded += ["--max-parallel", value]
    }
    if let value = header.settings["kubeconfig"] { recorded += ["--kubeconfig", value] }
    var rollout = try FleetwaveCommand.Rollout.parse(
      [directory, "--state", location.store.stateDirectory] + recorded + arguments + sets + extra)
    try rollout.run()
  }
}
