// Group commit: many clusters queueing records at once share writes and syncs, every record
// lands whole and in order, and a crash at any byte of a batch loses only the torn last line.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

@Suite struct JournalGroupCommitTests {
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  func header() -> RunHeader {
    RunHeader(
      id: "20270115-080000-abcdef", fleet: "demo", release: "checkout", version: "1.4.2",
      fleetDigest: "sha256:1234", plan: ["fleet": "demo", "waves": []], startedAt: start,
      host: "ci-runner", pid: 4242, user: "ops")
  }

  static let states = ["upgrading", "verifying", "baking", "succeeded"]

  /// Eight appenders released together, each taking its clusters through every state.
  func appendConcurrently(_ journal: Journal, appenders: Int, clustersEach: Int) {
    StartBarrier.run(workers: appenders) { appender in
      for cluster in 0..<clustersEach {
        for state in JournalGroupCommitTests.states {
          try? journal.record(.cluster(name: "c-\(appender)-\(cluster)", state: state))
        }
      }
    }
  }

  @Test func concurrentAppendersShareSyncsAndEveryRecordLandsInOrder() throws {
    let dir = try TemporaryDirectory("group-commit")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    let syncsBefore = journal.syncCount
    appendConcurrently(journal, appenders: 8, clustersEach: 50)
    try journal.flush()

    let records = try JournalFile.read(path: store.journalPath(header().id)).records
    let appended = 8 * 50 * Self.states.count
    #expect(records.count == appended + 1)
    #expect(records.map(\.sequence) == Array(1...(appended + 1)))
    var seen: [String: [String]] = [:]
    for record in records.dropFirst() {
      guard case .cluster(let name, let state, _, _, _) = record.entry else {
        Issue.record("unexpected record \(record)")
        continue
      }
      seen[name, default: []].append(state)
    }
    #expect(seen.count == 400)
    #expect(seen.values.allSatisfy { $0 == Self.states })
    let syncs = journal.syncCount - syncsBefore
    #expect(syncs >= 1)
    #expect(syncs < appended)
    // The run's state saw every record as it was queued.
    #expect(journal.state.clusters.count == 400)
    #expect(journal.state.clusters.values.allSatisfy { $0.state == "succeeded" })
    // The journal's own list is the file's, sequence for sequence (times are written in ms).
    #expect(journal.records.map(\.sequence) == records.map(\.sequence))
    #expect(journal.records.map(\.entry) == records.map(\.entry))
  }

  @Test func whenDurableCallsBackOnlyOnceTheRecordIsInTheFile() throws {
    let dir = try TemporaryDirectory("group-commit")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    let path = store.journalPath(header().id)
    try journal.record(.cluster(name: "a", state: "upgrading"))
    // Queued: the state shows it at once, whatever the disk holds yet.
    #expect(journal.state.clusters["a"]?.state == "upgrading")
    let done = DispatchSemaphore(value: 0)
    let onDisk = LockedFlag()
    journal.whenDurable { error in
      let records = (try? JournalFile.read(path: path).records) ?? []
      onDisk.set(error == nil && records.count == 2)
      done.signal()
    }
    done.wait()
    #expect(onDisk.value)

    // Nothing queued: the callback comes at once.
    let immediate = LockedFlag()
    journal.whenDurable { immediate.set($0 == nil) }
    #expect(immediate.value)
  }

  @Test func aCrashAtAnyByteOfABatchLeavesCompleteRecordsAndOneTornLine() throws {
    let dir = try TemporaryDirectory("group-commit")
    defer { dir.remove() }
    let store = RunStore(stateDirectory: dir.path)
    let journal = try Journal.create(store: store, header: header())
    let path = store.journalPath(header().id)
    let before = try Data(contentsOf: URL(fileURLWithPath: path)).count
    // Three records queued together: one or more batches, each written by one write.
    for name in ["a", "b", "c"] { try journal.record(.cluster(name: name, state: "upgrading")) }
    try journal.flush()
    let whole = try Data(contentsOf: URL(fileURLWithPath: path))
    let lineEnds = whole.indices.filter { whole[$0] == 0x0A }.map { $0 + 1 }

    // A kill during the write leaves the file cut anywhere in the batch.
    for cut in before..<whole.count {
      try whole.prefix(cut).write(to: URL(fileURLWithPath: path))
      let read = try JournalFile.read(path: path)
      let complete = lineEnds.filter { $0 <= cut }.count
      #expect(read.records.count == complete)
      #expect(read.validLength == lineEnds.filter { $0 <= cut }.max())
      #expect((read.tornTail != nil) == !lineEnds.contains(cut))
    }
    // Resume repairs the torn line and goes on from the last whole record.
    try whole.prefix(whole.count - 5).write(to: URL(fileURLWithPath: path))
    let (reopened, recovered) = try Journal.reopen(store: store, run: header().id)
    #expect(
      recovered
        == "\(path):4: incomplete last record (a crash during a write) was discarded")
    #expect(reopened.state.clusters.keys.sorted() == ["a", "b"])
    #expect(try reopened.append(.cluster(name: "c", state: "upgrading")).sequence == 4)
    #expect(try JournalFile.read(path: path).tornTail == nil)
  }
}

/// A flag set on one thread and read on another.
private final class LockedFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var stored = false
  func set(_ value: Bool) {
    lock.lock()
    stored = value
    lock.unlock()
  }
  var value: Bool {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }
}
