// Small pieces shared by the plan renderers: times, budgets, domain counts, escaping.
import FleetCore
import Foundation

enum PlanFormat {
  static func time(_ date: Date?) -> String {
    date.map(Plan.timestamp) ?? "-"
  }

  /// "2026-03-27 08:00" (UTC), for pages that say so once: seconds only when there are any.
  static func shortTime(_ date: Date?) -> String {
    guard let date else { return "-" }
    var stamp = Plan.timestamp(date).replacingOccurrences(of: "T", with: " ")
    stamp.removeLast()
    return stamp.hasSuffix(":00") ? String(stamp.dropLast(3)) : stamp
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

  /// "fleet demo, release checkout 1.4.2".
  static func title(_ plan: Plan) -> String {
    "fleet " + plan.fleet + ", release " + plan.release + (plan.version.map { " " + $0 } ?? "")
      + (plan.chartVersion.map { " (chart " + $0 + ")" } ?? "")
  }

  /// The wave's name, marked when it is a canary wave not already named so.
  static func waveName(_ wave: Wave) -> String {
    wave.isCanary && !wave.name.hasPrefix("canary") ? wave.name + " (canary)" : wave.name
  }
}
