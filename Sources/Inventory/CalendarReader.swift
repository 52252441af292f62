// Maintenance windows and freeze periods: days, local times and IANA time zones, checked.
import FleetCore
import Foundation

enum CalendarReader {
  static func windows(_ value: Value, _ diagnostics: inout Diagnostics) -> [String:
    MaintenanceWindow]
  {
    guard let mapping = value.mapping else {
      diagnostics.error(
        "'windows' must be a mapping of window names to windows, found \(value.kindName)",
        at: value.mark)
      return [:]
    }
    var windows: [String: MaintenanceWindow] = [:]
    for entry in mapping {
      let allowed = ["days", "from", "to", "timezone"]
      guard
        let fields = Fields.open(
          entry.value, as: "window '\(entry.key)'", allowed: allowed, &diagnostics)
      else { continue }
      var ok = true
      var days = Set(Weekday.allCases)
      if let value = fields["days"] {
        if let parsed = weekdays(value, &diagnostics) { days = parsed } else { ok = false }
      }
      let from = time(fields, "from", allowEndOfDay: false, &diagnostics)
      let to = time(fields, "to", allowEndOfDay: true, &diagnostics)
      let zone = timeZone(fields, &diagnostics)
      guard ok, let from, let to, let zone else { continue }
      if from == to {
        diagnostics.error(
          "window '\(entry.key)' is empty: 'from' and 'to' are both \(from)",
          at: fields.mark(of: "to"))
        continue
      }
      windows[entry.key] = MaintenanceWindow(
        name: entry.key, days: days, from: from, to: to, timeZone: zone,
        mark: entry.keyMark ?? entry.value.mark)
    }
    return windows
  }

  static func freezes(_ value: Value, _ diagnostics: inout Diagnostics) -> [FreezePeriod] {
    guard let items = value.sequence else {
      diagnostics.error(
        "'freeze' must be a list of periods, found \(value.kindName)", at: value.mark)
      return []
    }
    var periods: [FreezePeriod] = []
    for item in items {
      let allowed = ["from", "to", "reason", "timezone"]
      guard let fields = Fields.open(item, as: "a freeze period", allowed: allowed, &diagnostics)
      else { continue }
      guard let zoneName = timeZone(fields, &diagnostics), let zone = TimeZone(identifier: zoneName)
      else { continue }
      let from = instant(fields, "from", zone: zone, endOfDay: false, &diagnostics)
      let to = instant(fields, "to", zone: zone, endOfDay: true, &diagnostics)
      let reason = fields.text("reason", &diagnostics) ?? "freeze"
      guard let from, let to else { continue }
      guard from < to else {
        diagnostics.error("freeze period ends before it starts", at: fields.mark(of: "to"))
        continue
      }
      periods.append(FreezePeriod(from: from, to: to, reason: reason, mark: item.mark))
    }
    return periods
  }

  private static let dayNames: [(Weekday, [String])] = [
    (.monday, ["mon", "monday"]), (.tuesday, ["tue", "tuesday"]),
    (.wednesday, ["wed", "wednesday"]), (.thursday, ["thu", "thursday"]),
    (.friday, ["fri", "friday"]), (.saturday, ["sat", "saturday"]), (.sunday, ["sun", "sunday"]),
  ]

  static func weekday(_ text: String) -> Weekday? {
    let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
    return dayNames.first { $0.1.contains(lower) }?.0
  }

  /// `Mon-Fri`, `Sat,Sun`, `[Mon, Wed]`, `daily`; a range may wrap (`Fri-Mon`).
  static func weekdays(_ value: Value, _ diagnostics: inout Diagnostics) -> Set<Weekday>? {
    var parts: [(String, SourceMark?)] = []
    if let s = value.string {
      parts = s.split(separator: ",").map { (String($0), value.mark) }
    } else if let items = value.sequence {
      for item in items {
        guard let s = item.string else {
          diagnostics.error(
            "days must be names such as Mon or ranges such as Mon-Fri", at: item.mark)
          return nil
        }
        parts.append((s, item.mark))
      }
    } else {
      diagnostics.error(
        "'days' must be a day range such as Mon-Fri or a list of days, found \(value.kindName)",
        at: value.mark)
      return nil
    }
    var days = Set<Weekday>()
    for (part, mark) in parts {
      let trimmed = part.trimmingCharacters(in: .whitespaces)
      if ["daily", "all", "*"].contains(trimmed.lowercased()) {
        days.formUnion(Weekday.allCases)
        continue
      }
      let ends = trimmed.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
      guard ends.count <= 2, let first = weekday(ends[0]), let last = weekday(ends[ends.count - 1])
      else {
        diagnostics.error(
          "invalid days '\(trimmed)' (use day names such as Mon, Tue, ... Sun, or a range such as"
            + " Mon-Fri)", at: mark)
        return nil
      }
      var day = first
      while true {
        days.insert(day)
        if day == last { break }
        day = Weekday(rawValue: day.rawValue % 7 + 1) ?? .monday
      }
    }
    return days
  }

