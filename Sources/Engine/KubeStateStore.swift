// Runs kept in a "home" cluster (`--state kube://CONTEXT/NAMESPACE`): each run's journal is a
// chain of Secrets holding journal lines, appended by compare-and-swap on resourceVersion, and
// the fleet's run lock is a Lease renewed on a timer of its own. Any machine that reaches the
// home cluster sees the same runs, so `approve`, `resume` and `rollback RUN` work from the next
// CI job. The records are the local journal's lines, checked by the same reader.
import FleetCore
import Foundation
import Journal
import Kube

/// Where a kube-backed store lives: `kube://CONTEXT/NAMESPACE`.
public struct KubeStateLocation: Sendable, Equatable, CustomStringConvertible {
  public var context: String
  public var namespace: String

  public init(context: String, namespace: String) {
    self.context = context
    self.namespace = namespace
  }

  /// Reads `kube://CONTEXT/NAMESPACE`; nil when `text` is not a kube:// location at all, an
  /// error when it is one written wrong.
  public static func parse(_ text: String) throws(EngineError) -> KubeStateLocation? {
    guard text.hasPrefix("kube://") else { return nil }
    // Split at the last slash: a namespace has none, a context may (EKS names its contexts
    // by ARN, `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`).
    let rest = text.dropFirst("kube://".count)
    let slash = rest.lastIndex(of: "/") ?? rest.endIndex
    let parts = [rest[..<slash], rest[slash...].dropFirst()]
    guard !parts[0].isEmpty, FleetStateHome.isNamespaceName(parts[1]) else {
      throw EngineError(
        "--state \(text): expected kube://CONTEXT/NAMESPACE (a kubeconfig context and a "
          + "namespace name of lowercase letters, digits and '-')")
    }
    return KubeStateLocation(context: String(parts[0]), namespace: String(parts[1]))
  }

  public var description: String { "kube://\(context)/\(namespace)" }
}

/// The objects of one run's journal: Secrets `fleetwave-journal-KEY-N` for N = 0, 1, ...,
/// KEY a digest of the run id (ids may hold characters object names may not). Each holds
/// whole journal lines in `data.records`; a chunk is closed once it holds `chunkLimit` bytes,
/// well under the API server's 1 MiB object limit after base64.
struct JournalChunks {
  let client: KubeClient
  let location: KubeStateLocation
  let run: String
  var chunkLimit: Int

  static let managedBy = "fleetwave"

  var key: String { Self.key(run) }
  static func key(_ run: String) -> String { String(SHA256.hex(Array(run.utf8)).prefix(20)) }

  func name(_ index: Int) -> String { "fleetwave-journal-\(key)-\(index)" }

  /// The chunk, or nil when it does not exist.
  func read(_ index: Int) throws(EngineError) -> (bytes: [UInt8], resourceVersion: String)? {
    let object: Value?
    do {
      object = try client.get(
        apiVersion: "v1", kind: "Secret", namespace: location.namespace, name: name(index))
    } catch {
      throw EngineError("cannot read the journal of run \(run) in \(location): \(error)")
    }
    guard let object else { return nil }
    let encoded = object["data"]?["records"]?.string ?? ""
    guard let data = Data(base64Encoded: encoded),
      let version = object["metadata"]?["resourceVersion"]?.string
    else {
      throw EngineError("\(location) \(name(index)): data.records is not base64")
    }
    return ([UInt8](data), version)
  }

  /// The chunk object holding `bytes`; with `resourceVersion`, a replacement of that version.
  func object(_ index: Int, _ bytes: [UInt8], resourceVersion: String?) -> Value {
    var metadata: Value = [
      "name": .string(name(index)), "namespace": .string(location.namespace),
      "labels": [
        "app.kubernetes.io/managed-by": .string(Self.managedBy),
        "fleetwave.io/journal": .string(key),
        "fleetwave.io/chunk": .string(String(index)),
      ],
      "annotations": ["fleetwave.io/run": .string(run)],
    ]
    if let resourceVersion, var fields = metadata.mapping {
      fields["resourceVersion"] = .string(resourceVersion)
      metadata = .mapping(fields)
    }
    return [
      "apiVersion": "v1", "kind": "Secret", "type": "fleetwave.io/journal",
      "metadata": metadata,
      "data": ["records": .string(Data(bytes).base64EncodedString())],
    ]
  }

