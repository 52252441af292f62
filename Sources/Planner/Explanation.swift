// `plan --explain CLUSTER`: why a cluster is in its wave, in its place, and when it can start.
import FleetCore
import Foundation

extension Planner {
  /// Lines explaining `name`'s wave, position and start time in `plan` (made by this planner
  /// from `fleet`); nil when the plan has no such cluster.
  public func explain(_ name: String, in plan: Plan, fleet: Fleet) -> [String]? {
    guard let waveIndex = plan.waves.firstIndex(where: { $0.clusters.contains(name) }),
      let cluster = fleet.cluster(named: name)
    else { return nil }
    let wave = plan.waves[waveIndex]
    let position = wave.clusters.firstIndex(of: name) ?? 0
    let policy = fleet.rollout
    var lines: [String] = []

    var facts: [String] = []
    if let label = policy.spreadBy { facts.append(label + "=" + cluster.domain(label)) }
    if let label = policy.priorityLabel {
      facts.append(label + "=" + (cluster.labels[label] ?? "(none)"))
    }
    lines.append(
      "cluster " + name + (facts.isEmpty ? "" : " (" + facts.joined(separator: ", ") + ")"))
    lines.append(
      "wave " + String(wave.index) + " '" + wave.name + "'" + (wave.isCanary ? " (canary)" : "")
        + ": " + wave.selection)
    for note in plan.notes where note.clusters.contains(name) {
      lines.append("  " + note.message)
    }

    var orderWords =
      policy.priorityLabel.map { "ordered by label '" + $0 + "', then name" }
      ?? "ordered by name"
    if let label = policy.spreadBy {
      orderWords += ", then dealt round-robin across " + label + " values"
    }
    lines.append(
      "position " + String(position + 1) + " of " + String(wave.clusters.count) + " in the wave, "
        + orderWords)

    // The wave may begin after the last earlier wave that has an estimate, and its bake.
    let ready: Date
    if let previous = plan.waves[..<waveIndex].last(where: { $0.estimatedFinish != nil }),
      let previousFinish = previous.estimatedFinish
    {
      ready = previousFinish.addingTimeInterval(DurationText.seconds(previous.bake))
      lines.append(
        "the wave may begin at " + Plan.timestamp(ready) + ", when wave '" + previous.name
          + "' is expected to finish and bake " + DurationText.format(previous.bake))
    } else {
      ready = plan.start
      lines.append("the wave may begin at the plan's start, " + Plan.timestamp(ready))
    }
    if wave.approval { lines.append("the wave waits for `fleetwave approve` before it starts") }

    if cluster.windows.isEmpty {
      lines.append("windows: none, it may start at any time outside freezes")
    } else {
      let described = cluster.windows.map { windowName in
        fleet.windows[windowName].map { windowName + " (" + $0.summary + ")" }
          ?? windowName + " (not defined)"
      }
      lines.append("windows: " + described.joined(separator: ", "))
    }

    guard let slot = wave.schedule.first(where: { $0.name == name }) else { return lines }
    if let earliest = slot.earliestStart {
      var reason = ""
      if earliest > ready {
        if let freeze = fleet.freezes.first(where: { Instant($0.to) == Instant(earliest) }) {
          reason = " (freeze '" + freeze.reason + "' ends then)"
        } else {
          reason = " (its next window opens then)"
        }
      }
      lines.append("earliest start: " + Plan.timestamp(earliest) + reason)
    } else {
      lines.append(
        "earliest start: none before the horizon "
          + Plan.timestamp(plan.start.addingTimeInterval(DurationText.seconds(plan.horizon))))
    }
    if let start = slot.estimatedStart, let finish = slot.estimatedFinish {
      var limits = "maxParallel " + String(wave.maxParallel)
      if let perDomain = wave.maxPerDomain { limits += ", maxPerDomain " + String(perDomain) }
      let waited = slot.earliestStart.map { start > $0 } ?? false
      lines.append(
        "estimated start: " + Plan.timestamp(start) + ", finish " + Plan.timestamp(finish)
          + " (expected duration " + DurationText.format(slot.expectedDuration)
          + (waited ? "; waits for a free slot under " + limits + ")" : ")"))
    } else {
      lines.append("estimated start: not in the timeline (cannot start before the horizon)")
    }
    return lines
  }
}

extension MaintenanceWindow {
  /// "Mon-Fri 09:00-16:00 Europe/Berlin"; runs of consecutive days are joined with a dash.
  public var summary: String {
    let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    let sorted = days.sorted()
    var runs: [String] = []
    var i = 0
    while i < sorted.count {
      var j = i
      while j + 1 < sorted.count, sorted[j + 1].rawValue == sorted[j].rawValue + 1 { j += 1 }
      let first = names[sorted[i].rawValue - 1]
      let last = names[sorted[j].rawValue - 1]
      runs.append(i == j ? first : (j == i + 1 ? first + "," + last : first + "-" + last))
      i = j + 1
    }
    let dayText = runs.isEmpty ? "never" : runs.joined(separator: ",")
    return dayText + " " + from.description + "-" + to.description + " " + timeZone
  }
}
