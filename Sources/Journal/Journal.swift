// A run's durable record: one append-only file of checksummed JSON lines, each flushed to disk
// before the action it announces is taken.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct JournalError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Where runs live: `STATE/runs/RUN/journal.log`. STATE defaults to `FLEET/.fleetwave`.
public struct RunStore: Sendable {
  public let stateDirectory: String

  public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

  public var runsDirectory: String { stateDirectory + "/runs" }
  public func journalPath(_ run: String) -> String { "\(runsDirectory)/\(run)/journal.log" }

  /// Every run with a journal, oldest first.
  public func runIDs() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? []
    return names.filter { FileManager.default.fileExists(atPath: journalPath($0)) }.sorted()
  }
}

/// One run's journal, open for appending, with group commit (see JournalCommits.swift): records
/// queued by many clusters at the same instant are written together, one `write` and one
/// `fdatasync` per batch. `append` returns once its record is on disk; `record` returns at
/// once and `whenDurable` says when what was queued is on disk, so a caller acts only then.
///
/// More than one process may append: `approve` and `pause` write to the journal of a run that
/// may be live. Each batch holds an `flock` on the file and first reads what others appended,
/// so sequence numbers stay dense and every writer's view stays whole.
public final class Journal: @unchecked Sendable {
  public let path: String
  public let header: RunHeader
  let fd: Int32
  /// The group commit's queue; its lock guards the journal's records and state too.
  let commits: GroupCommit
  var lock: NSLock { commits.lock }
  let clock: any RolloutClock
  /// The records on disk, in file order (ours and other processes').
  var storedRecords: [JournalRecord]
  /// The run's state, kept current record by record as they are queued or read.
  var storedState: RunState
  /// Bytes of the file already read into `storedRecords`.
  var knownLength: Int

  private init(
    path: String, fd: Int32, header: RunHeader, records: [JournalRecord], knownLength: Int,
    clock: any RolloutClock
  ) {
    self.path = path
    self.fd = fd
    self.header = header
    self.storedRecords = records
    self.storedState = RunState(records: records)
    self.knownLength = knownLength
    self.clock = clock
    self.commits = GroupCommit(label: "fleetwave.journal-commit")
  }

  deinit { close(fd) }

  public var records: [JournalRecord] {
    lock.lock()
    defer { lock.unlock() }
    return storedRecords
  }

  /// The run's state as its records stand: maintained as each is appended, never replayed.
  public var state: RunState {
    lock.lock()
    defer { lock.unlock() }
    return storedState
  }

  /// Reads the state under the journal's lock without copying it: for checks made at every
  /// scheduling step (a pause), which must cost the same at the run's 100,000th record as at
  /// its first.
  public func withState<T>(_ body: (RunState) -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body(storedState)
  }