  /// Every chunk in order, and the last one's index and version (nil: no run).
  func readAll() throws(EngineError) -> (bytes: [UInt8], tail: Tail)? {
    guard let first = try read(0) else { return nil }
    var bytes = first.bytes
    var tail = Tail(index: 0, resourceVersion: first.resourceVersion, size: first.bytes.count)
    while let next = try read(tail.index + 1) {
      bytes += next.bytes
      tail = Tail(
        index: tail.index + 1, resourceVersion: next.resourceVersion, size: next.bytes.count)
    }
    return (bytes, tail)
  }

  /// The chunk appends go to.
  struct Tail {
    var index: Int
    var resourceVersion: String
    var size: Int
  }

  var source: String { "\(location) run \(run)" }
}

/// A run's journal in the home cluster, with group commit (GroupCommit.swift): the records
/// queued while a write is in flight go together into the next one, so one API write carries
/// many records under load. A record is durable when the write carrying it returns, before the
/// action it announces. Every write is a compare-and-swap on the tail chunk's resourceVersion:
/// a writer that lost the race (an `approve` from another machine got in first) reads what was
/// appended and writes its whole batch again after it, so records stay in one sequence and
/// none is lost.
final class KubeJournal: RunJournal, @unchecked Sendable {
  let header: RunHeader
  private let chunks: JournalChunks
  private let clock: any RolloutClock
  private let commits = GroupCommit(label: "fleetwave.kube-journal-commit")
  /// Guards what follows, and the queue of `commits`.
  private var lock: NSLock { commits.lock }
  private var records: [JournalRecord]
  private var current: RunState
  private var tail: JournalChunks.Tail
  /// Bytes of the tail chunk, which a write replaces whole.
  private var tailBytes: [UInt8]

  /// Lost races in a row before a batch gives up. Each lost race means another writer
  /// appended, so the journal makes progress; a random pause after each loss, growing with the
  /// losses, keeps two busy writers from losing to each other in lockstep.
  private static let attempts = 200

  private init(
    chunks: JournalChunks, clock: any RolloutClock, records: [JournalRecord],
    tail: JournalChunks.Tail, tailBytes: [UInt8]
  ) throws(EngineError) {
    let state = RunState(records: records)
    guard let header = state.header else {
      throw EngineError("\(chunks.source): the journal does not start with a run header")
    }
    self.header = header
    self.chunks = chunks
    self.clock = clock
    self.records = records
    self.current = state
    self.tail = tail
    self.tailBytes = tailBytes
  }

  /// Starts the run's journal, and keeps `values` beside it before any record announces an
  /// action, so that whoever continues the run has them.
  static func create(
    _ chunks: JournalChunks, header: RunHeader, values: RunValueFlags?, clock: any RolloutClock
  ) throws(EngineError) -> KubeJournal {
    let record = JournalRecord(sequence: 1, at: clock.now(), entry: .runStarted(header))
    let line = JournalLine.encode(record)
    let created: Value
    do {
      created = try chunks.client.create(chunks.object(0, line, resourceVersion: nil))
    } catch  where error.code == 409 {
      throw EngineError("run \(chunks.run) already exists in \(chunks.location)")
    } catch {
      throw EngineError(
        "cannot start the journal of run \(chunks.run) in \(chunks.location): \(error)")
    }
    if let values {
      do {
        try RunValuesSecret(chunks: chunks).create(values, ownedBy: created)
      } catch {
        // A run that cannot keep its values is not started: a resume elsewhere would lack them.
        _ = try? chunks.client.delete(
          apiVersion: "v1", kind: "Secret", namespace: chunks.location.namespace,
          name: chunks.name(0))
        throw error
      }
    }
    let version = created["metadata"]?["resourceVersion"]?.string ?? ""
    return try KubeJournal(
      chunks: chunks, clock: clock, records: [record],
      tail: .init(index: 0, resourceVersion: version, size: line.count), tailBytes: line)
  }

