// Where runs live: the narrow interface the actions use (append records through a run's
// journal, read a run's state, take the fleet's run lock, list runs), and the local directory
// backend. A Kubernetes-backed store implements the same four things.
import FleetCore
import Foundation
import Journal

/// A run's journal open for appending; its state is kept current as records are appended.
public protocol RunJournal: AnyObject, Sendable {
  var header: RunHeader { get }
  var state: RunState { get }
  func withState<T>(_ body: (RunState) -> T) -> T
  @discardableResult func append(_ entry: JournalEntry) throws(JournalError) -> JournalRecord
  /// Queues an entry without waiting for the disk; the state shows it at once.
  func record(_ entry: JournalEntry) throws(JournalError)
  /// Calls back once everything queued so far is durable (nil) or cannot be (the error).
  func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void)
  /// Blocks until everything queued so far is durable.
  func flush() throws(JournalError)
  /// Reads what other processes appended since (an approval, a pause).
  func refresh()
}

extension Journal: RunJournal {}

/// The fleet's run lock, held while a run's process acts.
public protocol RunLease: AnyObject {
  /// The holder before us, when it died without releasing: its run may need `resume`.
  var previousHolder: LockHolder? { get }
  func release()
  /// Calls `handler` (once, on any thread) if the lock is lost while held: the run must then
  /// stop acting. A local flock cannot be lost; a lease in the home cluster can.
  func onLost(_ handler: @escaping @Sendable (String) -> Void)
}

extension RunLease {
  public func onLost(_ handler: @escaping @Sendable (String) -> Void) {}
}

extension RunLock: RunLease {}

/// A run as read from the store, for status, history and the decisions of `rollout`.
public struct StoredRun: Sendable {
  public var header: RunHeader
  public var records: [JournalRecord]
  public var state: RunState
  /// Set when the journal's last line was torn by a crash (and ignored).
  public var tornTail: String?
}

public protocol StateStore: Sendable {
  /// Where the runs are, for messages.
  var location: String { get }
  /// Every run's id, in no particular order.
  func listRuns() -> [String]
  func readRun(_ run: String) throws(EngineError) -> StoredRun
  /// Starts a new run's journal with its header.
  func createRun(_ header: RunHeader, clock: any RolloutClock) throws(EngineError) -> any RunJournal
  /// Reopens a run's journal to continue it; `recovered` says what a crash left torn.
  func reopenRun(_ run: String, clock: any RolloutClock) throws(EngineError)
    -> (journal: any RunJournal, recovered: String?)
  /// Appends to a run that another process may be running (`approve`, `pause`).
  func appendFromOutside(_ run: String, _ entry: JournalEntry, clock: any RolloutClock)
    throws(EngineError) -> JournalRecord
  /// Takes the fleet's run lock for `instance`, a process acting for its run.
  func lock(fleet: String, instance: RunInstance, at date: Date) throws(RunLockError)
    -> any RunLease
  func lockHolder() -> LockHolder?
}

extension StateStore {
  /// Every readable run, oldest start first (ids break ties): the order of `history`.
  public func runsByStart() -> [StoredRun] {
    listRuns().compactMap { try? readRun($0) }.sorted {
      ($0.header.startedAt, $0.header.id) < ($1.header.startedAt, $1.header.id)
    }
  }

  /// The fleet's latest unfinished run, if any: what `rollout` continues or refuses to leave.
  public func unfinishedRun(fleet: String) -> StoredRun? {
    runsByStart().last { $0.header.fleet == fleet && $0.state.outcome == nil }
  }
}

/// Runs in a local directory: `STATE/runs/RUN/journal.log`, the lock at `STATE/lock`.
public struct LocalStateStore: StateStore {
  public let runs: RunStore

  public init(stateDirectory: String) { runs = RunStore(stateDirectory: stateDirectory) }

  public var stateDirectory: String { runs.stateDirectory }
  public var location: String { runs.runsDirectory }

  public func listRuns() -> [String] { runs.runIDs() }

  public func readRun(_ run: String) throws(EngineError) -> StoredRun {
    let path = runs.journalPath(run)
    guard FileManager.default.fileExists(atPath: path) else {
      var message = "no run '\(run)' in \(runs.runsDirectory)"
      let known = listRuns()
      if let suggestion = Suggestion.closest(to: run, among: known) {
        message += "; did you mean '\(suggestion)'?"
      } else if known.isEmpty {
        message += " (pass --state DIR or --fleet DIR)"
      }
      throw EngineError(message)
    }
    do {
      let contents = try JournalFile.read(path: path)
      let state = RunState(records: contents.records)
      guard let header = state.header else {
        throw EngineError("\(path): the journal does not start with a run header")
      }
      return StoredRun(
        header: header, records: contents.records, state: state, tornTail: contents.tornTail)
    } catch let error as JournalError {
      throw EngineError(error.message)
    } catch let error as EngineError {
      throw error
    } catch {
      throw EngineError("\(path): \(error)")
    }
  }

  public func createRun(_ header: RunHeader, clock: any RolloutClock) throws(EngineError)
    -> any RunJournal
  {
    do {
      return try Journal.create(store: runs, header: header, clock: clock)
    } catch {
      throw EngineError(error.message)
    }
  }

  public func reopenRun(_ run: String, clock: any RolloutClock) throws(EngineError)
    -> (journal: any RunJournal, recovered: String?)
  {
    do {
      let (journal, recovered) = try Journal.reopen(store: runs, run: run, clock: clock)
      return (journal, recovered)
    } catch {
      throw EngineError(error.message)
    }
  }

  public func appendFromOutside(_ run: String, _ entry: JournalEntry, clock: any RolloutClock)
    throws(EngineError) -> JournalRecord
  {
    do {
      return try Journal.attach(store: runs, run: run, clock: clock).append(entry)
    } catch {
      throw EngineError(error.message)
    }
  }

  public func lock(fleet: String, instance: RunInstance, at date: Date) throws(RunLockError)
    -> any RunLease
  {
    try RunLock.acquire(
      stateDirectory: runs.stateDirectory, fleet: fleet, run: instance.run, at: date)
  }

  public func lockHolder() -> LockHolder? {
    RunLock.holder(stateDirectory: runs.stateDirectory)
  }
}
