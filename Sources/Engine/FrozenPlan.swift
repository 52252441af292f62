// The plan a run froze in its journal header (`plan -o json`'s schema), read back so a resumed
// run executes the waves it started with, not whatever planning the fleet gives today.
import FleetCore
import Foundation

public enum FrozenPlan {
  /// The plan in `json`, or nil when it lacks what the executor needs (a journal written
  /// before plans were frozen whole). The estimates are read as written; a wave's
  /// `estimatedDuration`, which the schema does not carry, is zero.
  public static func decode(_ json: Value) -> Plan? {
    guard let fleet = json["fleet"]?.string, let release = json["release"]?.string,
      let start = json["start"]?.string.flatMap(Timestamp.parse),
      let waveValues = json["waves"]?.sequence
    else { return nil }
    var waves: [Wave] = []
    for value in waveValues {
      guard let wave = decodeWave(value) else { return nil }
      waves.append(wave)
    }
    return Plan(
      fleet: fleet, release: release, version: json["version"]?.string, start: start,
      waves: waves, unassigned: strings(json["unassigned"]),
      notes: (json["notes"]?.sequence ?? []).compactMap { note in
        note["message"]?.string.map { PlanNote($0, clusters: strings(note["clusters"])) }
      },
      allowedFailuresTotal: json["allowedFailuresTotal"]?.int.map(Int.init),
      spreadBy: json["spreadBy"]?.string,
      horizon: json["horizon"]?.string.flatMap(DurationText.parse) ?? .seconds(28 * 86_400),
      unschedulable: strings(json["unschedulable"]),
      estimatedFinish: date(json["estimatedFinish"]),
      freezes: (json["freezes"]?.sequence ?? []).compactMap { freeze in
        guard let from = date(freeze["from"]), let to = date(freeze["to"]) else { return nil }
        return FreezePeriod(from: from, to: to, reason: freeze["reason"]?.string ?? "")
      })
  }

  private static func decodeWave(_ value: Value) -> Wave? {
    guard let index = value["index"]?.int, let name = value["name"]?.string,
      let maxParallel = value["maxParallel"]?.int,
      let bake = value["bake"]?.string.flatMap(DurationText.parse),
      let limit = value["maxFailures"]?.string.flatMap(failureLimit)
    else { return nil }
    let schedule = (value["schedule"]?.sequence ?? []).compactMap { slot -> ScheduledCluster? in
      guard let cluster = slot["cluster"]?.string else { return nil }
      return ScheduledCluster(
        name: cluster, domain: slot["domain"]?.string ?? "-",
        earliestStart: date(slot["earliestStart"]), estimatedStart: date(slot["estimatedStart"]),
        estimatedFinish: date(slot["estimatedFinish"]),
        expectedDuration: slot["expectedDuration"]?.string.flatMap(DurationText.parse) ?? .zero)
    }
    var domains: [String: Int] = [:]
    for entry in value["domains"]?.mapping ?? Mapping() {
      if let count = entry.value.int { domains[entry.key] = Int(count) }
    }
    return Wave(
      index: Int(index), name: name, isCanary: value["canary"]?.bool ?? false,
      clusters: strings(value["clusters"]), maxParallel: Int(maxParallel),
      maxPerDomain: value["maxPerDomain"]?.int.map(Int.init), bake: bake, failureLimit: limit,
      allowedFailures: value["allowedFailures"]?.int.map(Int.init) ?? 0,
      approval: value["approval"]?.bool ?? false, earliestStart: date(value["earliestStart"]),
      selection: value["selection"]?.string ?? "", domainCounts: domains, schedule: schedule,
      estimatedFinish: date(value["estimatedFinish"]))
  }

  /// `2` or `10%`, as `FailureLimit.description` writes it.
  private static func failureLimit(_ text: String) -> FailureLimit? {
    if text.hasSuffix("%") { return Double(text.dropLast()).map { .percent($0) } }
    return Int(text).map { .count($0) }
  }

  private static func strings(_ value: Value?) -> [String] {
    (value?.sequence ?? []).compactMap(\.string)
  }

  private static func date(_ value: Value?) -> Date? {
    value?.string.flatMap(Timestamp.parse)
  }
}
