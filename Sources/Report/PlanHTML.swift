// `plan -o html`: a self-contained page (inline CSS and SVG, no external assets) with the
// waves, an SVG timeline and the notes.
import FleetCore
import Foundation

public enum PlanHTML {
  /// Above this many clusters the timeline shows one bar per wave only.
  public static let clusterRowLimit = 150
  public static let clustersListedPerWave = 200

  /// Domain colours; wave bars use dark grey (and brick for canaries), bakes light grey.
  private static let palette = [
    "#2f6fde", "#2a9d5c", "#c2417a", "#7c5cd6", "#1b9aaa", "#b8860b", "#e07b24", "#8a6f5a",
  ]

  /// `windows` (the fleet's, by name) are shaded on the timeline, and a wave that starts later
  /// than the one before it finished is labelled with the window or freeze it waits for.
  /// `checks`, when given, adds the failure policy, gates and window definitions under the
  /// summary.
  public static func render(
    _ plan: Plan, windows: [String: MaintenanceWindow] = [:], checks: PlanChecks? = nil
  ) -> String {
    let e = MarkupText.escaped
    var out = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>Rollout plan for \(e(PlanFormat.title(plan)))</title>
      <style>
      body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
        margin: 24px; background: #fff; }
      h1 { font-size: 20px; margin: 0 0 4px; }
      h2 { font-size: 16px; margin: 28px 0 8px; }
      .summary { color: #57606a; margin: 0 0 16px; }
      table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
      th, td { border-bottom: 1px solid #d0d7de; padding: 5px 8px; text-align: left;
        white-space: nowrap; }
      th { background: #f6f8fa; font-weight: 600; }
      td.num { text-align: right; }
      .canary { color: #9a3412; font-weight: 600; }
      .selection { color: #57606a; font-size: 12px; }
      td.domains { white-space: normal; max-width: 190px; }
      td.domains span { white-space: nowrap; }
      td.wave { white-space: normal; max-width: 230px; }
      .gate { color: #8250df; font-weight: 600; }
      .notes li { margin: 2px 0; }
      code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: #f6f8fa;
        padding: 1px 4px; border-radius: 4px; }
      svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
      svg .axis { font-size: 11px; fill: #57606a; }
      svg .wave { font-weight: 600; }
      .legend span { display: inline-block; margin-right: 14px; }
      .legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
        vertical-align: -1px; margin-right: 4px; }
      details { margin: 4px 0; }
      .scroll { overflow-x: auto; }
      </style>
      </head>
      <body>
      <h1>Rollout plan for \(e(PlanFormat.title(plan)))</h1>

      """
    var facts = [PlanFormat.summary(plan)]
    if let spreadBy = plan.spreadBy { facts.append("spread by " + spreadBy) }
    if let total = plan.allowedFailuresTotal {
      facts.append("at most " + String(total) + " failures over the run")
    }
    out += "<p class=\"summary\">" + e(facts.joined(separator: "; ")) + " (times in UTC)</p>\n"
    for freeze in plan.freezes {
      out += "<p class=\"summary\">Freeze: " + e(freeze.reason) + ", "
      out += PlanFormat.shortTime(freeze.from) + " to " + PlanFormat.shortTime(freeze.to) + "</p>\n"
    }

    if let checks {
      out += "<ul class=\"checks\">\n"
      for line in checks.lines { out += "<li>" + e(line) + "</li>\n" }
      out += "</ul>\n"
    }

    let domains = Array(Set(plan.waves.flatMap { $0.domainCounts.keys })).sorted()
    out +=
      "<h2>Timeline</h2>\n<div class=\"scroll\">\n"
      + timeline(plan, domains: domains, windows: windows)
    out += "</div>\n"
    var legend: [(color: String, label: String)] = [
      ("#9a3412", "canary wave"), ("#57606a", "wave"),
    ]
    legend.append(("#d0d7de", "bake"))
    if !plan.freezes.isEmpty { legend.append(("#fbe3e3", "freeze")) }
    if !windows.isEmpty { legend.append(("#d8f0df", "window open")) }
    if plan.clusterCount <= clusterRowLimit {
      for (n, domain) in domains.enumerated() {
        let label = domain == "-" ? "(no " + (plan.spreadBy ?? "domain") + ")" : domain
        legend.append((palette[n % palette.count], plan.spreadBy == nil ? "cluster" : label))
      }
    }
    out += "<p class=\"legend\">"
    for item in legend {
      out += "<span><i style=\"background:" + item.color + "\"></i>" + e(item.label) + "</span>"
    }
    out += "</p>\n"

    out += "<h2>Waves</h2>\n<div class=\"scroll\">\n<table>\n<tr><th>#</th><th>Wave</th>"
    out += "<th>Clusters</th><th>Domains</th><th>Parallel</th><th>Bake</th>"
    out += "<th>Failure budget</th><th>Earliest start</th><th>Est. finish</th><th>Gate</th></tr>\n"
    for wave in plan.waves {
      out += "<tr><td class=\"num\">" + String(wave.index) + "</td><td"
      out += " class=\"wave\"><span" + (wave.isCanary ? " class=\"canary\"" : "") + ">"
      out += e(wave.name)
      out += "</span><div class=\"selection\">" + e(wave.selection) + "</div></td>"
      out += "<td class=\"num\">" + String(wave.clusters.count) + "</td>"
      let domainCells = wave.domainCounts.keys.sorted().map {
        "<span>" + e($0) + ":" + String(wave.domainCounts[$0] ?? 0) + "</span>"
      }
      out += "<td class=\"domains\">" + domainCells.joined(separator: ", ") + "</td>"
      out += "<td>" + String(wave.maxParallel)
      if let perDomain = wave.maxPerDomain {
        out += " (" + String(perDomain) + " per " + e(plan.spreadBy ?? "domain") + ")"
      }
      out += "</td>"
      out += "<td>" + DurationText.format(wave.bake) + "</td>"
      out += "<td>" + e(PlanFormat.budget(wave)) + "</td>"
      out += "<td>" + PlanFormat.shortTime(wave.earliestStart) + "</td>"
      out += "<td>" + PlanFormat.shortTime(wave.estimatedFinish) + "</td>"
      out +=
        "<td>" + (wave.approval ? "<span class=\"gate\">approval</span>" : "-") + "</td></tr>\n"
    }
    out += "</table>\n</div>\n"

    if !plan.notes.isEmpty {
      out += "<h2>Notes</h2>\n<ul class=\"notes\">\n"
      for note in plan.notes {
        out += "<li>" + e(note.message)
        if !note.clusters.isEmpty {
          out +=
            ": "
            + note.clusters.prefix(clustersListedPerWave).map { "<code>" + e($0) + "</code>" }
            .joined(separator: " ")
          if note.clusters.count > clustersListedPerWave {
            out += " and " + String(note.clusters.count - clustersListedPerWave) + " more"
          }
        }
        out += "</li>\n"
      }
      out += "</ul>\n"
    }

    out += "<h2>Clusters in plan order</h2>\n"
    for wave in plan.waves {
      out += "<details><summary>" + String(wave.index) + " " + e(wave.name) + " ("
      out += String(wave.clusters.count) + ")</summary><p>"
      out += wave.clusters.prefix(clustersListedPerWave).map { "<code>" + e($0) + "</code>" }
        .joined(separator: " ")
      if wave.clusters.count > clustersListedPerWave {
        out += " and " + String(wave.clusters.count - clustersListedPerWave) + " more"
      }
      out += "</p></details>\n"
    }
    out += "</body>\n</html>\n"
    return out
  }

  /// One row per wave (its span, then its bake), and one per cluster when the fleet is small.
  private static func timeline(
    _ plan: Plan, domains: [String], windows: [String: MaintenanceWindow]
  ) -> String {
    let e = MarkupText.escaped
    let starts = plan.waves.compactMap(\.earliestStart)
    let ends = plan.waves.compactMap { wave in
      wave.estimatedFinish.map { $0.addingTimeInterval(DurationText.seconds(wave.bake)) }
    }
    guard let first = starts.min(), let last = ends.max() else {
      if plan.waves.isEmpty { return "<p>The plan has no waves.</p>\n" }
      return "<p>No cluster can start before the horizon.</p>\n"
    }
    let span = max(60, last.timeIntervalSince(first))
    let labelWidth = 230.0
    let chartWidth = 860.0
    let rowHeight = 22.0
    let top = 28.0
    let perCluster = plan.clusterCount <= clusterRowLimit
    let domainColor = Dictionary(
      uniqueKeysWithValues: domains.enumerated().map { ($1, palette[$0 % palette.count]) })
    func x(_ date: Date) -> Double {
      labelWidth + date.timeIntervalSince(first) / span * chartWidth
    }
    func number(_ value: Double) -> String { String(format: "%.1f", value) }

    let openings = windows.keys.sorted().flatMap { name in
      windows[name].map { openTimes($0, from: first, to: last) }?.map { (name, $0.0, $0.1) } ?? []
    }
    var rows = ""
    var y = top
    var previousEnd: Date?
    for wave in plan.waves {
      rows +=
        "<text class=\"wave\" x=\"4\" y=\"" + number(y + 15) + "\">" + String(wave.index) + " "
      rows += e(wave.name) + (wave.approval ? " (approval)" : "") + "</text>\n"
      if let start = wave.earliestStart, let after = previousEnd,
        start.timeIntervalSince(after) >= 60,
        let reason = waitReason(start, after: after, plan: plan, openings: openings)
      {
        rows += waitLabel(from: after, to: start, reason: reason, x: x(start) - 6, y: y + 15)
      }
      if let finish = wave.estimatedFinish {
        previousEnd = finish.addingTimeInterval(DurationText.seconds(wave.bake))
      }
      if let start = wave.earliestStart, let finish = wave.estimatedFinish {
        let fill = wave.isCanary ? "#9a3412" : "#57606a"
        rows += "<rect x=\"" + number(x(start)) + "\" y=\"" + number(y + 4) + "\" width=\""
        rows += number(max(2, x(finish) - x(start))) + "\" height=\"14\" rx=\"3\" fill=\"" + fill
        rows += "\"><title>" + e(wave.name) + ": " + Plan.timestamp(start) + " to "
        rows += Plan.timestamp(finish) + "</title></rect>\n"
        if wave.bake > .zero {
          let bakeEnd = finish.addingTimeInterval(DurationText.seconds(wave.bake))
          rows += "<rect x=\"" + number(x(finish)) + "\" y=\"" + number(y + 4) + "\" width=\""
          rows += number(max(2, x(bakeEnd) - x(finish))) + "\" height=\"14\" rx=\"3\" "
          rows += "fill=\"#d0d7de\"><title>bake " + DurationText.format(wave.bake)
          rows += "</title></rect>\n"
        }
        // The wave's times as text beside its bar (before it when the bar ends near the edge),
        // since short waves on a long timeline are only slivers.
        let end = finish.addingTimeInterval(DurationText.seconds(wave.bake))
        let label = PlanFormat.shortTime(start) + " to " + PlanFormat.shortTime(finish)
        let labelLength = 200.0
        if x(end) + 6 + labelLength <= labelWidth + chartWidth + 40 {
          rows += "<text class=\"axis\" x=\"" + number(x(end) + 6) + "\" y=\"" + number(y + 15)
          rows += "\">" + label + "</text>\n"
        } else if x(start) - 6 - labelLength >= labelWidth {
          rows += "<text class=\"axis\" x=\"" + number(x(start) - 6) + "\" y=\"" + number(y + 15)
          rows += "\" text-anchor=\"end\">" + label + "</text>\n"
        } else if x(finish) - x(start) >= labelLength + 12 {
          rows += "<text class=\"axis\" x=\"" + number(x(start) + 6) + "\" y=\"" + number(y + 15)
          rows += "\" style=\"fill:#fff\">" + label + "</text>\n"
        }
      } else {
        rows += "<text class=\"axis\" x=\"" + number(labelWidth + 4) + "\" y=\"" + number(y + 15)
        rows += "\">cannot start before the horizon</text>\n"
      }
      y += rowHeight
      guard perCluster else { continue }
      for slot in wave.schedule {
        rows += "<text x=\"16\" y=\"" + number(y + 14) + "\">" + e(slot.name) + "</text>\n"
        if let start = slot.estimatedStart, let waveStart = wave.earliestStart,
          start.timeIntervalSince(waveStart) >= 60,
          let reason = waitReason(start, after: waveStart, plan: plan, openings: openings)
        {
          rows += waitLabel(from: waveStart, to: start, reason: reason, x: x(start) - 6, y: y + 14)
        }
        if let start = slot.estimatedStart, let finish = slot.estimatedFinish {
          rows += "<rect x=\"" + number(x(start)) + "\" y=\"" + number(y + 5) + "\" width=\""
          rows += number(max(2, x(finish) - x(start))) + "\" height=\"12\" rx=\"2\" fill=\""
          rows += (domainColor[slot.domain] ?? palette[0]) + "\"><title>" + e(slot.name) + " ("
          rows += e(slot.domain) + "): " + Plan.timestamp(start) + " to " + Plan.timestamp(finish)
          rows += "</title></rect>\n"
        } else {
          rows += "<text class=\"axis\" x=\"" + number(labelWidth + 4) + "\" y=\"" + number(y + 14)
          rows += "\">not before the horizon</text>\n"
        }
        y += rowHeight - 4
      }
    }
    let height = y + 8

    // Freezes first, so bars and grid lines are drawn over them.
    var axis = ""
    for (name, open, close) in openings {
      axis += "<rect class=\"window\" data-window=\"" + e(name) + "\" x=\"" + number(x(open))
      axis += "\" y=\"" + number(top - 6) + "\" width=\"" + number(max(1, x(close) - x(open)))
      axis +=
        "\" height=\"" + number(height - top + 6) + "\" fill=\"#d8f0df\" fill-opacity=\"0.6\">"
      axis += "<title>window " + e(name) + ": " + Plan.timestamp(open) + " to "
      axis += Plan.timestamp(close) + "</title></rect>\n"
    }
    for freeze in plan.freezes where freeze.to > first && freeze.from < last {
      let from = max(freeze.from, first)
      let to = min(freeze.to, last)
      axis += "<rect class=\"freeze\" x=\"" + number(x(from)) + "\" y=\"" + number(top - 6)
      axis += "\" width=\""
      axis += number(max(1, x(to) - x(from))) + "\" height=\"" + number(height - top + 6)
      axis += "\" fill=\"#fbe3e3\"><title>freeze: " + e(freeze.reason) + ", "
      axis += Plan.timestamp(freeze.from) + " to " + Plan.timestamp(freeze.to) + "</title></rect>\n"
    }
    let step = tickStep(span)
    var tick = (first.timeIntervalSince1970 / step).rounded(.up) * step
    while tick <= last.timeIntervalSince1970 {
      let date = Date(timeIntervalSince1970: tick)
      let tx = number(x(date))
      axis += "<line x1=\"" + tx + "\" y1=\"" + number(top - 6) + "\" x2=\"" + tx + "\" y2=\""
      axis += number(height) + "\" stroke=\"#eaeef2\"/>\n"
      let stamp = Plan.timestamp(date)
      let label = String(stamp.dropFirst(5).prefix(11)).replacingOccurrences(of: "T", with: " ")
      axis += "<text class=\"axis\" x=\"" + tx + "\" y=\"14\" text-anchor=\"middle\">" + label
      axis += "</text>\n"
      tick += step
    }
    let width = labelWidth + chartWidth + 40
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width)
    svg += "\" height=\"" + number(height) + "\" viewBox=\"0 0 " + number(width) + " "
    svg += number(height) + "\" role=\"img\" aria-label=\"rollout timeline\">\n"
    return svg + axis + rows + "</svg>\n"
  }

  /// "waits 4h20m for window ap-night", ending just before the bar it explains: a long bar or
  /// gap with no reason reads as a planner bug.
  static func waitLabel(from: Date, to: Date, reason: String, x: Double, y: Double) -> String {
    let wait = DurationText.format(.seconds(Int64(to.timeIntervalSince(from))))
    return "<text class=\"axis wait\" x=\"" + String(format: "%.1f", x) + "\" y=\""
      + String(format: "%.1f", y) + "\" text-anchor=\"end\">"
      + MarkupText.escaped("waits " + wait + " for " + reason) + "</text>\n"
  }

  /// What a wave that starts late waits for: a freeze that ended, or a window that opened,
  /// after the previous wave finished and by the wave's start; nil when neither did (an
  /// approval, or clusters busy elsewhere).
  static func waitReason(
    _ start: Date, after: Date, plan: Plan, openings: [(String, Date, Date)]
  ) -> String? {
    if let freeze = plan.freezes.first(where: { $0.to > after && $0.to <= start }) {
      return "freeze " + freeze.reason
    }
    if let opening = openings.first(where: { $0.1 > after && $0.1 <= start && start < $0.2 }) {
      return "window " + opening.0
    }
    return nil
  }

  /// The times `window` is open between `first` and `last`, clipped to them. A window opens on
  /// each of its days at `from` local time and closes at `to`, the next day when `to` is not
  /// after `from` (22:00-04:00).
  static func openTimes(_ window: MaintenanceWindow, from first: Date, to last: Date)
    -> [(Date, Date)]
  {
    guard let zone = TimeZone(identifier: window.timeZone) else { return [] }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    var day = calendar.startOfDay(for: first.addingTimeInterval(-86_400))
    var out: [(Date, Date)] = []
    while day < last {
      // Calendar counts Sunday as 1; Weekday counts Monday as 1.
      let weekday = calendar.component(.weekday, from: day)
      let next = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
      if let ours = Weekday(rawValue: weekday == 1 ? 7 : weekday - 1), window.days.contains(ours),
        let open = wallClock(window.from, on: day, calendar),
        let close = wallClock(window.to, on: window.to > window.from ? day : next, calendar),
        close > first, open < last
      {
        out.append((max(open, first), min(close, last)))
      }
      day = next
    }
    return out
  }

  /// `time` on `day`'s wall clock, so a window keeps its local hours across a DST change.
  private static func wallClock(_ time: TimeOfDay, on day: Date, _ calendar: Calendar) -> Date? {
    guard time.minutes < 1440 else { return calendar.date(byAdding: .day, value: 1, to: day) }
    return calendar.date(
      bySettingHour: time.minutes / 60, minute: time.minutes % 60, second: 0, of: day)
  }

  /// The smallest of a few round steps that gives at most eight ticks.
  private static func tickStep(_ span: TimeInterval) -> TimeInterval {
    let steps: [TimeInterval] = [
      60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 2 * 86_400, 7 * 86_400,
    ]
    return steps.first { span / $0 <= 8 } ?? 14 * 86_400
  }
}
