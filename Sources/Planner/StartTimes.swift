// When each cluster may start at run time: its maintenance windows minus the fleet's freezes,
// asked for "the next open instant at or after T" by the executor on its own clock.
import FleetCore
import Foundation

/// Why a cluster cannot start yet, and when it can.
public struct StartWait: Sendable, Equatable {
  /// The first instant the cluster may start; nil when none lies within the horizon.
  public var opensAt: Date?
  /// What it waits for, e.g. "window 'night' opens at 2027-01-15T21:00:00Z".
  public var reason: String

  public init(opensAt: Date?, reason: String) {
    self.opensAt = opensAt
    self.reason = reason
  }
}

/// The planner's window arithmetic (`OpenTimes`) behind a question the executor can ask
/// about any instant: may this cluster start at T, and if not, when next?
///
/// Open times are computed per distinct window set for `horizon` past the instant asked about
/// and cached until a question falls outside them, so asking on every scheduling step is cheap.
public final class StartTimes: @unchecked Sendable {
  public let horizon: Duration
  private let fleet: Fleet
  private let windowsOfCluster: [String: [String]]
  private let freezes: OpenTimes
  private let lock = NSLock()
  private var cache: [[String]: (from: Instant, to: Instant, times: OpenTimes)] = [:]

  public init(fleet: Fleet, horizon: Duration = Planner.defaultHorizon) {
    self.fleet = fleet
    self.horizon = horizon
    var windows: [String: [String]] = [:]
    for cluster in fleet.clusters { windows[cluster.name] = Array(Set(cluster.windows)).sorted() }
    windowsOfCluster = windows
    freezes = OpenTimes.union(fleet.freezes.map { (Instant($0.from), Instant($0.to)) })
  }

  /// The first instant at or after `t` at which `cluster` may start, or nil when none is
  /// left within the horizon. A cluster without windows may start whenever no freeze holds.
  public func next(for cluster: String, atOrAfter t: Date) -> Date? {
    let at = Instant(t)
    return openTimes(windowsOfCluster[cluster] ?? [], at: at).next(atOrAfter: at)?.date
  }

  /// Nil when `cluster` may start at `t`; otherwise what it waits for.
  public func wait(for cluster: String, at t: Date) -> StartWait? {
    let at = Instant(t)
    let next = next(for: cluster, atOrAfter: t)
    if let next, Instant(next) == at { return nil }
    let names = windowsOfCluster[cluster] ?? []
    let windowText =
      names.isEmpty
      ? "the freeze to end"
      : "window " + names.map { "'\($0)'" }.joined(separator: " or ") + " to open"
    if let freeze = fleet.freezes.first(where: { Instant($0.from) <= at && at < Instant($0.to) }) {
      let reason = "freeze '\(freeze.reason)' (until \(Timestamp.iso(freeze.to)))"
      guard let next else {
        return StartWait(opensAt: nil, reason: reason + "; no open time within the horizon")
      }
      return StartWait(
        opensAt: next,
        reason: reason + (names.isEmpty ? "" : ", then " + windowText) + " at "
          + Timestamp.iso(next))
    }
    guard let next else {
      return StartWait(
        opensAt: nil,
        reason: windowText + ": none opens within "
          + DurationText.format(horizon) + " of " + Timestamp.iso(t))
    }
    let opens = names.isEmpty ? "the freeze to end" : String(windowText.dropLast(" to open".count))
    return StartWait(opensAt: next, reason: opens + " opens at " + Timestamp.iso(next))
  }

  private func openTimes(_ names: [String], at: Instant) -> OpenTimes {
    lock.lock()
    defer { lock.unlock() }
    let span = Swift.max(millisecondsPerDay, DurationText.milliseconds(horizon))
    // Reuse while the question lies in the first half, so "next" always sees a full horizon.
    if let cached = cache[names], cached.from <= at, at + span / 2 <= cached.to {
      return cached.times
    }
    let to = at + span
    var times: OpenTimes
    if names.isEmpty {
      times = OpenTimes(intervals: [(at, to)])
    } else {
      var parts: [(start: Instant, end: Instant)] = []
      for name in names {
        guard let window = fleet.windows[name], let open = window.openTimes(from: at, to: to)
        else { continue }
        parts += open.intervals
      }
      times = OpenTimes.union(parts)
    }
    times = times.subtracting(freezes)
    cache[names] = (at, to, times)
    return times
  }
}
