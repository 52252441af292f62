// When clusters may start: maintenance windows turned into UTC intervals, minus freeze periods.
import FleetCore
import Foundation

/// Milliseconds since 1970-01-01T00:00:00Z; the planner's only time unit, so arithmetic is exact.
typealias Instant = Int64

extension Instant {
  init(_ date: Date) { self = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
  var date: Date { Date(timeIntervalSince1970: Double(self) / 1000) }
}

let millisecondsPerDay: Int64 = 86_400_000

/// Sorted, disjoint, half-open intervals [start, end) in which a start is allowed.
struct OpenTimes: Equatable {
  var intervals: [(start: Instant, end: Instant)]

  static func == (a: OpenTimes, b: OpenTimes) -> Bool {
    a.intervals.elementsEqual(b.intervals) { $0.start == $1.start && $0.end == $1.end }
  }

  /// The first allowed instant at or after `t`, or nil when none is left.
  func next(atOrAfter t: Instant) -> Instant? {
    var low = 0
    var high = intervals.count
    while low < high {
      let mid = (low + high) / 2
      if intervals[mid].end <= t { low = mid + 1 } else { high = mid }
    }
    guard low < intervals.count else { return nil }
    return Swift.max(intervals[low].start, t)
  }

  /// Joins overlapping or touching intervals; input in any order.
  static func union(_ parts: [(start: Instant, end: Instant)]) -> OpenTimes {
    let sorted = parts.filter { $0.end > $0.start }.sorted {
      $0.start != $1.start ? $0.start < $1.start : $0.end < $1.end
    }
    var merged: [(start: Instant, end: Instant)] = []
    for part in sorted {
      if let last = merged.last, part.start <= last.end {
        merged[merged.count - 1].end = Swift.max(last.end, part.end)
      } else {
        merged.append(part)
      }
    }
    return OpenTimes(intervals: merged)
  }

  /// These intervals with every `closed` interval cut out.
  func subtracting(_ closed: OpenTimes) -> OpenTimes {
    var result: [(start: Instant, end: Instant)] = []
    var c = 0
    for var open in intervals {
      while c < closed.intervals.count, closed.intervals[c].end <= open.start { c += 1 }
      var k = c
      while k < closed.intervals.count, closed.intervals[k].start < open.end {
        let cut = closed.intervals[k]
        if cut.start > open.start { result.append((open.start, cut.start)) }
        open.start = Swift.max(open.start, cut.end)
        if open.start >= open.end { break }
        k += 1
      }
      if open.start < open.end { result.append(open) }
    }
    return OpenTimes(intervals: result)
  }
}

/// Local wall-clock time in one IANA time zone, converted to UTC without Calendar, so the
/// handling of skipped and repeated hours is ours and explicit:
/// - a local time that does not exist (the hour clocks skip in spring) maps to the instant the
///   clocks jump, so a window opening at 02:30 on that day opens at 03:00 new time;
/// - a local time that occurs twice (the hour repeated in autumn) maps to its first occurrence.
struct ZoneClock {
  let zone: TimeZone

  func offset(at t: Instant) -> Int64 {
    Int64(zone.secondsFromGMT(for: t.date)) * 1000
  }

  /// `local` is milliseconds since 1970 read as wall-clock time in the zone.
  func instant(local: Int64) -> Instant {
    let before = offset(at: local - millisecondsPerDay)
    let after = offset(at: local + millisecondsPerDay)
    let candidates = [local - before, local - after].filter { offset(at: $0) == local - $0 }
    if let first = candidates.min() { return first }
    // In the gap: the transition lies between the two readings; find it to the millisecond.
    var low = Swift.min(local - before, local - after)
    var high = Swift.max(local - before, local - after)
    while high - low > 1 {
      let mid = low + (high - low) / 2
      if offset(at: mid) == before { low = mid } else { high = mid }
    }
    return high
  }

  /// Local days since 1970-01-01 of the instant `t`.
  func localDay(of t: Instant) -> Int64 {
    let local = t + offset(at: t)
    return local >= 0
      ? local / millisecondsPerDay : (local - millisecondsPerDay + 1) / millisecondsPerDay
  }
}

extension Weekday {
  /// The weekday of a day count since 1970-01-01, which was a Thursday.
  init(daysSince1970 day: Int64) {
    let fromMonday = ((day + 3) % 7 + 7) % 7
    self = Weekday(rawValue: Int(fromMonday) + 1) ?? .monday
  }
}

extension MaintenanceWindow {
  /// The window's openings that overlap [from, to), clipped to it. A window whose `to` is not
  /// after `from` runs past midnight; `from == to` means a whole day. Nil when the time zone
  /// is unknown.
  func openTimes(from: Instant, to: Instant) -> OpenTimes? {
    guard let zone = TimeZone(identifier: timeZone) else { return nil }
    let clock = ZoneClock(zone: zone)
    var parts: [(start: Instant, end: Instant)] = []
    // One day of slack on both sides catches windows that began the day before.
    let firstDay = clock.localDay(of: from) - 1
    let lastDay = clock.localDay(of: to) + 1
    guard firstDay <= lastDay else { return OpenTimes(intervals: []) }
    for day in firstDay...lastDay where days.contains(Weekday(daysSince1970: day)) {
      let closeDay = self.to.minutes > self.from.minutes ? day : day + 1
      let open = clock.instant(local: day * millisecondsPerDay + Int64(self.from.minutes) * 60_000)
      let close = clock.instant(
        local: closeDay * millisecondsPerDay + Int64(self.to.minutes) * 60_000)
      let start = Swift.max(open, from)
      let end = Swift.min(close, to)
      if end > start { parts.append((start, end)) }
    }
    return OpenTimes.union(parts)
  }
}
