// `plan -o json`: the stable plan schema (docs/plan-json.md, docs/plan.schema.json).
import FleetCore
import Foundation

public enum PlanJSON {
  /// The plan as pretty JSON ending in a newline; keys in schema order, domains sorted, so the
  /// same plan always gives the same bytes. Written straight to bytes, because a 100,000-cluster
  /// plan is tens of megabytes; the text is exactly what `JSONWriter` prints for the same tree.
  /// `checks`, when given, adds `failurePolicy`, `health` and `waveHealth` after `notes`
  /// (additions: every earlier key keeps its place).
  public static func render(_ plan: Plan, checks: PlanChecks? = nil) -> String {
    var json = PrettyJSONText()
    json.beginObject()
    json.key("fleet")
    json.string(plan.fleet)
    json.key("release")
    json.string(plan.release)
    json.key("version")
    json.string(plan.version)
    // Only for a fetched chart, so plans of local charts read as before.
    if let chartVersion = plan.chartVersion {
      json.key("chartVersion")
      json.string(chartVersion)
    }
    json.key("start")
    json.string(Plan.timestamp(plan.start))
    json.key("horizon")
    json.string(DurationText.format(plan.horizon))
    json.key("spreadBy")
    json.string(plan.spreadBy)
    json.key("clusterCount")
    json.int(plan.clusterCount)
    json.key("allowedFailuresTotal")
    json.int(plan.allowedFailuresTotal)
    json.key("estimatedFinish")
    json.string(plan.estimatedFinish.map(Plan.timestamp))
    json.key("waves")
    json.beginArray()
    for wave in plan.waves { write(wave, into: &json) }
    json.end()
    json.key("unassigned")
    json.strings(plan.unassigned)
    json.key("unschedulable")
    json.strings(plan.unschedulable)
    json.key("freezes")
    json.beginArray()
    for freeze in plan.freezes {
      json.beginObject()
      json.key("from")
      json.string(Plan.timestamp(freeze.from))
      json.key("to")
      json.string(Plan.timestamp(freeze.to))
      json.key("reason")
      json.string(freeze.reason)
      json.end()
    }
    json.end()
    json.key("notes")
    json.beginArray()
    for note in plan.notes {
      json.beginObject()
      json.key("message")
      json.string(note.message)
      json.key("clusters")
      json.strings(note.clusters)
      json.end()
    }
    json.end()
    checks?.write(into: &json)
    json.end()
    json.newline()
    return json.text
  }

  private static func write(_ wave: Wave, into json: inout PrettyJSONText) {
    json.beginObject()
    json.key("index")
    json.int(wave.index)
    json.key("name")
    json.string(wave.name)
    json.key("canary")
    json.bool(wave.isCanary)
    json.key("selection")
    json.string(wave.selection)
    json.key("clusters")
    json.strings(wave.clusters)
    json.key("maxParallel")
    json.int(wave.maxParallel)
    json.key("maxPerDomain")
    json.int(wave.maxPerDomain)
    json.key("bake")
    json.string(DurationText.format(wave.bake))
    json.key("maxFailures")
    json.string(wave.failureLimit.description)
    json.key("allowedFailures")
    json.int(wave.allowedFailures)
    json.key("approval")
    json.bool(wave.approval)
    json.key("earliestStart")
    json.string(wave.earliestStart.map(Plan.timestamp))
    json.key("estimatedFinish")
    json.string(wave.estimatedFinish.map(Plan.timestamp))
    json.key("domains")
    json.beginObject()
    for domain in wave.domainCounts.keys.sorted() {
      json.key(domain)
      json.int(wave.domainCounts[domain])
    }
    json.end()
    json.key("schedule")
    json.beginArray()
    for slot in wave.schedule {
      json.beginObject()
      json.key("cluster")
      json.string(slot.name)
      json.key("domain")
      json.string(slot.domain)
      json.key("earliestStart")
      json.string(slot.earliestStart.map(Plan.timestamp))
      json.key("estimatedStart")
      json.string(slot.estimatedStart.map(Plan.timestamp))
      json.key("estimatedFinish")
      json.string(slot.estimatedFinish.map(Plan.timestamp))
      json.key("expectedDuration")
      json.string(DurationText.format(slot.expectedDuration))
      json.end()
    }
    json.end()
    json.end()
  }
}

/// Pretty JSON in `JSONWriter`'s layout (two-space indent, `"key": value`, empty containers as
/// `[]` and `{}`), appended to a byte buffer as the document is walked.
struct PrettyJSONText {
  private var bytes: [UInt8] = []
  /// Per open container: whether it has an element yet, and the byte that closes it.
  private var filled: [Bool] = []
  private var closers: [UInt8] = []
  private var afterKey = false

  var text: String { String(decoding: bytes, as: UTF8.self) }

  init() { bytes.reserveCapacity(1 << 16) }

  /// Comma, line break and indent before an element (not before a value that follows its key).
  private mutating func element() {
    if afterKey {
      afterKey = false
      return
    }
    guard let last = filled.indices.last else { return }
    if filled[last] { bytes.append(UInt8(ascii: ",")) }
    filled[last] = true
    newline()
    indent(filled.count)
  }

  mutating func newline() { bytes.append(UInt8(ascii: "\n")) }

  private mutating func indent(_ depth: Int) {
    for _ in 0..<depth * 2 { bytes.append(UInt8(ascii: " ")) }
  }

  mutating func beginObject() { begin(UInt8(ascii: "{"), closer: UInt8(ascii: "}")) }

  mutating func beginArray() { begin(UInt8(ascii: "["), closer: UInt8(ascii: "]")) }

  private mutating func begin(_ opener: UInt8, closer: UInt8) {
    element()
    bytes.append(opener)
    filled.append(false)
    closers.append(closer)
  }

  /// Closes the innermost container; an empty one stays on the line it opened.
  mutating func end() {
    guard let hadElements = filled.popLast(), let closer = closers.popLast() else { return }
    if hadElements {
      newline()
      indent(filled.count)
    }
    bytes.append(closer)
  }

  mutating func key(_ name: String) {
    element()
    quote(name)
    bytes.append(UInt8(ascii: ":"))
    bytes.append(UInt8(ascii: " "))
    afterKey = true
  }

  mutating func string(_ value: String?) {
    element()
    guard let value else {
      bytes.append(contentsOf: "null".utf8)
      return
    }
    quote(value)
  }

  mutating func strings(_ values: [String]) {
    beginArray()
    for value in values { string(value) }
    end()
  }

  mutating func int(_ value: Int?) {
    element()
    bytes.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
  }

  mutating func bool(_ value: Bool) {
    element()
    bytes.append(contentsOf: (value ? "true" : "false").utf8)
  }

  /// Escapes as `JSONWriter.quote` does, `<`, `>` and `&` included.
  private mutating func quote(_ text: String) {
    bytes.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
      case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
      case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
      case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
      case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
      case 0x08: bytes.append(contentsOf: "\\b".utf8)
      case 0x0C: bytes.append(contentsOf: "\\f".utf8)
      case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"), 0..<0x20:
        let hex = String(byte, radix: 16)
        bytes.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
      default: bytes.append(byte)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }
}
