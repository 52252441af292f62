// Small pieces shared by the plan renderers: times, budgets, domain counts, escaping.
import FleetCore
import Foundation

enum PlanFormat {
  static func time(_ date: Date?) -> String {
    date.map(Plan.timestamp) ?? "-"
  }

  /// "1 (10%)": what the budget allows for the wave, then the budget as written.
  static func budget(_ wave: Wave) -> String {
    let written = wave.failureLimit.description
    let allowed = String(wave.allowedFailures)
    return written == allowed ? allowed : allowed + " (" + written + ")"
  }

  /// "eu-west-1:2 us-east-1:1", domains sorted by name.
  static func domains(_ wave: Wave, separator: String = " ") -> String {
    wave.domainCounts.keys.sorted().map { $0 + ":" + String(wave.domainCounts[$0] ?? 0) }
      .joined(separator: separator)
  }

  static func summary(_ plan: Plan) -> String {
    let waves = plan.waves.count
    var text = String(plan.clusterCount) + (plan.clusterCount == 1 ? " cluster" : " clusters")
    text += " in " + String(waves) + (waves == 1 ? " wave" : " waves")
    text += ", start " + Plan.timestamp(plan.start)
    if let finish = plan.estimatedFinish { text += ", estimated finish " + Plan.timestamp(finish) }
    return text
  }

  static func title(_ plan: Plan) -> String {
    plan.fleet + ": " + plan.release + (plan.version.map { " " + $0 } ?? "")
  }

  static func html(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(character)
      }
    }
    return out
  }
}
