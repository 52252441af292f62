// `plan -o markdown`: the plan as a pull request comment.
import FleetCore
import Foundation

public enum PlanMarkdown {
  public static let clustersShownPerWave = 50

  /// `checks`, when given, adds the failure policy and the gates under the summary.
  public static func render(_ plan: Plan, checks: PlanChecks? = nil) -> String {
    var out = "### Rollout plan for " + cell(PlanFormat.title(plan)) + "\n\n"
    out += PlanFormat.summary(plan)
    if let spreadBy = plan.spreadBy { out += ", spread by `" + spreadBy + "`" }
    if let total = plan.allowedFailuresTotal {
      out += ", at most " + String(total) + " failures over the run"
    }
    out += ".\n\n"
    for freeze in plan.freezes {
      out += "Freeze: " + cell(freeze.reason) + ", " + Plan.timestamp(freeze.from) + " to "
      out += Plan.timestamp(freeze.to) + ".\n\n"
    }
    if let checks {
      out += checks.lines.map { "- " + cell($0) }.joined(separator: "\n") + "\n\n"
    }
    out += "| # | Wave | Clusters | Domains | Max parallel | Per domain | Bake | Failure budget "
    out += "| Earliest start | Est. finish | Gate |\n"
    out += "|--:|---|--:|---|--:|--:|---|---|---|---|---|\n"
    for wave in plan.waves {
      let cells = [
        String(wave.index), cell(PlanFormat.waveName(wave)),
        String(wave.clusters.count), cell(PlanFormat.domains(wave, separator: ", ")),
        String(wave.maxParallel), wave.maxPerDomain.map(String.init) ?? "-",
        DurationText.format(wave.bake), cell(PlanFormat.budget(wave)),
        PlanFormat.time(wave.earliestStart), PlanFormat.time(wave.estimatedFinish),
        wave.approval ? "approval" : "-",
      ]
      out += "| " + cells.joined(separator: " | ") + " |\n"
    }
    out += "\n<details><summary>Clusters per wave, in plan order</summary>\n\n"
    for wave in plan.waves {
      let shown = wave.clusters.prefix(clustersShownPerWave).map { "`" + $0 + "`" }
      let more = wave.clusters.count - clustersShownPerWave
      out += "- **" + String(wave.index) + " " + cell(wave.name) + "** (" + cell(wave.selection)
      out += "): " + shown.joined(separator: ", ")
      out += (more > 0 ? ", and " + String(more) + " more" : "") + "\n"
    }
    out += "\n</details>\n"
    if !plan.notes.isEmpty {
      out += "\n**Notes**\n\n"
      for note in plan.notes {
        out += "- " + cell(note.message)
        if !note.clusters.isEmpty {
          let shown = note.clusters.prefix(clustersShownPerWave).map { "`" + $0 + "`" }
          let more = note.clusters.count - clustersShownPerWave
          out +=
            ": " + shown.joined(separator: ", ")
            + (more > 0 ? ", and " + String(more) + " more" : "")
        }
        out += "\n"
      }
    }
    return out
  }

  /// Text safe inside a table cell: pipes escaped, tags neutralised, one line.
  static func cell(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "|", with: "\\|")
      .replacingOccurrences(of: "\n", with: " ")
  }
}