  static func open(_ chunks: JournalChunks, clock: any RolloutClock) throws(EngineError)
    -> KubeJournal
  {
    guard let (bytes, tail) = try chunks.readAll() else {
      throw EngineError("no run '\(chunks.run)' in \(chunks.location)")
    }
    let contents: JournalFile.Contents
    do {
      contents = try JournalFile.parse(bytes, source: chunks.source)
    } catch {
      throw EngineError(error.message)
    }
    let tailBytes = Array(bytes.suffix(tail.size))
    return try KubeJournal(
      chunks: chunks, clock: clock, records: contents.records, tail: tail, tailBytes: tailBytes)
  }

  var state: RunState { withState { $0 } }

  func withState<T>(_ body: (RunState) -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body(current)
  }

  var allRecords: [JournalRecord] {
    lock.lock()
    defer { lock.unlock() }
    return records
  }

  @discardableResult
  func append(_ entry: JournalEntry) throws(JournalError) -> JournalRecord {
    try commits.append(
      JournalRecord(sequence: 0, at: clock.now(), entry: entry), write: writeBatch,
      apply: { current.apply($0) })
  }

  /// Queued for the next write; act on it from `whenDurable`.
  func record(_ entry: JournalEntry) throws(JournalError) {
    try commits.enqueue(
      JournalRecord(sequence: 0, at: clock.now(), entry: entry), write: writeBatch,
      apply: { current.apply($0) })
  }

  func whenDurable(_ done: @escaping @Sendable (JournalError?) -> Void) {
    commits.whenDurable(done)
  }

  func flush() throws(JournalError) { try commits.flush() }

  /// Batches written so far (each one API write, more when it spans chunks or lost a race).
  var batchesWritten: Int { commits.batchesWritten }

  func refresh() {
    lock.lock()
    defer { lock.unlock() }
    // While a batch of ours is in the air, the tail may already hold it: the flusher reads
    // others' appends itself when its write loses the race.
    guard !commits.batchInFlight else { return }
    try? readOthersAppends()
  }

  /// One batch, in as few API writes as the chunk limit allows: usually one update of the tail
  /// chunk; a batch that overflows it fills the tail and opens the next chunk. A lost race
  /// reads the winner's records and writes the rest of the batch again after them. A batch
  /// that fails after some of its writes returned leaves those records in the journal (whole
  /// lines, as if the process had died there); its callers all hear the failure.
  private var writeBatch: BatchWrite {
    { [self] queued in
      var pending = queued[...]
      var written: [JournalRecord] = []
      var losses = 0
      while !pending.isEmpty {
        let (index, bytes, numbered, expected) = lock.withLock {
          nextWrite(pending)
        }
        do throws(KubeError) {
          let stored: Value
          if let expected {
            stored = try chunks.client.update(
              chunks.object(index, bytes, resourceVersion: expected))
          } else {
            stored = try chunks.client.create(chunks.object(index, bytes, resourceVersion: nil))
          }
          let version = stored["metadata"]?["resourceVersion"]?.string ?? ""
          lock.withLock {
            tail = .init(index: index, resourceVersion: version, size: bytes.count)
            tailBytes = bytes
            records += numbered
          }
          written += numbered
          pending = pending.dropFirst(numbered.count)
          losses = 0
        } catch  where error.code == 409 {
          losses += 1
          guard losses < Self.attempts else {
            return .failure(
              JournalError(
                "cannot append to the journal of run \(chunks.run) in \(chunks.location): "
                  + "\(Self.attempts) writers got in first in a row"))
          }
          // Another writer appended first: take its records, then write after them.
          lock.lock()
          do throws(EngineError) {
            defer { lock.unlock() }
            try readOthersAppends()
          } catch {
            return .failure(JournalError(error.message))
          }
          usleep(UInt32.random(in: 0...UInt32(min(losses, 50) * 1000)))
        } catch {
          return .failure(
            JournalError(
              "cannot append to the journal of run \(chunks.run) in \(chunks.location): "
                + "\(error)"))
        }
      }
      return .success(written)
    }
  }