  /// `HH:MM` from 00:00 to 23:59 (or 24:00 for the end of a window).
  static func time(
    _ fields: Fields, _ key: String, allowEndOfDay: Bool, _ diagnostics: inout Diagnostics
  ) -> TimeOfDay? {
    guard let value = fields[key] else {
      fields.missing(key, &diagnostics)
      return nil
    }
    let text = value.scalarText ?? ""
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    if parts.count == 2, parts[0].count == 2, parts[1].count == 2,
      let hour = Int(parts[0]), let minute = Int(parts[1]),
      parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
      minute < 60, hour < 24 || (allowEndOfDay && hour == 24 && minute == 0)
    {
      return TimeOfDay(hour: hour, minute: minute)
    }
    diagnostics.error(
      "invalid time '\(text)' for '\(key)' (expected HH:MM from 00:00 to "
        + (allowEndOfDay ? "24:00)" : "23:59)"), at: value.mark)
    return nil
  }

  /// An IANA zone name (default UTC), with a suggestion for a misspelling.
  static func timeZone(_ fields: Fields, _ diagnostics: inout Diagnostics) -> String? {
    guard let value = fields["timezone"] else { return "UTC" }
    guard let name = value.string else {
      fields.wrongType("timezone", value, expected: "a time zone name", &diagnostics)
      return nil
    }
    if name == "UTC" || TimeZone(identifier: name) != nil,
      name == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(name)
    {
      return name
    }
    var message = "unknown time zone '\(name)'"
    if let suggestion = Suggestion.closest(to: name, among: TimeZone.knownTimeZoneIdentifiers) {
      message += "; did you mean '\(suggestion)'?"
    } else {
      message += " (use an IANA name such as Europe/Berlin or UTC)"
    }
    diagnostics.error(message, at: value.mark)
    return nil
  }

  /// `2026-12-20` (a whole day: from its start, or to its end), `2026-12-20 18:00` in the
  /// period's zone, or an RFC 3339 instant `2026-12-20T18:00:00Z`.
  static func instant(
    _ fields: Fields, _ key: String, zone: TimeZone, endOfDay: Bool,
    _ diagnostics: inout Diagnostics
  ) -> Date? {
    guard let value = fields[key] else {
      fields.missing(key, &diagnostics)
      return nil
    }
    let text = value.scalarText ?? ""
    if let date = parseInstant(text, zone: zone, endOfDay: endOfDay) { return date }
    diagnostics.error(
      "invalid date '\(text)' for '\(key)' (expected YYYY-MM-DD, 'YYYY-MM-DD HH:MM' or an RFC 3339"
        + " time)", at: value.mark)
    return nil
  }

  static func parseInstant(_ text: String, zone: TimeZone, endOfDay: Bool) -> Date? {
    let rfc3339 = ISO8601DateFormatter()
    rfc3339.formatOptions = [.withInternetDateTime]
    if let date = rfc3339.date(from: text) { return date }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    let pieces = text.split(separator: " ", omittingEmptySubsequences: true)
    guard pieces.count == 1 || pieces.count == 2 else { return nil }
    let dateParts = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
    guard dateParts.count == 3, dateParts[0].count == 4, dateParts[1].count == 2,
      dateParts[2].count == 2, let year = Int(dateParts[0]), let month = Int(dateParts[1]),
      let day = Int(dateParts[2]), (1...12).contains(month), (1...31).contains(day)
    else { return nil }
    var components = DateComponents(year: year, month: month, day: day)
    if pieces.count == 2 {
      let timeParts = pieces[1].split(separator: ":")
      guard timeParts.count == 2, let hour = Int(timeParts[0]), let minute = Int(timeParts[1]),
        (0..<24).contains(hour), (0..<60).contains(minute)
      else { return nil }
      components.hour = hour
      components.minute = minute
    }
    guard let date = calendar.date(from: components),
      calendar.component(.day, from: date) == day
    else { return nil }
    if pieces.count == 1 && endOfDay { return calendar.date(byAdding: .day, value: 1, to: date) }
    return date
  }
}
