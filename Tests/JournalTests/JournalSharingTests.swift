// The journal shared between a run and `approve`/`pause`, the recorder's entries, the
// fleet digest, and the integrity rules a resumed or rolled-back run relies on.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

@Suite struct JournalSharingTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  func header() -> RunHeader {
    RunHeader(
      id: "run-1", fleet: "demo", release: "checkout", version: "1.4.2", fleetDigest: "x",
      plan: ["waves": []], startedAt: start, host: "h", pid: 1, user: "ops",
      fleetDirectory: "/fleets/demo")
  }

  @Test func anOutsideAppendIsSeenByTheRunAndSequencesStayDense() throws {
    let dir = try TemporaryDirectory("journal-share")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let run = try Journal.create(store: store, header: header())
    try run.append(.cluster(name: "a", state: "upgrading", from: "1"))
    let outside = try Journal.attach(store: store, run: "run-1")
    #expect(try outside.append(.approval(wave: 1, by: "alice", name: "prod")).sequence == 3)
    #expect(try outside.append(.paused(by: "bob")).sequence == 4)
    #expect(try run.append(.cluster(name: "a", state: "verifying", revision: "2")).sequence == 5)
    let state = run.state
    #expect(state.approvals == ["prod": "alice"])
    #expect(state.pausedBy == "bob")
    #expect(state.clusters["a"]?.fromRevision == "1")
    #expect(state.clusters["a"]?.revision == "2")
    let (reopened, recovered) = try Journal.reopen(store: store, run: "run-1")
    #expect(recovered == nil)
    #expect(reopened.records.map(\.sequence) == [1, 2, 3, 4, 5])
    #expect(reopened.header.fleetDirectory == "/fleets/demo")
  }

  @Test func anOutsideWriterRefusesATornJournal() throws {
    let dir = try TemporaryDirectory("journal-torn")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    _ = try Journal.create(store: store, header: header())
    let handle = try #require(FileHandle(forWritingAtPath: store.journalPath("run-1")))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data("0badf00d {\"seq\":2".utf8))
    try handle.close()
    #expect(throws: JournalError.self) { try Journal.attach(store: store, run: "run-1") }
    do {
      _ = try Journal.attach(store: store, run: "run-1")
    } catch {
      #expect(
        error.message
          == "\(store.journalPath("run-1")):2: incomplete last record (a crash during a write) "
          + "was discarded; resume the run to repair it first")
    }
  }

  @Test func theRecorderWritesRevisionsAndLeavesAnInterruptedRunOpen() {
    var record = ClusterRunRecord(name: "a", wave: 0, phase: .upgrading, fromRevision: "3")
    #expect(
      RunRecorder.entry(
        for: .clusterPhase(cluster: "a", wave: 0, phase: .upgrading, detail: nil, at: start),
        cluster: record, waves: ["canary", "early", "rest"])
        == .cluster(name: "a", state: "upgrading", from: "3"))
    record.toRevision = "4"
    #expect(
      RunRecorder.entry(
        for: .clusterPhase(cluster: "a", wave: 0, phase: .verifying, detail: nil, at: start),
        cluster: record, waves: ["canary", "early", "rest"])
        == .cluster(name: "a", state: "verifying", revision: "4"))
    #expect(
      RunRecorder.entry(
        for: .clusterPhase(cluster: "a", wave: 0, phase: .failed, detail: "boom", at: start),
        cluster: record, waves: ["canary", "early", "rest"])
        == .cluster(name: "a", state: "failed", error: "boom"))
    #expect(
      RunRecorder.entry(
        for: .runFinished(outcome: .interrupted, at: start), cluster: nil,
        waves: ["canary", "early", "rest"]) == nil)
    #expect(
      RunRecorder.entry(
        for: .runFinished(outcome: .halted, at: start), cluster: nil,
        waves: ["canary", "early", "rest"])
        == .runFinished(outcome: "halted"))
    #expect(
      RunRecorder.entry(
        for: .waveBaking(wave: 2, until: start, at: start), cluster: nil,
        waves: ["canary", "early", "rest"])
        == .wave(index: 2, state: "baking", name: "rest"))
  }

  @Test func theFleetDigestChangesWithAFileAndIgnoresTheStateDirectory() throws {
    let dir = try TemporaryDirectory("digest")
    defer { dir.remove() }
    _ = try dir.write("fleet.yaml", "a: 1\n")
    _ = try dir.write("values/base.yaml", "b: 2\n")
    let first = FleetDigest.of(directory: dir.path)
    _ = try dir.write(".fleetwave/runs/r/journal.log", "anything")
    #expect(FleetDigest.of(directory: dir.path) == first)
    _ = try dir.write("values/base.yaml", "b: 3\n")
    #expect(FleetDigest.of(directory: dir.path) != first)
    #expect(first.hasPrefix("sha256:") && first.count == 71)
  }

  @Test func aRollbackMayReopenAFinishedRunButNothingElseMay() {
    func record(_ seq: Int, _ entry: JournalEntry) -> JournalRecord {
      JournalRecord(sequence: seq, at: start, entry: entry)
    }
    let base = [
      record(1, .runStarted(header())),
      record(2, .cluster(name: "a", state: "upgrading")),
      record(3, .cluster(name: "a", state: "verifying")),
      record(4, .cluster(name: "a", state: "upgrading")),
      record(5, .cluster(name: "a", state: "baking")),
      record(6, .cluster(name: "a", state: "succeeded")),
      record(7, .runFinished(outcome: "succeeded")),
    ]
    let rolledBack =
      base + [
        record(8, .resumed(by: "ops", pid: 2, host: "h")),
        record(9, .cluster(name: "a", state: "rolling-back")),
        record(10, .cluster(name: "a", state: "rolled-back")),
        record(11, .runFinished(outcome: "rolled-back")),
      ]
    #expect(JournalIntegrity.problems(in: rolledBack) == [])
    let state = RunState(records: rolledBack)
    #expect(state.outcome == "rolled-back")
    #expect(state.lastResumedBy == "ops")
    #expect(
      JournalIntegrity.problems(in: base + [record(8, .cluster(name: "a", state: "rolling-back"))])
        == ["record 8 follows the run's end"])
  }
}