  /// Caller holds `lock`. The next API write of a batch: the chunk, its new bytes, the
  /// records it carries (numbered after every record known), and the resourceVersion it
  /// replaces (nil: the write creates a new chunk). As many records as fit in the chunk
  /// limit, at least one.
  private func nextWrite(_ pending: ArraySlice<JournalRecord>)
    -> (index: Int, bytes: [UInt8], records: [JournalRecord], replacing: String?)
  {
    var numbered: [JournalRecord] = []
    var bytes: [UInt8] = []
    var opensChunk = false
    for var record in pending {
      record.sequence = records.count + numbered.count + 1
      let line = JournalLine.encode(record)
      if numbered.isEmpty {
        opensChunk = !tailBytes.isEmpty && tailBytes.count + line.count > chunks.chunkLimit
        bytes = opensChunk ? line : tailBytes + line
      } else if bytes.count + line.count > chunks.chunkLimit {
        break
      } else {
        bytes += line
      }
      numbered.append(record)
    }
    return opensChunk
      ? (tail.index + 1, bytes, numbered, nil)
      : (tail.index, bytes, numbered, tail.resourceVersion)
  }

  /// Caller holds `lock`. Reads the tail chunk again and any chunk opened after it.
  private func readOthersAppends() throws(EngineError) {
    var index = tail.index
    while let (bytes, version) = try chunks.read(index) {
      if index == tail.index && version == tail.resourceVersion {
        index += 1
        continue
      }
      let known = index == tail.index ? tailBytes.count : 0
      var offset = known
      while let end = bytes[offset...].firstIndex(of: 0x0A) {
        guard let record = JournalLine.decode(bytes[offset..<end]),
          record.sequence == records.count + 1
        else {
          throw EngineError("\(chunks.source): damaged record in \(chunks.name(index))")
        }
        records.append(record)
        current.apply(record)
        offset = end + 1
      }
      tail = .init(index: index, resourceVersion: version, size: bytes.count)
      tailBytes = bytes
      index += 1
    }
  }
}

/// Runs in a namespace of the home cluster. Journals as `JournalChunks`; the fleet's run lock
/// is the Lease `fleetwave-run-KEY` (KEY a digest of the fleet name).
public struct KubeStateStore: StateStore {
  public let client: KubeClient
  public let home: KubeStateLocation
  /// Bytes of journal lines per chunk object.
  public var chunkLimit: Int
  /// The run lock's lease duration; renewed every third of it, given up at two thirds.
  public var lockDuration: Duration
  public var clock: any RolloutClock
  /// Holders of the run lock this process takes it from at once: a standby's claim, made for
  /// the run action that follows it (see `RunStandby`).
  public var lockSuccessors: Set<String> = []
  /// `fleetwave/VERSION`: the `User-Agent` the home cluster sees, before the run and
  /// instance a lock holder adds.
  public var userAgent = "fleetwave"
  /// The value flags a new run keeps beside its journal (nil: none given).
  public var runValues: RunValueFlags?

  public init(
    client: KubeClient, home: KubeStateLocation, chunkLimit: Int = 512 * 1024,
    lockDuration: Duration = .seconds(15), clock: any RolloutClock = SystemClock()
  ) {
    self.client = client
    self.home = home
    self.chunkLimit = chunkLimit
    self.lockDuration = lockDuration
    self.clock = clock
  }

  public var location: String { home.description }

  func chunks(_ run: String) -> JournalChunks {
    JournalChunks(client: client, location: home, run: run, chunkLimit: chunkLimit)
  }

  public func listRuns() -> [String] {
    let firsts =
      (try? client.list(
        apiVersion: "v1", kind: "Secret", namespace: home.namespace,
        labelSelector: "app.kubernetes.io/managed-by=fleetwave,fleetwave.io/chunk=0")) ?? []
    return firsts.compactMap { $0["metadata"]?["annotations"]?["fleetwave.io/run"]?.string }
  }

