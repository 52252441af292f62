import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

@Suite struct JournalTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  func header(_ id: String = "20270115-080000-abcdef") -> RunHeader {
    RunHeader(
      id: id, fleet: "demo", release: "checkout", version: "1.4.2", fleetDigest: "sha256:1234",
      plan: ["fleet": "demo", "waves": [["index": 0, "clusters": ["a", "b"]]]], startedAt: start,
      host: "ci-runner", pid: 4242, user: "ops")
  }

  @Test func everyProcessThatActedForARunIsListedInOrder() throws {
    let dir = try TemporaryDirectory("journal-instances")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    var started = header()
    started.instance = "p1x7ka"
    let journal = try Journal.create(
      store: store, header: started, clock: ManualClock(start: start))
    try journal.append(.cluster(name: "a", state: "upgrading", revision: "2"))
    try journal.append(.resumed(by: "ops", pid: 7, host: "ci-2", instance: "q9m2zz"))
    // Written by a version without process tokens: nothing to list.
    try journal.append(.resumed(by: "ops", pid: 8, host: "ci-3"))
    let (reopened, _) = try Journal.reopen(store: store, run: started.id)
    #expect(reopened.header.instance == "p1x7ka")
    #expect(reopened.state.instances == ["p1x7ka", "q9m2zz"])
    let line = try #require(
      try String(contentsOfFile: store.journalPath(started.id), encoding: .utf8)
        .split(separator: "\n").first { $0.contains("\"resumed\"") })
    #expect(line.contains("\"instance\":\"q9m2zz\""))
  }

  @Test func appendsSurviveReopenAndReplayIntoState() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let clock = ManualClock(start: start)
    let journal = try Journal.create(store: store, header: header(), clock: clock)
    try journal.append(.wave(index: 0, state: "started"))
    try journal.append(.cluster(name: "a", state: "upgrading", revision: "2"))
    clock.advance(by: .seconds(30))
    try journal.append(.cluster(name: "a", state: "succeeded", revision: "2"))
    try journal.append(.cluster(name: "b", state: "upgrading", revision: "2"))
    try journal.append(
      .measurement(
        cluster: "a", wave: "wave 0",
        FleetCore.Measurement(
          gate: "errors", at: start, value: 0.002, outcome: .passed, detail: "0.002 <= 0.01",
          limit: 0.01, query: "rate(errors{cluster=\"a\"}[5m])")))

    let (reopened, recovered) = try Journal.reopen(store: store, run: header().id)
    #expect(recovered == nil)
    #expect(reopened.records == journal.records)
    #expect(reopened.header == header())
    let state = reopened.state
    #expect(state.clusters["a"]?.state == "succeeded")
    #expect(state.clusters["a"]?.finishedAt == start.addingTimeInterval(30))
    #expect(state.inFlight == ["b"])
    #expect(state.waves == ["wave 0": "started"])
    #expect(!state.isFinished)
    #expect(store.runIDs() == [header().id])
    #expect(JournalIntegrity.problems(in: reopened.records).isEmpty)
  }

  @Test func aTornLastLineIsDiscardedAndTheRunContinues() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    try journal.append(.cluster(name: "a", state: "upgrading"))
    // A crash in the middle of a write leaves half a line.
    let handle = try #require(FileHandle(forWritingAtPath: journal.path))
    handle.seekToEndOfFile()
    handle.write(Data("0badc0de {\"seq\":3,\"at\":".utf8))
    try handle.close()

    let (reopened, recovered) = try Journal.reopen(store: store, run: header().id)
    #expect(
      recovered
        == "\(journal.path):3: incomplete last record (a crash during a write) was discarded")
    #expect(reopened.records.count == 2)
    let record = try reopened.append(.cluster(name: "a", state: "succeeded"))
    #expect(record.sequence == 3)
    #expect(try Journal.reopen(store: store, run: header().id).journal.records.count == 3)
  }

  @Test func damageBeforeTheEndIsAnError() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    try journal.append(.cluster(name: "a", state: "upgrading"))
    try journal.append(.cluster(name: "a", state: "succeeded"))
    var text = try String(contentsOfFile: journal.path, encoding: .utf8)
    text = text.replacingOccurrences(of: "\"upgrading\"", with: "\"upgradinG\"")
    try text.write(toFile: journal.path, atomically: true, encoding: .utf8)
    #expect {
      try Journal.reopen(store: store, run: header().id)
    } throws: { error in
      "\(error)" == "\(journal.path):2: \(Self.damage)"
    }
  }

  static let damage =
    "damaged record (checksum or format): the line is complete, so this is not a torn write; "
    + "the journal was changed after it was written"

  /// A flipped byte in the last complete record is damage, not a torn write: the newline
  /// proves the write finished.
  @Test func aFlippedByteInTheLastCompleteLineIsDamage() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    try journal.append(.cluster(name: "a", state: "upgrading"))
    var text = try String(contentsOfFile: journal.path, encoding: .utf8)
    text = text.replacingOccurrences(of: "\"upgrading\"", with: "\"upgradinG\"")
    try text.write(toFile: journal.path, atomically: true, encoding: .utf8)
    #expect(text.hasSuffix("\n"))
    #expect {
      try Journal.reopen(store: store, run: header().id)
    } throws: { error in
      "\(error)" == "\(journal.path):2: \(Self.damage)"
    }
  }

  @Test func waveRecordsAreKeyedByNameAndOldIndexOnlyLinesResolveThroughTheFrozenPlan() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    var named = header()
    named.plan = ["waves": [["index": 0, "name": "canary"], ["index": 1, "name": "rest"]]]
    let journal = try Journal.create(store: store, header: named)
    // Written by a fleetwave that recorded positions only.
    try journal.append(.wave(index: 0, state: "promoted"))
    try journal.append(.approval(wave: 1, by: "alice"))
    // Written after a replan put a new wave in front: the name wins over the position.
    try journal.append(
      .wave(index: 0, state: "halted", name: "hotfix", reason: "wave 'hotfix' has 2 failed"))
    let state = journal.state
    #expect(state.waves == ["canary": "promoted", "hotfix": "halted"])
    #expect(state.approvals == ["rest": "alice"])
    #expect(state.haltReasons == ["hotfix": "wave 'hotfix' has 2 failed"])
    // Kept current as records are appended, it equals a replay of the file.
    #expect(state == RunState(records: journal.records))
    let (reopened, _) = try Journal.reopen(store: store, run: named.id)
    #expect(reopened.state.waves == state.waves)
    #expect(reopened.state.approvals == state.approvals)
    let line = try String(contentsOfFile: store.journalPath(named.id), encoding: .utf8)
      .split(separator: "\n")[3]
    #expect(
      line.hasSuffix(
        #""type":"wave","wave":0,"waveName":"hotfix","state":"halted","reason":"wave 'hotfix' has 2 failed"}"#
      ))
  }

  @Test func integrityCheckFindsImpossibleHistories() throws {
    let dir = try TemporaryDirectory("journal")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    try journal.append(.cluster(name: "a", state: "succeeded"))
    try journal.append(.cluster(name: "b", state: "upgrading"))
    try journal.append(.cluster(name: "b", state: "exploded"))
    try journal.append(.runFinished(outcome: "failed"))
    try journal.append(.wave(index: 1, state: "started"))
    #expect(
      JournalIntegrity.problems(in: journal.records) == [
        "record 2: cluster a went from 'nothing' to 'succeeded'",
        "record 4: cluster b has unknown state 'exploded'",
        "record 6 follows the run's end",
      ])
  }
}

