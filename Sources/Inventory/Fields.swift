// Reading one mapping of a fleet file key by key, with typed accessors that report located errors.
import FleetCore
import Foundation

/// A mapping being read: unknown keys are reported once (with a "did you mean") when it is
/// opened, and every accessor turns a wrongly typed value into a located error instead of
/// failing the whole load, so `validate` can report every problem at once.
struct Fields {
  let mapping: Mapping
  let mark: SourceMark?
  /// What the mapping is, in the words of an error message ("release", "cluster 'prod-1'").
  let what: String

  /// Opens `value` as a mapping that may hold only `allowed` keys; nil (and an error) when it is
  /// not a mapping.
  static func open(
    _ value: Value, as what: String, allowed: [String], _ diagnostics: inout Diagnostics
  ) -> Fields? {
    guard let mapping = value.mapping else {
      diagnostics.error("\(what) must be a mapping, found \(value.kindName)", at: value.mark)
      return nil
    }
    for entry in mapping where !allowed.contains(entry.key) {
      var message = "unknown key '\(entry.key)' in \(what)"
      if let suggestion = Suggestion.closest(to: entry.key, among: allowed) {
        message += "; did you mean '\(suggestion)'?"
      }
      diagnostics.error(message, at: entry.keyMark ?? value.mark)
    }
    return Fields(mapping: mapping, mark: value.mark, what: what)
  }

  subscript(key: String) -> Value? { mapping[key] }

  func has(_ key: String) -> Bool { mapping.contains(key) }

  func keyMark(_ key: String) -> SourceMark? { mapping.entry(key)?.keyMark ?? mark }

  /// Where to point for `key`: its value when present, else the mapping itself.
  func mark(of key: String) -> SourceMark? { mapping[key]?.mark ?? mark }

  func missing(_ key: String, _ diagnostics: inout Diagnostics) {
    diagnostics.error("\(what) is missing required key '\(key)'", at: mark)
  }

  func wrongType(_ key: String, _ value: Value, expected: String, _ diagnostics: inout Diagnostics)
  {
    diagnostics.error(
      "'\(key)' in \(what) must be \(expected), found \(value.kindName)", at: value.mark)
  }

  /// A string; an unquoted number or boolean is taken as its text (`driver: true` is "true"),
  /// unless YAML changed how it reads (`version: 1.10` is the number 1.1): that is an error.
  func text(_ key: String, _ diagnostics: inout Diagnostics) -> String? {
    guard let value = mapping[key] else { return nil }
    switch value.kind {
    case .string(let s): return s
    case .int, .double, .bool:
      return Fields.textOfScalar(value, named: "'\(key)'", &diagnostics)
    default:
      wrongType(key, value, expected: "a string", &diagnostics)
      return nil
    }
  }

  func requiredText(_ key: String, _ diagnostics: inout Diagnostics) -> String? {
    guard has(key) else {
      missing(key, &diagnostics)
      return nil
    }
    return text(key, &diagnostics)
  }

  func bool(_ key: String, _ diagnostics: inout Diagnostics) -> Bool? {
    guard let value = mapping[key] else { return nil }
    guard let b = value.bool else {
      wrongType(key, value, expected: "true or false", &diagnostics)
      return nil
    }
    return b
  }

  /// An integer of at least `minimum`.
  func int(_ key: String, minimum: Int, _ diagnostics: inout Diagnostics) -> Int? {
    guard let value = mapping[key] else { return nil }
    guard case .int(let i) = value.kind else {
      wrongType(key, value, expected: "an integer", &diagnostics)
      return nil
    }
    guard i >= minimum else {
      diagnostics.error(
        "'\(key)' in \(what) must be at least \(minimum), found \(i)", at: value.mark)
      return nil
    }
    guard i <= Int64(Int32.max) else {
      diagnostics.error(
        "'\(key)' in \(what) must be at most \(Int32.max), found \(i)", at: value.mark)
      return nil
    }
    return Int(i)
  }

  func double(_ key: String, _ diagnostics: inout Diagnostics) -> Double? {
    guard let value = mapping[key] else { return nil }
    guard let d = value.double, d.isFinite else {
      wrongType(key, value, expected: "a number", &diagnostics)
      return nil
    }
    return d
  }

  /// A duration such as `30s`, `10m` or `1h30m`.
  func duration(_ key: String, _ diagnostics: inout Diagnostics) -> Duration? {
    guard let value = mapping[key] else { return nil }
    guard let text = value.scalarText, !value.isNull else {
      wrongType(key, value, expected: "a duration", &diagnostics)
      return nil
    }
    guard let duration = DurationText.parse(text) else {
      diagnostics.error(
        "invalid duration '\(text)' for '\(key)' (use a number and a unit: 500ms, 30s, 10m,"
          + " 1h30m, 2d)", at: value.mark)
      return nil
    }
    return duration
  }

