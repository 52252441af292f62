// What `rollout` leaves for GitHub Actions when it runs there: annotations and the step summary.
import ArgumentParser
import FleetCore
import Foundation
import Report

extension FleetwaveCommand.Rollout {
  /// Prints the run's `::error`/`::warning` annotations and appends its Markdown report to
  /// `$GITHUB_STEP_SUMMARY`, unless `--no-step-summary` or `--markdown` already writes there.
  func publishToGitHubActions(_ summary: RunSummary) throws {
    guard let actions = GitHubActions() else { return }
    let file = fleet.hasSuffix(".yaml") || fleet.hasSuffix(".yml") ? fleet : fleet + "/fleet.yaml"
    for line in GitHubActions.annotations(
      summary, file: file, resumeCommand: resumeCommand(summary.run))
    {
      print(line)
    }
    guard !noStepSummary, let stepSummary = actions.stepSummary else { return }
    if let markdown,
      URL(fileURLWithPath: markdown).standardizedFileURL
        == URL(fileURLWithPath: stepSummary).standardizedFileURL
    {
      return
    }
    do {
      try actions.appendStepSummary(summary)
    } catch {
      printError("error: cannot append to $GITHUB_STEP_SUMMARY: \(error.localizedDescription)")
      throw ExitCode(1)
    }
  }
}

extension FleetwaveCommand.Rollout {
  /// `fleetwave resume RUN` with what it needs to find the run: the state directory this run
  /// uses, or the fleet whose default state directory it is.
  func resumeCommand(_ run: String) -> String {
    "fleetwave resume \(NextSteps.quoted(run))\(NextSteps(fleet: fleet, state: state).location)"
  }
}

extension FleetwaveCommand.Rollout {
  /// The step summary a run's Markdown goes to by default, inside GitHub Actions.
  var stepSummary: String? { noStepSummary ? nil : GitHubActions()?.stepSummary }
}