  public func readRun(_ run: String) throws(EngineError) -> StoredRun {
    guard let (bytes, _) = try chunks(run).readAll() else {
      var message = "no run '\(run)' in \(location)"
      if let suggestion = Suggestion.closest(to: run, among: listRuns()) {
        message += "; did you mean '\(suggestion)'?"
      }
      throw EngineError(message)
    }
    let contents: JournalFile.Contents
    do {
      contents = try JournalFile.parse(bytes, source: chunks(run).source)
    } catch {
      throw EngineError(error.message)
    }
    let state = RunState(records: contents.records)
    guard let header = state.header else {
      throw EngineError("\(chunks(run).source): the journal does not start with a run header")
    }
    // Each chunk is written whole by one API call, so nothing can be torn.
    return StoredRun(header: header, records: contents.records, state: state, tornTail: nil)
  }

  public func createRun(_ header: RunHeader, clock: any RolloutClock) throws(EngineError)
    -> any RunJournal
  {
    try KubeJournal.create(chunks(header.id), header: header, values: runValues, clock: clock)
  }

  /// The value flags `run` was started with, as kept beside its journal; nil without any.
  public func storedValues(_ run: String) throws(EngineError) -> RunValueFlags? {
    try RunValuesSecret(chunks: chunks(run)).read()
  }

  public func reopenRun(_ run: String, clock: any RolloutClock) throws(EngineError)
    -> (journal: any RunJournal, recovered: String?)
  {
    (try KubeJournal.open(chunks(run), clock: clock), nil)
  }

  public func appendFromOutside(_ run: String, _ entry: JournalEntry, clock: any RolloutClock)
    throws(EngineError) -> JournalRecord
  {
    do {
      return try KubeJournal.open(chunks(run), clock: clock).append(entry)
    } catch let error as JournalError {
      throw EngineError(error.message)
    } catch let error as EngineError {
      throw error
    } catch {
      throw EngineError("\(error)")
    }
  }

  public func lock(fleet: String, instance: RunInstance, at date: Date) throws(RunLockError)
    -> any RunLease
  {
    // From here on the home cluster's request log can tell this process's writes apart.
    client.userAgent = instance.userAgent(userAgent)
    return try KubeRunLock.acquire(store: self, fleet: fleet, instance: instance, at: date)
  }

  public func lockHolder() -> LockHolder? { nil }

  /// The Lease that is the fleet's run lock, as `holder` would take it.
  public func lockLease(
    fleet: String, holder: String, succeeds: Set<String> = [], annotations: [String: String]
  ) -> ReleaseLease {
    ReleaseLease(
      client: client, cluster: location, release: fleet, namespace: home.namespace,
      holder: holder, succeeds: succeeds.union(lockSuccessors), duration: lockDuration,
      clock: clock,
      name: "fleetwave-run-" + String(SHA256.hex(Array(fleet.utf8)).prefix(20)),
      annotations: annotations)
  }
}

/// The fleet's run lock in the home cluster, with client-go leader election's rules: taken when
/// free or when its holder left it unrenewed for a whole lease duration of our clock; renewed
/// every third of the duration on a timer of its own; lost, and the run fenced, when it could
/// not be renewed for two thirds of it (the renew deadline), so the process stops acting before
/// anyone may take over.
final class KubeRunLock: RunLease, @unchecked Sendable {
  let previousHolder: LockHolder?
  private let lease: ReleaseLease
  private let clock: any RolloutClock
  private let renewDeadline: TimeInterval
  private let queue = DispatchQueue(label: "fleetwave.run-lock")
  /// The fence fires here, apart from renewals: a renewal stuck on an unreachable home cluster
  /// must not hold it back.
  private let fenceQueue = DispatchQueue(label: "fleetwave.run-lock.fence")
  private let lock = NSLock()
  private var renewal: Cancellation?
  private var deadline: Cancellation?
  private var lost: (@Sendable (String) -> Void)?
  private var lostReason: String?
  private var lastError: String?
  private var released = false

  private init(lease: ReleaseLease, previousHolder: LockHolder?, clock: any RolloutClock) {
    self.lease = lease
    self.previousHolder = previousHolder
    self.clock = clock
    self.renewDeadline = DurationText.seconds(lease.duration) * 2 / 3
  }