  /// A list of strings; a single string is a list of one.
  func textList(_ key: String, _ diagnostics: inout Diagnostics) -> [(String, SourceMark?)]? {
    guard let value = mapping[key] else { return nil }
    if let s = value.string { return [(s, value.mark)] }
    guard let items = value.sequence else {
      wrongType(key, value, expected: "a list of strings", &diagnostics)
      return nil
    }
    var out: [(String, SourceMark?)] = []
    for item in items {
      guard let s = item.string else {
        diagnostics.error(
          "items of '\(key)' in \(what) must be strings, found \(item.kindName)", at: item.mark)
        continue
      }
      out.append((s, item.mark))
    }
    return out
  }

  /// A Kubernetes label selector, with errors pointing at the offending column.
  func selector(_ key: String, _ diagnostics: inout Diagnostics) -> LabelSelector? {
    guard let value = mapping[key] else { return nil }
    guard let text = value.scalarText, !value.isNull, value.sequence == nil else {
      wrongType(key, value, expected: "a label selector string", &diagnostics)
      return nil
    }
    if text.allSatisfy(\.isWhitespace) {
      // An empty selector matches every cluster: a wave of the whole fleet is never meant.
      diagnostics.error(
        "'\(key)' is empty, which would select every cluster; name the labels to match",
        at: Fields.contentMark(of: value))
      return nil
    }
    do {
      return try LabelSelector.parse(text, mark: Fields.contentMark(of: value))
    } catch {
      diagnostics.append(error)
      return nil
    }
  }

  /// A failure budget: a count (`3`) or a percentage (`10%`).
  func failureLimit(_ key: String, _ diagnostics: inout Diagnostics) -> FailureLimit? {
    guard let value = mapping[key] else { return nil }
    if case .int(let i) = value.kind {
      guard i >= 0 else {
        diagnostics.error("'\(key)' in \(what) must not be negative, found \(i)", at: value.mark)
        return nil
      }
      return .count(Int(clamping: i))
    }
    if let text = value.string, text.hasSuffix("%") {
      guard let p = Fields.percentage(text) else {
        diagnostics.error(
          "invalid percentage '\(text)' for '\(key)' (expected 0% to 100%)", at: value.mark)
        return nil
      }
      return .percent(p)
    }
    wrongType(key, value, expected: "a count or a percentage such as 10%", &diagnostics)
    return nil
  }

  /// A percentage of the fleet, written `10` or `"10%"`; more than 0, at most 100.
  func percent(_ key: String, _ diagnostics: inout Diagnostics) -> Double? {
    guard let value = mapping[key] else { return nil }
    let parsed: Double?
    switch value.kind {
    case .int, .double: parsed = value.double
    case .string(let s): parsed = Fields.percentage(s.hasSuffix("%") ? s : s + "%")
    default:
      wrongType(key, value, expected: "a percentage", &diagnostics)
      return nil
    }
    guard let p = parsed, p.isFinite, p > 0, p <= 100 else {
      diagnostics.error(
        "invalid percentage '\(value.scalarText ?? "")' for '\(key)' (expected more than 0%,"
          + " at most 100%)", at: value.mark)
      return nil
    }
    return p
  }

  /// `"12.5%"` as 12.5; nil unless 0...100.
  static func percentage(_ text: String) -> Double? {
    guard text.hasSuffix("%") else { return nil }
    let number = text.dropLast().trimmingCharacters(in: .whitespaces)
    guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
      let p = Double(number), p >= 0, p <= 100
    else { return nil }
    return p
  }

  /// An unquoted number or boolean as text, refusing one YAML reads as something other than
  /// what was written (`1.10` as 1.1, `0777` as 511, `1_000` as 1000).
  static func textOfScalar(_ value: Value, named what: String, _ diagnostics: inout Diagnostics)
    -> String?
  {
    let text = value.scalarText ?? ""
    if let written = writtenText(of: value), written != text, !(value.bool != nil) {
      diagnostics.error(
        "\(what) is written \(written), which YAML reads as the number \(text); quote it"
          + " (\"\(written)\") to keep the text", at: value.mark)
      return nil
    }
    return text
  }

  /// The plain scalar's characters as they stand in the source, when they can be found.
  static func writtenText(of value: Value) -> String? {
    guard let mark = value.mark, let line = mark.file.line(mark.line) else { return nil }
    let characters = Array(line)
    var index = mark.column - 1
    guard index >= 0, index < characters.count else { return nil }
    var out = ""
    while index < characters.count, !" ,}]#".contains(characters[index]) {
      out.append(characters[index])
      index += 1
    }
    return out.isEmpty ? nil : out
  }

  /// The mark of a scalar's first content character: a quoted scalar's mark is at its opening
  /// quote, so errors inside it would be one column off without this.
  static func contentMark(of value: Value) -> SourceMark? {
    guard let mark = value.mark, let line = mark.file.line(mark.line) else { return value.mark }
    let characters = Array(line)
    let index = mark.column - 1
    guard index >= 0, index < characters.count else { return mark }
    return characters[index] == "\"" || characters[index] == "'" ? mark.advanced(by: 1) : mark
  }
}
