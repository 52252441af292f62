// `fleetwave resume RUN`: continue a run where its journal says it stood.
import ArgumentParser
import Engine
import Foundation

extension FleetwaveCommand {
  struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Continue a run after a crash, a kill, a halt's rollback, a pause or a wait.",
      discussion: """
        Clusters the journal records as done are not touched again; a cluster recorded mid-change \
        is re-examined through its driver (its current revision) and then verified or upgraded \
        again; failures already recorded count against the budgets. A fleet whose files changed \
        since the run started is refused unless --replan is given. Lifts a pause.
        """)

    @Argument(help: ArgumentHelp("The run id.", valueName: "run"))
    var runID: String

    @OptionGroup var location: RunLocation
    @OptionGroup var options: ContinueOptions

    @Flag(help: "Go on with a fleet that changed since the run started, and show what changed.")
    var replan = false

    @Flag(help: "Advance as far as windows, bakes and approvals allow, then exit 0.")
    var untilBlocked = false

    @Flag(help: "Sleep through waits and poll for approvals.")
    var follow = false

    @OptionGroup var preflight: WavePreflightOptions

    func run() throws {
      try options.continueRun(
        runID, location: location, replan: replan, preflight: preflight,
        waiting: untilBlocked ? .untilBlocked : follow ? .follow(poll: .seconds(30)) : .stop)
    }
  }

  struct RollbackRun: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rollback",
      abstract: "Roll back every cluster a run changed, later waves first, under its limits.",
      discussion: """
        Uses the run's own limits (maxParallel, maxPerDomain per wave). Clusters already rolled \
        back are left alone, so a rollback that was interrupted can be run again.
        """)

    @Argument(help: ArgumentHelp("The run id.", valueName: "run"))
    var runID: String

    @OptionGroup var location: RunLocation
    @OptionGroup var options: ContinueOptions

    func run() throws {
      try options.continueRun(runID, location: location, rollback: true)
    }
  }
}