  /// Starts a new run's journal; its first record is the header.
  public static func create(
    store: RunStore, header: RunHeader, clock: any RolloutClock = SystemClock()
  )
    throws(JournalError) -> Journal
  {
    let directory = "\(store.runsDirectory)/\(header.id)"
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw JournalError("cannot create \(directory): \(error.localizedDescription)")
    }
    let path = store.journalPath(header.id)
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw JournalError("cannot create \(path): \(String(cString: strerror(errno)))")
    }
    // The new directory entry must be durable too, not only the file's contents.
    syncDirectory(directory)
    syncDirectory(store.runsDirectory)
    let journal = Journal(
      path: path, fd: fd, header: header, records: [], knownLength: 0, clock: clock)
    try journal.append(.runStarted(header))
    return journal
  }

  /// Reopens a run's journal to continue it. A last line torn by a crash is cut off and
  /// reported in `recovered`; damage anywhere else is an error.
  public static func reopen(store: RunStore, run: String, clock: any RolloutClock = SystemClock())
    throws(JournalError) -> (journal: Journal, recovered: String?)
  {
    let path = store.journalPath(run)
    let read = try JournalFile.read(path: path)
    guard case .runStarted(let header)? = read.records.first?.entry else {
      throw JournalError("\(path): the journal does not start with a run header")
    }
    if read.validLength < read.totalLength {
      guard truncate(path, off_t(read.validLength)) == 0 else {
        throw JournalError("cannot repair \(path): \(String(cString: strerror(errno)))")
      }
    }
    let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    guard fd >= 0 else {
      throw JournalError("cannot open \(path): \(String(cString: strerror(errno)))")
    }
    let journal = Journal(
      path: path, fd: fd, header: header, records: read.records, knownLength: read.validLength,
      clock: clock)
    return (journal, read.tornTail)
  }

  /// Opens a run's journal to add to it from outside the run (`approve`, `pause`), which may
  /// be live: nothing is repaired, and a torn last line is an error, since its writer may be
  /// mid-append. The run's own process reopens with `reopen`.
  public static func attach(store: RunStore, run: String, clock: any RolloutClock = SystemClock())
    throws(JournalError) -> Journal
  {
    let path = store.journalPath(run)
    let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    guard fd >= 0 else {
      throw JournalError(
        errno == ENOENT
          ? "no run '\(run)' in \(store.runsDirectory)"
          : "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    flock(fd, LOCK_EX)
    defer { flock(fd, LOCK_UN) }
    let read: JournalFile.Contents
    do {
      read = try JournalFile.read(path: path)
    } catch {
      close(fd)
      throw error
    }
    guard case .runStarted(let header)? = read.records.first?.entry, read.tornTail == nil else {
      close(fd)
      throw JournalError(
        read.tornTail.map { "\($0); resume the run to repair it first" }
          ?? "\(path): the journal does not start with a run header")
    }
    return Journal(
      path: path, fd: fd, header: header, records: read.records, knownLength: read.validLength,
      clock: clock)
  }

  /// Reads what other processes appended since (an approval, a pause). Only whole lines whose
  /// checksum holds are taken, so no `flock` is needed; while a batch of ours is being written
  /// the flusher reads them instead, under its lock, before it writes.
  public func refresh() {
    lock.lock()
    defer { lock.unlock() }
    guard !commits.batchInFlight else { return }
    readOthersAppends()
  }

  /// Caller holds `lock`, and either an flock or no batch of ours in the air. Only whole,
  /// sound lines are taken.
  func readOthersAppends() {
    var status = stat()
    guard fstat(fd, &status) == 0, Int(status.st_size) > knownLength else { return }
    let reader = open(path, O_RDONLY | O_CLOEXEC)
    guard reader >= 0 else { return }
    defer { close(reader) }
    let count = Int(status.st_size) - knownLength
    var bytes = [UInt8](repeating: 0, count: count)
    let n = bytes.withUnsafeMutableBytes {
      pread(reader, $0.baseAddress, count, off_t(knownLength))
    }
    guard n == count else { return }
    var offset = 0
    while let end = bytes[offset...].firstIndex(of: 0x0A) {
      guard let record = JournalLine.decode(bytes[offset..<end]),
        record.sequence == storedRecords.count + 1
      else { return }
      storedRecords.append(record)
      storedState.apply(record)
      knownLength += end + 1 - offset
      offset = end + 1
    }
  }

  private static func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }
}

/// Reading journal files, for resume, status, history and the integrity check.
public enum JournalFile {
  public struct Contents: Sendable {
    public var records: [JournalRecord]
    /// Bytes up to the end of the last good line.
    public var validLength: Int
    public var totalLength: Int
    /// Set when the last line had no newline (a crash mid-write) and was discarded.
    public var tornTail: String?
  }

  public static func read(path: String) throws(JournalError) -> Contents {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw JournalError("\(path): no such journal")
    }
    return try parse([UInt8](data), source: path)
  }

  /// Records from journal lines; `source` names where they came from in messages.
  public static func parse(_ bytes: [UInt8], source path: String) throws(JournalError) -> Contents {
    var records: [JournalRecord] = []
    var offset = 0
    var lineNumber = 0
    while offset < bytes.count {
      lineNumber += 1
      let end = bytes[offset...].firstIndex(of: 0x0A)
      let lineEnd = end ?? bytes.count
      let line = bytes[offset..<lineEnd]
      if let record = JournalLine.decode(line), end != nil {
        guard record.sequence == records.count + 1 else {
          throw JournalError(
            "\(path):\(lineNumber): record \(record.sequence) out of order "
              + "(expected \(records.count + 1))"
          )
        }
        records.append(record)
        offset = lineEnd + 1
        continue
      }
      // A write the crash cut short has no newline yet; a complete line that does not check
      // out was changed after it was written, and is never dropped silently.
      guard end == nil else {
        throw JournalError(
          "\(path):\(lineNumber): damaged record (checksum or format): the line is complete, "
            + "so this is not a torn write; the journal was changed after it was written")
      }
      return Contents(
        records: records, validLength: offset, totalLength: bytes.count,
        tornTail:
          "\(path):\(lineNumber): incomplete last record (a crash during a write) was discarded")
    }
    return Contents(records: records, validLength: offset, totalLength: bytes.count, tornTail: nil)
  }

}
