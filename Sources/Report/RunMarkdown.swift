// The run as Markdown, for `$GITHUB_STEP_SUMMARY` and pull-request comments.
import FleetCore
import Foundation

public enum RunMarkdown {
  /// At most this many clusters are listed one by one per state; the rest are counted.
  public static let listLimit = 50

  public static func string(_ summary: RunSummary) -> String {
    let states = summary.clusters.map { ReportedState($0, outcome: summary.outcome) }
    var md = "## Fleetwave rollout `\(summary.run)`: \(summary.outcome.rawValue)\n\n"
    md += "Fleet **\(cell(summary.fleet))**, release **\(cell(summary.release))**"
    if let version = summary.version { md += " \(cell(version))" }
    md += ", driver `\(summary.driver)`, "
    md += DurationText.format(
      .milliseconds(Int64(summary.finishedAt.timeIntervalSince(summary.startedAt) * 1000)))
    md += " (\(Timestamp.iso(summary.startedAt)) to \(Timestamp.iso(summary.finishedAt))).\n\n"
    if let reason = summary.reason { md += "> **\(cell(reason))**\n\n" }
    if !summary.midUpgrade.isEmpty {
      md +=
        "> Stopped mid-change (revision unknown): "
        + summary.midUpgrade.map { "`\($0)`" }.joined(separator: ", ") + "\n\n"
    }
    md += "| state | clusters |\n|---|---:|\n"
    for state in ReportedState.allCases {
      let count = states.filter { $0 == state }.count
      if count > 0 { md += "| \(state.rawValue) | \(count) |\n" }
    }
    md += "\n### Waves\n\n| # | wave | state | clusters | failures (allowed) | note |\n"
    md += "|---:|---|---|---:|---|---|\n"
    for wave in summary.waves {
      let canary = wave.isCanary && wave.name != "canary" ? " (canary)" : ""
      md += "| \(wave.index) | \(cell(wave.name))\(canary) "
      md += "| \(wave.phase.rawValue) | \(wave.clusters.count) "
      md += "| \(wave.failures) (\(wave.allowedFailures)) | \(cell(wave.haltReason ?? "")) |\n"
    }
    let waveNames = Dictionary(summary.waves.map { ($0.index, $0.name) }) { first, _ in first }
    let troubled = zip(summary.clusters, states).filter {
      $0.1 == .failed || $0.1 == .rolledBack || $0.1 == .uninstalled
    }
    if !troubled.isEmpty {
      md += "\n### Failed and rolled-back clusters\n\n"
      md += "| cluster | wave | state | revision | error |\n|---|---|---|---|---|\n"
      for (record, state) in troubled.prefix(listLimit) {
        var error = record.error ?? ""
        if let rollback = record.rollbackError {
          error += (error.isEmpty ? "" : "; ") + "rollback: " + rollback
        }
        let revisions = [record.fromRevision, record.toRevision, record.rollbackRevision]
          .map { $0 ?? "-" }.joined(separator: " → ")
        md += "| `\(record.name)` | \(cell(waveNames[record.wave] ?? "")) | \(state.rawValue) "
        md += "| \(revisions) | \(cell(error)) |\n"
      }
      if troubled.count > listLimit { md += "\n…and \(troubled.count - listLimit) more.\n" }
    }
    let deferred = zip(summary.clusters, states).filter { $0.0.deferrals > 0 }
    if !deferred.isEmpty {
      md += "\n### Deferred clusters (unreachable)\n\n"
      md += "| cluster | wave | state | deferrals | last reason |\n|---|---|---|---:|---|\n"
      for (record, state) in deferred.prefix(listLimit) {
        md += "| `\(record.name)` | \(cell(waveNames[record.wave] ?? "")) | \(state.rawValue) "
        md += "| \(record.deferrals) | \(cell(record.deferralReason ?? "")) |\n"
      }
      if deferred.count > listLimit { md += "\n…and \(deferred.count - listLimit) more.\n" }
    }
    return md
  }

  /// Keeps a value inside its table cell.
  static func cell(_ text: String) -> String {
    text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
  }
}

extension RunMarkdown {
  /// A fleet that does not validate, for the CI step summary: the job page says why nothing ran.
  public static func invalidFleet(fleet: String, diagnostics: [String]) -> String {
    var md = "## Fleetwave: fleet `\(fleet)` is invalid\n\n"
    md += "Nothing was rolled out. \(diagnostics.count) problem(s):\n\n"
    for line in diagnostics {
      let located = line.prefix { $0 != "\n" }.replacingOccurrences(of: "`", with: "'")
      md += "- `\(located)`\n"
    }
    // The source excerpts, as the terminal showed them.
    md += "\n```text\n" + diagnostics.joined(separator: "\n") + "\n```\n"
    return md
  }
}
