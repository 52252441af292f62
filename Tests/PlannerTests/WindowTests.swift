// Maintenance windows as UTC intervals: DST changes, time zones, windows past midnight, freezes.
import FleetCore
import Foundation
import Testing

@testable import Planner

@Suite struct WindowTests {
  /// The window's openings between two times, as ISO strings for readable failures.
  func openings(_ window: MaintenanceWindow, _ from: String, _ to: String) -> [String] {
    let times = window.openTimes(from: Instant(utc(from)), to: Instant(utc(to)))
    return (times?.intervals ?? []).map {
      Plan.timestamp($0.start.date) + " " + Plan.timestamp($0.end.date)
    }
  }

  @Test func berlinSpringForwardOpensWhenClocksJump() {
    // 2026-03-29 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist that night.
    let w = window("w", [.sunday], (2, 30), (4, 0), "Europe/Berlin")
    #expect(
      openings(w, "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z") == [
        "2026-03-29T01:00:00Z 2026-03-29T02:00:00Z"
      ])
  }

  @Test func berlinDailyWindowShiftsAnHourInUTCAcrossSpringForward() {
    let w = window("w", everyDay, (9, 0), (17, 0), "Europe/Berlin")
    #expect(
      openings(w, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z") == [
        "2026-03-28T08:00:00Z 2026-03-28T16:00:00Z",
        "2026-03-29T07:00:00Z 2026-03-29T15:00:00Z",
        "2026-03-30T07:00:00Z 2026-03-30T15:00:00Z",
      ])
  }

  @Test func berlinFallBackTakesTheFirstOfTheRepeatedHour() {
    // 2026-10-25 03:00 CEST becomes 02:00 CET (01:00Z): 02:30 happens at 00:30Z and 01:30Z.
    let w = window("w", [.sunday], (2, 30), (3, 0), "Europe/Berlin")
    #expect(
      openings(w, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z") == [
        "2026-10-25T00:30:00Z 2026-10-25T02:00:00Z"
      ])
  }

  @Test func windowPastMidnightAcrossSpringForwardIsAnHourShorter() {
    let w = window("w", [.saturday], (23, 0), (4, 0), "Europe/Berlin")
    #expect(
      openings(w, "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z") == [
        "2026-03-28T22:00:00Z 2026-03-29T02:00:00Z"
      ])
  }

  @Test func newYorkWindowInsideTheSkippedHourDoesNotOpenThatDay() {
    // 2026-03-08 02:00 EST becomes 03:00 EDT (07:00Z); 02:15-02:45 never happens that night.
    let w = window("w", [.sunday], (2, 15), (2, 45), "America/New_York")
    #expect(
      openings(w, "2026-03-07T00:00:00Z", "2026-03-16T00:00:00Z") == [
        "2026-03-15T06:15:00Z 2026-03-15T06:45:00Z"
      ])
  }

  @Test func newYorkFallBackWindowLastsTheExtraHour() {
    // 2026-11-01 02:00 EDT becomes 01:00 EST (06:00Z): 01:30 first happens at 05:30Z.
    let w = window("w", [.sunday], (1, 30), (5, 0), "America/New_York")
    #expect(
      openings(w, "2026-10-31T12:00:00Z", "2026-11-02T00:00:00Z") == [
        "2026-11-01T05:30:00Z 2026-11-01T10:00:00Z"
      ])
  }

  @Test func windowPastMidnightIsOpenAfterMidnightAndClippedToTheRange() throws {
    // Friday 22:00 to Saturday 02:00 Berlin (CET): the range starts inside Friday's window.
    let w = window("w", [.friday], (22, 0), (2, 0), "Europe/Berlin")
    #expect(
      openings(w, "2026-01-10T00:30:00Z", "2026-01-17T00:00:00Z") == [
        "2026-01-10T00:30:00Z 2026-01-10T01:00:00Z",
        "2026-01-16T21:00:00Z 2026-01-17T00:00:00Z",
      ])
    let times = try #require(
      w.openTimes(
        from: Instant(utc("2026-01-10T00:30:00Z")), to: Instant(utc("2026-01-17T00:00:00Z"))))
    #expect(
      times.next(atOrAfter: Instant(utc("2026-01-10T00:45:00Z")))
        == Instant(utc("2026-01-10T00:45:00Z")))
    #expect(
      times.next(atOrAfter: Instant(utc("2026-01-10T01:00:00Z")))
        == Instant(utc("2026-01-16T21:00:00Z")))
    #expect(times.next(atOrAfter: Instant(utc("2026-01-17T00:00:00Z"))) == nil)
  }

  @Test func halfHourZoneAndWholeDayWindow() {
    let kolkata = window("w", [.monday], (9, 0), (10, 0), "Asia/Kolkata")
    #expect(
      openings(kolkata, "2026-03-29T00:00:00Z", "2026-04-01T00:00:00Z") == [
        "2026-03-30T03:30:00Z 2026-03-30T04:30:00Z"
      ])
    // from == to is the whole local day: 23 hours long on the day clocks spring forward.
    let allDay = window("w", [.sunday], (0, 0), (0, 0), "Europe/Berlin")
    #expect(
      openings(allDay, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z") == [
        "2026-03-28T23:00:00Z 2026-03-29T22:00:00Z"
      ])
  }

  @Test func unknownTimeZoneGivesNoTimes() {
    let w = window("w", everyDay, (9, 0), (17, 0), "Mars/Olympus_Mons")
    #expect(w.openTimes(from: 0, to: millisecondsPerDay * 10) == nil)
  }

  @Test func subtractingCutsEveryOverlap() {
    let open = OpenTimes(intervals: [(0, 10), (20, 30), (40, 50)])
    let closed = OpenTimes.union([(5, 22), (25, 27), (45, 60), (0, 1)])
    #expect(closed == OpenTimes(intervals: [(0, 1), (5, 22), (25, 27), (45, 60)]))
    #expect(
      open.subtracting(closed) == OpenTimes(intervals: [(1, 5), (22, 25), (27, 30), (40, 45)]))
  }

  /// One cluster per window set, policy without waves, so each is in its own wave-free timeline.
  func plan(
    _ clusters: [Cluster], windows: [MaintenanceWindow], freezes: [FreezePeriod], start: String,
    horizon: Duration = Planner.defaultHorizon
  ) -> Plan {
    let fleet = Fleet(
      name: "f", directory: "f", release: Release(name: "r"), clusters: clusters,
      rollout: RolloutPolicy(
        waves: [WaveSpec(name: "all", members: .rest)], maxParallel: 10),
      windows: Dictionary(uniqueKeysWithValues: windows.map { ($0.name, $0) }), freezes: freezes)
    return Planner(horizon: horizon).plan(fleet, start: utc(start))
  }

  func earliest(_ plan: Plan, _ name: String) -> String? {
    plan.waves.flatMap(\.schedule).first { $0.name == name }?.earliestStart.map(Plan.timestamp)
  }

  @Test func overlappingFreezesMergeAndPushStartsToTheNextWindowAfterThem() {
    let p = plan(
      [Cluster(name: "berlin", windows: ["office"]), Cluster(name: "anytime")],
      windows: [window("office", weekdays, (9, 0), (17, 0), "Europe/Berlin")],
      freezes: [
        FreezePeriod(
          from: utc("2026-12-20T00:00:00Z"), to: utc("2027-01-05T00:00:00Z"), reason: "holidays"),
        FreezePeriod(
          from: utc("2026-12-30T00:00:00Z"), to: utc("2027-01-07T12:00:00Z"), reason: "year end"),
      ],
      start: "2026-12-21T10:00:00Z")
    #expect(earliest(p, "anytime") == "2027-01-07T12:00:00Z")
    // 12:00Z is 13:00 in Berlin, inside Thursday's window.
    #expect(earliest(p, "berlin") == "2027-01-07T12:00:00Z")
    let q = plan(
      [Cluster(name: "berlin", windows: ["office"])],
      windows: [window("office", weekdays, (9, 0), (17, 0), "Europe/Berlin")],
      freezes: [
        FreezePeriod(
          from: utc("2026-12-20T00:00:00Z"), to: utc("2027-01-07T16:30:00Z"), reason: "holidays")
      ],
      start: "2026-12-21T10:00:00Z")
    // The freeze ends after Thursday's window closes (16:00Z); Friday 09:00 Berlin is 08:00Z.
    #expect(earliest(q, "berlin") == "2027-01-08T08:00:00Z")
  }

  @Test func clusterWhoseWindowsNeverOpenIsReportedNotHidden() throws {
    let p = plan(
      [
        Cluster(name: "never", windows: ["no-days"]), Cluster(name: "later", windows: ["sundays"]),
        Cluster(name: "ghost", windows: ["missing"]), Cluster(name: "now"),
      ],
      windows: [
        window("no-days", [], (9, 0), (17, 0), "UTC"),
        window("sundays", [.sunday], (9, 0), (17, 0), "UTC"),
      ],
      freezes: [], start: "2026-03-25T10:00:00Z", horizon: .seconds(2 * 86_400))
    #expect(p.unschedulable == ["ghost", "later", "never"])
    #expect(p.clusterCount == 4)
    #expect(
      p.notes.map(\.message) == [
        "window 'missing' is not defined; it never opens",
        "cannot start before the horizon 2026-03-27T10:00:00Z; left out of the timeline "
          + "(the rollout would wait for them)",
      ])
    #expect(p.notes.last?.clusters == ["ghost", "later", "never"])
    let wave = try #require(p.waves.first)
    #expect(
      wave.schedule.map { $0.estimatedStart.map(Plan.timestamp) ?? "-" } == [
        "-", "-", "-", "2026-03-25T10:00:00Z",
      ])
  }
}
