// The `deferred` record (onUnreachable: defer): written, read back after a reopen, replayed
// into the cluster's state, and checked by the integrity rules.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

@Suite struct DeferredRecordTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  func header() -> RunHeader {
    RunHeader(
      id: "20270115-080000-deferd", fleet: "demo", release: "checkout", version: "1.4.2",
      fleetDigest: "sha256:1234",
      plan: ["fleet": "demo", "waves": [["index": 0, "name": "all", "clusters": ["a"]]]],
      startedAt: start, host: "ci-runner", pid: 4242, user: "ops")
  }

  @Test func aDeferralIsReadBackWithItsAttemptReasonAndRetryTime() throws {
    let dir = try TemporaryDirectory("journal-deferred")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let clock = ManualClock(start: start)
    let journal = try Journal.create(store: store, header: header(), clock: clock)
    try journal.append(.cluster(name: "a", state: "upgrading"))
    try journal.append(
      .deferred(
        cluster: "a", attempt: 1, reason: "a: read release history: connection refused",
        until: start.addingTimeInterval(10)))
    let line = try #require(
      try String(contentsOfFile: store.journalPath(header().id), encoding: .utf8)
        .split(separator: "\n").last)
    #expect(
      line.dropFirst(9)
        == #"{"seq":3,"at":"2027-01-15T08:00:00.000Z","type":"deferred","cluster":"a","attempt":1,"#
        + #""reason":"a: read release history: connection refused","until":"2027-01-15T08:00:10.000Z"}"#
    )

    let (reopened, _) = try Journal.reopen(store: store, run: header().id)
    #expect(reopened.records == journal.records)
    let a = try #require(reopened.state.clusters["a"])
    #expect(a.state == "deferred")
    #expect(a.deferrals == 1)
    #expect(a.deferredUntil == start.addingTimeInterval(10))
    #expect(a.deferralReason == "a: read release history: connection refused")
    // Deferred is out of flight: nothing to re-examine after a crash.
    #expect(reopened.state.inFlight.isEmpty)

    try journal.append(.cluster(name: "a", state: "upgrading"))
    try journal.append(.cluster(name: "a", state: "verifying", revision: "2"))
    #expect(journal.state.clusters["a"]?.deferrals == 1)
    #expect(JournalIntegrity.problems(in: journal.records).isEmpty)
  }

  @Test func aDeferralOfAClusterThatWasNotUpgradingIsAnImpossibleHistory() throws {
    let dir = try TemporaryDirectory("journal-deferred")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    try journal.append(.cluster(name: "a", state: "upgrading"))
    try journal.append(.cluster(name: "a", state: "baking"))
    try journal.append(.deferred(cluster: "a", attempt: 1, reason: "refused", until: nil))
    #expect(
      JournalIntegrity.problems(in: journal.records) == [
        "record 4: cluster a went from 'baking' to 'deferred'"
      ])
  }
}
