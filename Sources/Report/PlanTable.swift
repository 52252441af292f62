// `plan -o table`: the plan for a terminal, one line per wave, then clusters and notes.
import FleetCore
import Foundation

public enum PlanTable {
  /// Waves with more members than this list only the first ones, so the table stays readable.
  public static let clustersShownPerWave = 10

  /// `checks`, when given, adds the failure policy and the gates under the summary.
  public static func render(_ plan: Plan, checks: PlanChecks? = nil) -> String {
    var out = "Plan for " + PlanFormat.title(plan) + "\n"
    out += PlanFormat.summary(plan) + "\n"
    var facts: [String] = []
    if let spreadBy = plan.spreadBy { facts.append("spread by " + spreadBy) }
    if let total = plan.allowedFailuresTotal {
      facts.append("failures allowed over the run: " + String(total))
    }
    if !facts.isEmpty { out += facts.joined(separator: "; ") + "\n" }
    for freeze in plan.freezes {
      out += "freeze: " + freeze.reason + ", " + Plan.timestamp(freeze.from) + " to "
      out += Plan.timestamp(freeze.to) + "\n"
    }
    for line in checks?.lines ?? [] { out += line + "\n" }
    out += "\n"

    let header = [
      "WAVE", "NAME", "CLUSTERS", "PARALLEL", "PER-DOMAIN", "BAKE", "BUDGET", "EARLIEST START",
      "EST. FINISH", "GATE", "DOMAINS",
    ]
    var rows = [header]
    for wave in plan.waves {
      rows.append([
        String(wave.index), wave.name + (wave.isCanary ? "*" : ""), String(wave.clusters.count),
        String(wave.maxParallel), wave.maxPerDomain.map(String.init) ?? "-",
        DurationText.format(wave.bake), PlanFormat.budget(wave),
        PlanFormat.time(wave.earliestStart),
        PlanFormat.time(wave.estimatedFinish), wave.approval ? "approve" : "-",
        PlanFormat.domains(wave),
      ])
    }
    let numeric: Set<Int> = [0, 2, 3, 4]
    out += align(rows, rightAligned: numeric)
    if plan.waves.contains(where: \.isCanary) { out += "* canary wave\n" }

    out += "\nClusters in plan order:\n"
    for wave in plan.waves {
      let shown = wave.clusters.prefix(clustersShownPerWave).joined(separator: ", ")
      let more = wave.clusters.count - clustersShownPerWave
      out += "  " + String(wave.index) + " " + wave.name + ": " + shown
      out += more > 0 ? ", ... (" + String(more) + " more)\n" : "\n"
    }
    if !plan.notes.isEmpty {
      out += "\nNotes:\n"
      for note in plan.notes {
        out += "  - " + note.message
        if !note.clusters.isEmpty {
          let shown = note.clusters.prefix(clustersShownPerWave).joined(separator: ", ")
          let more = note.clusters.count - clustersShownPerWave
          out += ": " + shown + (more > 0 ? ", ... (" + String(more) + " more)" : "")
        }
        out += "\n"
      }
    }
    return out
  }

  /// Columns padded to their widest cell, two spaces apart, no trailing spaces.
  static func align(_ rows: [[String]], rightAligned: Set<Int>) -> String {
    guard let columns = rows.first?.count else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    var out = ""
    for row in rows {
      var line = ""
      for (i, cell) in row.enumerated() {
        let pad = String(repeating: " ", count: widths[i] - cell.count)
        if i > 0 { line += "  " }
        line += rightAligned.contains(i) ? pad + cell : cell + pad
      }
      while line.hasSuffix(" ") { line.removeLast() }
      out += line + "\n"
    }
    return out
  }
}