@Suite(.serialized) struct RunLockTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  @Test func aSecondRunIsRefusedNamingTheHolder() throws {
    let dir = try TemporaryDirectory("lock")
    defer { dir.remove() }
    let lock = try RunLock.acquire(stateDirectory: dir.path, fleet: "demo", run: "run-1", at: start)
    #expect(RunLock.holder(stateDirectory: dir.path)?.run == "run-1")
    #expect {
      try RunLock.acquire(stateDirectory: dir.path, fleet: "demo", run: "run-2", at: start)
    } throws: { error in
      let host = ProcessInfo.processInfo.hostName
      return "\(error)"
        == "another rollout of fleet 'demo' is in progress: run run-1 (host \(host), pid \(getpid()), since 2027-01-15T08:00:00.000Z)"
    }
    lock.release()
    #expect(RunLock.holder(stateDirectory: dir.path) == nil)
    let again = try RunLock.acquire(
      stateDirectory: dir.path, fleet: "demo", run: "run-2", at: start)
    #expect(again.previousHolder == nil)
  }

  /// A holder killed with SIGKILL cannot keep the lock: the kernel drops it with the process.
  @Test func aKilledHolderIsDetectedAndReplaced() throws {
    let dir = try TemporaryDirectory("lock")
    defer { dir.remove() }
    let lockPath = dir.file("lock")
    let holderJSON =
      #"{"run":"run-dead","host":"old-host","pid":99999,"since":"2027-01-15T07:00:00.000Z"}"#
    let script = """
      import fcntl, os, sys, time
      fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
      fcntl.flock(fd, fcntl.LOCK_EX)
      os.ftruncate(fd, 0)
      os.write(fd, sys.argv[2].encode() + b"\\n")
      print("locked", flush=True)
      time.sleep(60)
      """
    let output = dir.path + "/child.out"
    let child = try BackgroundProcess(
      "/usr/bin/env", ["python3", "-c", script, lockPath, holderJSON], output: output)
    #expect(
      eventually(timeout: 60) {
        (try? String(contentsOfFile: output, encoding: .utf8)) == "locked\n"
      })
    #expect(RunLock.holder(stateDirectory: dir.path)?.run == "run-dead")
    #expect(throws: RunLockError.self) {
      try RunLock.acquire(stateDirectory: dir.path, fleet: "demo", run: "run-new", at: start)
    }
    child.signal(SIGKILL)
    child.wait()
    let lock = try RunLock.acquire(
      stateDirectory: dir.path, fleet: "demo", run: "run-new", at: start)
    #expect(lock.previousHolder?.run == "run-dead")
    #expect(lock.previousHolder?.host == "old-host")
  }
}