  static func acquire(
    store: KubeStateStore, fleet: String, instance: RunInstance, at date: Date
  ) throws(RunLockError) -> KubeRunLock {
    let lease = store.lockLease(
      fleet: fleet, holder: instance.identity,
      annotations: annotations(run: instance.run, at: date))
    let before: Value?
    do {
      before = try lease.read()
      // A holder that stopped renewing is waited out for one lease duration of our clock.
      try lease.acquire(force: true)
    } catch {
      if let live = try? lease.read(), let holder = Self.holder(live) {
        throw .held(fleet: fleet, by: holder)
      }
      throw .io("cannot take the run lock of fleet '\(fleet)' in \(store.location): \(error)")
    }
    let previous = before.flatMap(Self.holder).flatMap { $0.run.isEmpty ? nil : $0 }
    let runLock = KubeRunLock(lease: lease, previousHolder: previous, clock: store.clock)
    runLock.renewed()
    return runLock
  }

  /// Who holds the lease, for the messages of others.
  static func annotations(run: String, at date: Date) -> [String: String] {
    [
      "fleetwave.io/run": run, "fleetwave.io/host": ProcessInfo.processInfo.hostName,
      "fleetwave.io/pid": String(getpid()), "fleetwave.io/since": Timestamp.iso(date),
    ]
  }

  /// Who the lease names, from the annotations its holder wrote.
  static func holder(_ lease: Value) -> LockHolder? {
    guard let identity = lease["spec"]?["holderIdentity"]?.string, !identity.isEmpty else {
      return nil
    }
    let notes = lease["metadata"]?["annotations"]
    return LockHolder(
      run: notes?["fleetwave.io/run"]?.string ?? identity,
      host: notes?["fleetwave.io/host"]?.string ?? "?",
      pid: Int32(notes?["fleetwave.io/pid"]?.string ?? "") ?? 0,
      since: notes?["fleetwave.io/since"]?.string.flatMap(Timestamp.parse)
        ?? Date(
          timeIntervalSince1970: 0))
  }

  func onLost(_ handler: @escaping @Sendable (String) -> Void) {
    let reason = lock.withLock {
      lost = handler
      return lostReason
    }
    if let reason { handler(reason) }
  }

  /// After a successful take or renewal: the next renewal in a third of the lease duration,
  /// and the fence moved to the renew deadline from now. A renewal that fails or hangs leaves
  /// the fence where it is, so the run stops on time however the home cluster fails.
  private func renewed() {
    let now = clock.now()
    let next = clock.schedule(
      at: now.addingTimeInterval(DurationText.seconds(lease.duration) / 3), on: queue
    ) { [self] in renew() }
    let fence = clock.schedule(at: now.addingTimeInterval(renewDeadline), on: fenceQueue) {
      [self] in fenced()
    }
    // A renewal that was in flight when the lock was released schedules nothing more.
    let stale: [Cancellation?] = lock.withLock {
      if released { return [next, fence] }
      defer {
        renewal = next
        deadline = fence
      }
      return [deadline]
    }
    for token in stale { token?.cancel() }
  }

  /// On the lock's queue.
  private func renew() {
    if lock.withLock({ released || lostReason != nil }) { return }
    do {
      try lease.renew()
      renewed()
    } catch {
      lock.withLock { lastError = error.message }
      let retry = clock.schedule(
        at: clock.now().addingTimeInterval(DurationText.seconds(lease.duration) / 3), on: queue
      ) { [self] in renew() }
      let stale: Cancellation? = lock.withLock {
        if released { return retry }
        renewal = retry
        return nil
      }
      stale?.cancel()
    }
  }

  /// The renew deadline passed without a renewal: stop acting before another may take over.
  private func fenced() {
    let handler: (@Sendable (String) -> Void)?
    let reason: String
    (handler, reason) = lock.withLock {
      let why =
        "lost the run lock in the home cluster"
        + (lastError.map { " (\($0))" } ?? "")
        + ": not renewed within \(DurationText.format(.seconds(Int64(renewDeadline)))); "
        + "stopping, no cluster starts after the renew deadline"
      if released { return (nil, why) }
      lostReason = why
      renewal?.cancel()
      return (lost, why)
    }
    handler?(reason)
  }

  func release() {
    let wasReleased = lock.withLock {
      defer { released = true }
      renewal?.cancel()
      deadline?.cancel()
      return released
    }
    if !wasReleased { try? lease.relinquish() }
  }
}
