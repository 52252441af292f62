// Group commit, apart from where the records go: the records many clusters queue at the same
// instant are made durable together, one write per batch, instead of one write each on the
// executor's queue. The local journal writes a batch with one write and one fdatasync; the
// journal in a home cluster with one compare-and-swap on the tail chunk's resourceVersion.
//
// The durability promise is unchanged: a record the engine acts on is durable before the
// action. The engine queues the record (`enqueue`), the run's state shows it at once, and the
// engine takes the action from `whenDurable`'s callback, which the flusher calls once the
// batch holding the record is written. Nothing waits on a thread meanwhile: waiters are
// callbacks kept in ticket order, and one serial queue per journal does the writing. While a
// batch is being written, the records queued meanwhile gather into the next: the batch size
// follows the load, with no timer.
import FleetCore
import Foundation

/// Writes one batch of queued records, on the group commit's queue and without its lock:
/// numbers them after whatever is stored already (other writers' records included), makes
/// them durable, and returns them numbered; or the error, after which nothing more is written.
public typealias BatchWrite = @Sendable ([JournalRecord]) -> Result<[JournalRecord], JournalError>

/// The queued side of a journal's group commit. Its `lock` is the journal's lock too: the
/// journal applies each record to its state in the same critical section that queues it, so
/// the state sees records in queue order.
public final class GroupCommit: @unchecked Sendable {
  /// Guards this queue and, by the owner's choice, the owner's state.
  public let lock = NSLock()

  /// At most this many records go into one batch: a batch stays a few hundred KiB, so a
  /// reader following the journal and a crash mid-write both see bounded work.
  public static let maxBatch = 4096

  /// A caller waiting for every record up to `ticket` (counted from 1, in queue order) to be
  /// durable; it gets the sequence number of the record at `ticket`.
  private struct Waiter {
    var ticket: Int
    var done: @Sendable (Result<Int, JournalError>) -> Void
  }

  private let queue: DispatchQueue
  /// Queued, not yet written; their sequence numbers are given when their batch is written.
  private var queued: [JournalRecord] = []
  /// Records this process ever queued, and how many of them are durable.
  private var queuedCount = 0
  private var durableCount = 0
  private var waiters: [Waiter] = []
  private var firstWaiter = 0
  /// A batch has been taken and not yet accounted for: it may be stored already.
  private var writing = false
  /// The flusher has work scheduled or running.
  private var flushing = false
  /// Set by the first batch that fails; the journal takes nothing more.
  private var failure: JournalError?
  private var batches = 0

  /// `label` names the serial queue that writes the batches.
  public init(label: String) {
    queue = DispatchQueue(label: label)
  }

  /// Read under `lock`: a batch of ours is being written, so what the store holds beyond the
  /// owner's last read may be ours. The owner reads others' appends only when this is false.
  public var batchInFlight: Bool { writing }

  /// Batches written so far: fewer than records when batching works.
  public var batchesWritten: Int { lock.withLock { batches } }

  /// Queues one record, calls `apply` with it under `lock` (the owner's state follows), and
  /// starts the flusher with `write` if it is idle. `done` hears the record's sequence number
  /// once it is durable. Throws once a batch failed.
  public func enqueue(
    _ record: JournalRecord, write: @escaping BatchWrite, apply: (JournalRecord) -> Void,
    done: (@Sendable (Result<Int, JournalError>) -> Void)? = nil
  ) throws(JournalError) {
    lock.lock()
    if let failure {
      lock.unlock()
      throw failure
    }
    queued.append(record)
    queuedCount += 1
    apply(record)
    if let done { waiters.append(Waiter(ticket: queuedCount, done: done)) }
    let start = !flushing
    flushing = true
    lock.unlock()
    if start { queue.async { self.commitBatches(write) } }
  }

  /// Queues one record and waits until it is durable: when this returns, it survives a crash.
  /// Records queued before it are written first, in the same batch or an earlier one.
  public func append(
    _ record: JournalRecord, write: @escaping BatchWrite, apply: (JournalRecord) -> Void
  ) throws(JournalError) -> JournalRecord {
    let written = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    try enqueue(record, write: write, apply: apply) { result in
      outcome.result = result
      written.signal()
    }
    written.wait()
    var numbered = record
    numbered.sequence = try outcome.result.get()
    return numbered
  }

  /// Calls `done` on the flusher's queue once every record queued so far is durable (nil), or
  /// cannot be (the error). At once when nothing is queued. Holds no thread meanwhile.
  public func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void) {
    lock.lock()
    let ticket = queuedCount
    if let failure {
      lock.unlock()
      return done(failure)
    }
    guard ticket > durableCount else {
      lock.unlock()
      return done(nil)
    }
    waiters.append(
      Waiter(ticket: ticket) { result in
        switch result {
        case .success: done(nil)
        case .failure(let error): done(error)
        }
      })
    lock.unlock()
  }

  /// Blocks until every record queued so far is durable: before the process reports a run's
  /// end or exits.
  public func flush() throws(JournalError) {
    let written = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    whenDurable { error in
      outcome.result = error.map { .failure($0) } ?? .success(0)
      written.signal()
    }
    written.wait()
    _ = try outcome.result.get()
  }

  /// Carries a result from the flusher to the waiting thread (the semaphore orders it).
  private final class Outcome: @unchecked Sendable {
    var result: Result<Int, JournalError> = .failure(JournalError("the journal was not written"))
  }

  /// Writes batches until nothing is queued.
  private func commitBatches(_ write: BatchWrite) {
    while let (batch, firstTicket) = takeBatch() {
      switch write(batch) {
      case .success(let numbered): finishBatch(numbered, firstTicket: firstTicket)
      case .failure(let error): fail(error)
      }
    }
  }

  /// The next batch and the ticket of its first record; nil when nothing is queued.
  private func takeBatch() -> ([JournalRecord], Int)? {
    lock.lock()
    defer { lock.unlock() }
    guard !queued.isEmpty, failure == nil else {
      flushing = false
      return nil
    }
    let batch: [JournalRecord]
    if queued.count <= Self.maxBatch {
      batch = queued
      queued = []
    } else {
      batch = Array(queued.prefix(Self.maxBatch))
      queued.removeFirst(Self.maxBatch)
    }
    writing = true
    return (batch, durableCount + 1)
  }

  /// Accounts for a written batch and answers the waiters it satisfies, outside the lock.
  private func finishBatch(_ batch: [JournalRecord], firstTicket: Int) {
    lock.lock()
    writing = false
    durableCount += batch.count
    batches += 1
    var answered: [(Waiter, Int)] = []
    while firstWaiter < waiters.count, waiters[firstWaiter].ticket <= durableCount {
      let waiter = waiters[firstWaiter]
      answered.append((waiter, batch[waiter.ticket - firstTicket].sequence))
      firstWaiter += 1
    }
    if firstWaiter == waiters.count {
      waiters = []
      firstWaiter = 0
    }
    lock.unlock()
    for (waiter, sequence) in answered { waiter.done(.success(sequence)) }
  }

  /// A batch failed: it may be partly stored (a local resume cuts a torn line off), so nothing
  /// queued can be promised; every waiter hears why, and later appends throw it.
  private func fail(_ error: JournalError) {
    lock.lock()
    failure = error
    writing = false
    flushing = false
    queued = []
    let failed = waiters[firstWaiter...]
    waiters = []
    firstWaiter = 0
    lock.unlock()
    for waiter in failed { waiter.done(.failure(error)) }
  }
}
