// `fleetwave approve RUN --wave W`: let a wave marked `approval: true` start.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Journal

extension FleetwaveCommand {
  struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Approve a wave of a run; recorded in its journal with who and when.",
      discussion: """
        A run following (--follow) picks the approval up on its own; otherwise the next \
        `fleetwave resume RUN` or `rollout --until-blocked` starts the wave. \
        `fleetwave rollout FLEET --approve WAVE` approves and continues in one step.
        """)

    @Argument(help: ArgumentHelp("The run id.", valueName: "run"))
    var runID: String

    @Option(help: ArgumentHelp("The wave, by name or index.", valueName: "wave"))
    var wave: String

    @Option(
      help: ArgumentHelp(
        "Who approves (default: $GITHUB_ACTOR, $GITLAB_USER_LOGIN, $USER).", valueName: "name"))
    var by: String?

    @OptionGroup var location: RunLocation

    func run() throws {
      let run = runID
      let (header, records, state) = try location.read(run)
      let view = RunView(
        header: header, state: state, records: records, store: try location.stateStore)
      let waves = view.waves
      guard let target = waves.first(where: { $0.name == wave || String($0.index) == wave }) else {
        var message = "error: run \(run) has no wave '\(wave)'"
        if let suggestion = Suggestion.closest(to: wave, among: waves.map(\.name)) {
          message += "; did you mean '\(suggestion)'?"
        }
        printError(message)
        throw ExitCode(1)
      }
      guard target.approval else {
        printError("error: wave '\(target.name)' of run \(run) does not need approval")
        throw ExitCode(1)
      }
      if let approver = state.approvals[target.name] {
        print("wave '\(target.name)' of run \(run) is already approved by \(approver)")
        return
      }
      if let outcome = state.outcome {
        printError("error: run \(run) already finished: \(outcome)")
        throw ExitCode(1)
      }
      let who = RunRecords.user(by)
      let record = try appendFromOutside(
        try location.stateStore, run, .approval(wave: target.index, by: who, name: target.name))
      print(
        "approved wave '\(target.name)' of run \(run) (by \(who) at \(Timestamp.iso(record.at)))")
    }
  }

  struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Pause a run: no new cluster starts; clusters in flight finish.",
      discussion: "`fleetwave resume RUN` lifts the pause; scheduled runs stay paused until then.")

    @Argument(help: ArgumentHelp("The run id.", valueName: "run"))
    var runID: String

    @Option(
      help: ArgumentHelp(
        "Who pauses (default: $GITHUB_ACTOR, $GITLAB_USER_LOGIN, $USER).", valueName: "name"))
    var by: String?

    @OptionGroup var location: RunLocation

    func run() throws {
      let run = runID
      let (_, _, state) = try location.read(run)
      if let outcome = state.outcome {
        printError("error: run \(run) already finished: \(outcome)")
        throw ExitCode(1)
      }
      if state.paused {
        print("run \(run) is already paused by \(state.pausedBy ?? "someone")")
        return
      }
      let who = RunRecords.user(by)
      let record = try appendFromOutside(try location.stateStore, run, .paused(by: who))
      print(
        "paused run \(run) (by \(who) at \(Timestamp.iso(record.at))): no new cluster starts; "
          + "fleetwave resume \(run) goes on")
    }
  }
}

/// Adds an entry to a run's journal from another process than the run's own.
func appendFromOutside(_ store: any StateStore, _ run: String, _ entry: JournalEntry) throws
  -> JournalRecord
{
  do {
    // A rehearsal's FLEETWAVE_NOW dates approvals and pauses as it dates the run.
    let now = ProcessInfo.processInfo.environment["FLEETWAVE_NOW"].flatMap(Timestamp.parse)
    let clock: any RolloutClock = now.map { OffsetClock(startingAt: $0) } ?? SystemClock()
    return try store.appendFromOutside(run, entry, clock: clock)
  } catch {
    printError("error: \(error.message)")
    throw ExitCode(1)
  }
}
