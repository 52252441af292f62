// Group commit: the records many clusters queue at the same instant go to disk together, one
// write and one fdatasync per batch, instead of one fsync each on the executor's queue.
//
// The durability promise is unchanged: a record the engine acts on is on disk before the
// action. The engine queues the record (`record`), the run's state shows it at once, and the
// engine takes the action from `whenDurable`'s callback, which the flusher calls once the
// batch holding the record is synced. Nothing waits on a thread meanwhile: waiters are
// callbacks kept in ticket order, and one serial queue does the writing.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The queued side of a journal's group commit. Every field is guarded by the journal's lock.
struct CommitQueue {
  /// At most this many records go into one write: a batch stays a few hundred KiB, so a
  /// reader following the file and a crash mid-write both see bounded work.
  static let maxBatch = 4096

  /// A caller waiting for every record up to `ticket` (counted from 1, in queue order) to be
  /// on disk; it gets the sequence number of the record at `ticket`.
  struct Waiter {
    var ticket: Int
    var done: @Sendable (Result<Int, JournalError>) -> Void
  }

  /// Queued, not yet written; their sequence numbers are given when their batch is written.
  var queued: [JournalRecord] = []
  /// Records this process ever queued, and how many of them are on disk.
  var queuedCount = 0
  var durableCount = 0
  var waiters: [Waiter] = []
  var firstWaiter = 0
  /// A batch has been taken and not yet accounted for: its bytes may be in the file already.
  var writing = false
  /// The flusher has work scheduled or running.
  var flushing = false
  /// Set by the first write or sync that fails; the journal takes nothing more.
  var failure: JournalError?
  /// fdatasync calls so far: fewer than records when batching works.
  var syncs = 0
}

/// Carries `append`'s result from the flusher to the waiting thread (the semaphore orders it).
final class CommitOutcome: @unchecked Sendable {
  var result: Result<Int, JournalError> = .failure(JournalError("the journal was not written"))
}

extension Journal {
  /// Queues an entry to be written with the next batch; the run's state shows it at once.
  /// Not on disk when this returns: act on it from `whenDurable`. Throws once a write failed.
  public func record(_ entry: JournalEntry) throws(JournalError) {
    try enqueue(JournalRecord(sequence: 0, at: clock.now(), entry: entry), done: nil)
  }

