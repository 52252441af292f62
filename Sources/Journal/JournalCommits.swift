// The local journal's side of group commit (GroupCommit.swift): a batch is one write and one
// fdatasync, made under the file's flock after reading what other processes appended, so
// sequence numbers stay dense across writers.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension Journal {
  /// Queues an entry to be written with the next batch; the run's state shows it at once.
  /// Not on disk when this returns: act on it from `whenDurable`. Throws once a write failed.
  public func record(_ entry: JournalEntry) throws(JournalError) {
    try commits.enqueue(
      JournalRecord(sequence: 0, at: clock.now(), entry: entry), write: writeBatch,
      apply: { storedState.apply($0) })
  }

  /// Appends one entry and waits until it is on disk: when this returns, it survives a crash.
  /// Records queued before it are written first, in the same batch or an earlier one.
  @discardableResult
  public func append(_ entry: JournalEntry) throws(JournalError) -> JournalRecord {
    try commits.append(
      JournalRecord(sequence: 0, at: clock.now(), entry: entry), write: writeBatch,
      apply: { storedState.apply($0) })
  }

  /// Calls `done` on the flusher's queue once every record queued so far is on disk (nil), or
  /// cannot be (the error). At once when nothing is queued. Holds no thread meanwhile.
  public func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void) {
    commits.whenDurable(done)
  }

  /// Blocks until every record queued so far is on disk: before the process reports a run's
  /// end or exits.
  public func flush() throws(JournalError) {
    try commits.flush()
  }

  /// fdatasync calls made so far by this journal: one per batch.
  public var syncCount: Int { commits.batchesWritten }

  /// One batch: under the file's flock, reads what other processes appended, numbers the
  /// batch after it, and writes it in one write and one fdatasync (encoding off the engine's
  /// queue).
  private var writeBatch: BatchWrite {
    { [self] queued in
      guard flock(fd, LOCK_EX) == 0 else {
        return .failure(JournalError("cannot lock \(path): \(String(cString: strerror(errno)))"))
      }
      defer { flock(fd, LOCK_UN) }
      var records = queued
      lock.withLock {
        readOthersAppends()
        let first = storedRecords.count + 1
        for index in records.indices { records[index].sequence = first + index }
      }
      var bytes: [UInt8] = []
      bytes.reserveCapacity(records.count * 256)
      for record in records { bytes += JournalLine.encode(record) }
      if let error = write(bytes) { return .failure(error) }
      lock.withLock {
        storedRecords += records
        knownLength += bytes.count
      }
      return .success(records)
    }
  }

  /// Writes `bytes` whole and syncs them; the error when that failed.
  private func write(_ bytes: [UInt8]) -> JournalError? {
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { buffer -> Int in
        guard let base = buffer.baseAddress else { return 0 }
        return Glibc.write(fd, base + written, buffer.count - written)
      }
      if n < 0 {
        if errno == EINTR { continue }
        return JournalError("cannot write \(path): \(String(cString: strerror(errno)))")
      }
      written += n
    }
    guard fdatasync(fd) == 0 else {
      return JournalError("cannot flush \(path): \(String(cString: strerror(errno)))")
    }
    return nil
  }
}
