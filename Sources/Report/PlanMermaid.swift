// `plan -o mermaid`: the timeline as a Mermaid Gantt chart, one section per wave.
import FleetCore
import Foundation

public enum PlanMermaid {
  /// Above this many clusters, each wave is one bar instead of one bar per cluster.
  public static let clusterBarLimit = 100

  public static func render(_ plan: Plan) -> String {
    var out = "gantt\n"
    out += "  title " + text(PlanFormat.title(plan)) + " (times in UTC)\n"
    out += "  dateFormat YYYY-MM-DD HH:mm:ss\n"
    out += "  axisFormat %m-%d %H:%M\n"
    let perCluster = plan.clusterCount <= clusterBarLimit
    for wave in plan.waves {
      out += "  section " + String(wave.index) + " " + text(wave.name) + "\n"
      if let start = wave.earliestStart, let finish = wave.estimatedFinish {
        if perCluster {
          for (n, slot) in wave.schedule.enumerated() {
            guard let clusterStart = slot.estimatedStart, let clusterFinish = slot.estimatedFinish
            else { continue }
            out += "    " + text(slot.name) + " :w" + String(wave.index) + "c" + String(n) + ", "
            out +=
              local(clusterStart) + ", " + seconds(clusterFinish.timeIntervalSince(clusterStart))
              + "\n"
          }
        } else {
          out += "    " + String(wave.clusters.count) + " clusters :w" + String(wave.index) + ", "
          out += local(start) + ", " + seconds(finish.timeIntervalSince(start)) + "\n"
        }
        if wave.bake > .zero {
          out += "    bake " + DurationText.format(wave.bake) + " :done, w" + String(wave.index)
          out += "bake, " + local(finish) + ", " + seconds(DurationText.seconds(wave.bake)) + "\n"
        }
      }
      let unscheduled = wave.schedule.count(where: { $0.estimatedStart == nil })
      if unscheduled > 0 {
        out += "    %% " + String(unscheduled) + " clusters cannot start before the horizon\n"
      }
    }
    return out
  }

  /// "2026-03-27 08:00:00": the UTC timestamp in the chart's dateFormat.
  private static func local(_ date: Date) -> String {
    String(Plan.timestamp(date).prefix(19)).replacingOccurrences(of: "T", with: " ")
  }

  /// Mermaid needs a duration of at least a second to draw a bar.
  private static func seconds(_ interval: TimeInterval) -> String {
    String(max(1, Int(interval.rounded()))) + "s"
  }

  /// Mermaid task and section names end at ':' or '#' and at line breaks.
  private static func text(_ name: String) -> String {
    String(name.map { ":#;\n".contains($0) ? " " : $0 })
  }
}
