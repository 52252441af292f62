// `plan -o json`: the stable plan schema (docs/plan-json.md, docs/plan.schema.json).
import FleetCore
import Foundation

public enum PlanJSON {
  /// The plan as pretty JSON ending in a newline; keys in schema order, domains sorted, so the
  /// same plan always gives the same bytes.
  public static func render(_ plan: Plan) -> String {
    JSONWriter.string(value(plan), options: JSONWriter.Options(pretty: true)) + "\n"
  }

  public static func value(_ plan: Plan) -> Value {
    var root = Mapping()
    root.append("fleet", .string(plan.fleet))
    root.append("release", .string(plan.release))
    root.append("version", plan.version.map { Value.string($0) } ?? .null)
    root.append("start", .string(Plan.timestamp(plan.start)))
    root.append("horizon", .string(DurationText.format(plan.horizon)))
    root.append("spreadBy", plan.spreadBy.map { Value.string($0) } ?? .null)
    root.append("clusterCount", .int(Int64(plan.clusterCount)))
    root.append("allowedFailuresTotal", plan.allowedFailuresTotal.map { .int(Int64($0)) } ?? .null)
    root.append("estimatedFinish", time(plan.estimatedFinish))
    root.append("waves", .sequence(plan.waves.map(wave)))
    root.append("unassigned", .sequence(plan.unassigned.map { .string($0) }))
    root.append("unschedulable", .sequence(plan.unschedulable.map { .string($0) }))
    root.append(
      "notes",
      .sequence(
        plan.notes.map { note in
          var m = Mapping()
          m.append("message", .string(note.message))
          m.append("clusters", .sequence(note.clusters.map { .string($0) }))
          return .mapping(m)
        }))
    return .mapping(root)
  }

  private static func time(_ date: Date?) -> Value {
    date.map { .string(Plan.timestamp($0)) } ?? .null
  }

  private static func wave(_ wave: Wave) -> Value {
    var m = Mapping()
    m.append("index", .int(Int64(wave.index)))
    m.append("name", .string(wave.name))
    m.append("canary", .bool(wave.isCanary))
    m.append("selection", .string(wave.selection))
    m.append("clusters", .sequence(wave.clusters.map { .string($0) }))
    m.append("maxParallel", .int(Int64(wave.maxParallel)))
    m.append("maxPerDomain", wave.maxPerDomain.map { .int(Int64($0)) } ?? .null)
    m.append("bake", .string(DurationText.format(wave.bake)))
    m.append("maxFailures", .string(wave.failureLimit.description))
    m.append("allowedFailures", .int(Int64(wave.allowedFailures)))
    m.append("approval", .bool(wave.approval))
    m.append("earliestStart", time(wave.earliestStart))
    m.append("estimatedFinish", time(wave.estimatedFinish))
    var domains = Mapping()
    for domain in wave.domainCounts.keys.sorted() {
      domains.append(domain, .int(Int64(wave.domainCounts[domain] ?? 0)))
    }
    m.append("domains", .mapping(domains))
    m.append(
      "schedule",
      .sequence(
        wave.schedule.map { slot in
          var s = Mapping()
          s.append("cluster", .string(slot.name))
          s.append("domain", .string(slot.domain))
          s.append("earliestStart", time(slot.earliestStart))
          s.append("estimatedStart", time(slot.estimatedStart))
          s.append("estimatedFinish", time(slot.estimatedFinish))
          s.append("expectedDuration", .string(DurationText.format(slot.expectedDuration)))
          return .mapping(s)
        }))
    return .mapping(m)
  }
}