  /// Calls `done` on the flusher's queue once every record queued so far is on disk (nil), or
  /// cannot be (the error). At once when nothing is queued. Holds no thread meanwhile.
  public func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void) {
    lock.lock()
    let ticket = commits.queuedCount
    if let failure = commits.failure {
      lock.unlock()
      return done(failure)
    }
    guard ticket > commits.durableCount else {
      lock.unlock()
      return done(nil)
    }
    commits.waiters.append(
      CommitQueue.Waiter(ticket: ticket) { result in
        switch result {
        case .success: done(nil)
        case .failure(let error): done(error)
        }
      })
    lock.unlock()
  }

  /// Blocks until every record queued so far is on disk: before the process reports a run's
  /// end or exits.
  public func flush() throws(JournalError) {
    let done = DispatchSemaphore(value: 0)
    let outcome = CommitOutcome()
    whenDurable { error in
      outcome.result = error.map { .failure($0) } ?? .success(0)
      done.signal()
    }
    done.wait()
    _ = try outcome.result.get()
  }

  /// fdatasync calls made so far by this journal: one per batch.
  public var syncCount: Int {
    lock.lock()
    defer { lock.unlock() }
    return commits.syncs
  }

  /// Queues one record, applies it to the run's state, and starts the flusher if it is idle.
  func enqueue(
    _ record: JournalRecord, done: (@Sendable (Result<Int, JournalError>) -> Void)?
  ) throws(JournalError) {
    lock.lock()
    if let failure = commits.failure {
      lock.unlock()
      throw failure
    }
    commits.queued.append(record)
    commits.queuedCount += 1
    storedState.apply(record)
    if let done {
      commits.waiters.append(CommitQueue.Waiter(ticket: commits.queuedCount, done: done))
    }
    let start = !commits.flushing
    commits.flushing = true
    lock.unlock()
    if start { Journal.flusher.async { self.commitBatches() } }
  }

  /// One serial queue writes every journal's batches: writes to one disk gain nothing from
  /// running side by side, and a process has one live journal.
  static let flusher = DispatchQueue(label: "fleetwave.journal-commit")

  /// Writes batches until nothing is queued. While one batch syncs, the records queued
  /// meanwhile gather into the next: the batch size follows the load, with no timer.
  private func commitBatches() {
    while let batch = takeBatch() {
      let written = write(batch.records)
      flock(fd, LOCK_UN)
      finishBatch(batch, written)
    }
  }

  private struct Batch {
    var records: [JournalRecord]
    /// The ticket of the batch's first record.
    var firstTicket: Int
  }

  /// Takes the next batch under the file's flock, after reading what other processes
  /// appended, and numbers its records after theirs. Nil when nothing is queued.
  private func takeBatch() -> Batch? {
    lock.lock()
    guard !commits.queued.isEmpty, commits.failure == nil else {
      commits.flushing = false
      lock.unlock()
      return nil
    }
    lock.unlock()
    guard flock(fd, LOCK_EX) == 0 else {
      fail(JournalError("cannot lock \(path): \(String(cString: strerror(errno)))"))
      return nil
    }
    lock.lock()
    defer { lock.unlock() }
    readOthersAppends()
    let count = min(commits.queued.count, CommitQueue.maxBatch)
    var records: [JournalRecord]
    if count == commits.queued.count {
      records = commits.queued
      commits.queued = []
    } else {
      records = Array(commits.queued.prefix(count))
      commits.queued.removeFirst(count)
    }
    let first = storedRecords.count + 1
    for index in records.indices { records[index].sequence = first + index }
    commits.writing = true
    return Batch(records: records, firstTicket: commits.durableCount + 1)
  }

  /// Encodes the batch (off the engine's queue) and writes it in one write and one
  /// fdatasync. Returns the bytes written, or the error.
  private func write(_ records: [JournalRecord]) -> Result<Int, JournalError> {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(records.count * 256)
    for record in records { Journal.appendLine(record, to: &bytes) }
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { buffer -> Int in
        guard let base = buffer.baseAddress else { return 0 }
        return Glibc.write(fd, base + written, buffer.count - written)
      }
      if n < 0 {
        if errno == EINTR { continue }
        return .failure(JournalError("cannot write \(path): \(String(cString: strerror(errno)))"))
      }
      written += n
    }
    guard fdatasync(fd) == 0 else {
      return .failure(JournalError("cannot flush \(path): \(String(cString: strerror(errno)))"))
    }
    return .success(bytes.count)
  }

  /// One journal line (`JournalLine`) added to a batch.
  static func appendLine(_ record: JournalRecord, to bytes: inout [UInt8]) {
    bytes += JournalLine.encode(record)
  }

  /// Accounts for a written batch and answers the waiters it satisfies, outside the lock.
  private func finishBatch(_ batch: Batch, _ written: Result<Int, JournalError>) {
    let length: Int
    switch written {
    case .success(let bytes): length = bytes
    case .failure(let error):
      fail(error)
      return
    }
    lock.lock()
    commits.writing = false
    storedRecords += batch.records
    knownLength += length
    commits.durableCount += batch.records.count
    commits.syncs += 1
    var answered: [(CommitQueue.Waiter, Int)] = []
    while commits.firstWaiter < commits.waiters.count,
      commits.waiters[commits.firstWaiter].ticket <= commits.durableCount
    {
      let waiter = commits.waiters[commits.firstWaiter]
      answered.append((waiter, batch.records[waiter.ticket - batch.firstTicket].sequence))
      commits.firstWaiter += 1
    }
    if commits.firstWaiter == commits.waiters.count {
      commits.waiters = []
      commits.firstWaiter = 0
    }
    lock.unlock()
    for (waiter, sequence) in answered { waiter.done(.success(sequence)) }
  }

  /// A write or sync failed: the batch may be torn on disk (a resume cuts it off), so nothing
  /// queued can be promised; every waiter hears why, and later appends throw it.
  private func fail(_ error: JournalError) {
    lock.lock()
    commits.failure = error
    commits.writing = false
    commits.flushing = false
    commits.queued = []
    let waiters = commits.waiters[commits.firstWaiter...]
    commits.waiters = []
    commits.firstWaiter = 0
    lock.unlock()
    for waiter in waiters { waiter.done(.failure(error)) }
  }
}
