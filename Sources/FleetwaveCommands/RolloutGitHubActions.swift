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
    for line in GitHubActions.annotations(summary, file: file) { print(line) }
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
