// Blocking forms of the async Kubernetes calls, for commands that do one thing at a time
// (`fleetwave diff`, `status`) and for tests written as straight-line code.
import FleetCore
import Foundation

/// Runs async work to completion while the calling thread waits.
///
/// The work runs on a task executor of its own, not on the cooperative pool: a caller that
/// blocks one of the pool's few threads (two on a two-core machine) must not also need one of
/// them for the work it waits for. The work itself never blocks (its requests run on the HTTP
/// loop), so the executor's threads are busy only while code runs between suspensions.
public enum Blocking {
  /// Runs tasks on Dispatch threads rather than the cooperative pool. Tasks whose callers may
  /// block a thread on their completion (driver calls, whose completions tests and commands
  /// wait for) start here, so a caller parked on a pool thread cannot starve them.
  public static let executor: any TaskExecutor = BlockingExecutor.shared

  public static func wait<T: Sendable, E: Error>(
    _ work: @escaping @Sendable () async throws(E) -> T
  ) throws(E) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultHolder<T, E>()
    Task(executorPreference: BlockingExecutor.shared) {
      do throws(E) {
        box.result = .success(try await work())
      } catch {
        box.result = .failure(error)
      }
      done.signal()
    }
    done.wait()
    // The task always stores a result before it signals.
    guard let result = box.result else {
      preconditionFailure("blocking call ended without a result")
    }
    return try result.get()
  }
}

private final class BlockingExecutor: TaskExecutor {
  static let shared = BlockingExecutor()
  private let queue = DispatchQueue(label: "fleetwave.kube.blocking", attributes: .concurrent)

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    queue.async { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }
  }
}

private final class ResultHolder<T: Sendable, E: Error>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Result<T, E>?
  var result: Result<T, E>? {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}

extension KubeClient {
  public func get(apiVersion: String, kind: String, namespace: String?, name: String)
    throws(KubeError) -> Value?
  {
    try Blocking.wait { () async throws(KubeError) in
      try await self.get(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name)
    }
  }

  public func list(
    apiVersion: String, kind: String, namespace: String?, labelSelector: String? = nil
  ) throws(KubeError) -> [Value] {
    try Blocking.wait { () async throws(KubeError) in
      try await self.list(
        apiVersion: apiVersion, kind: kind, namespace: namespace, labelSelector: labelSelector)
    }
  }

  @discardableResult
  public func apply(
    _ object: Value, fieldManager: String = "fleetwave", force: Bool = true, dryRun: Bool = false
  ) throws(KubeError) -> Value {
    try Blocking.wait { () async throws(KubeError) in
      try await self.apply(object, fieldManager: fieldManager, force: force, dryRun: dryRun)
    }
  }

  @discardableResult
  public func create(_ object: Value) throws(KubeError) -> Value {
    try Blocking.wait { () async throws(KubeError) in try await self.create(object) }
  }

  @discardableResult
  public func update(_ object: Value) throws(KubeError) -> Value {
    try Blocking.wait { () async throws(KubeError) in try await self.update(object) }
  }

  @discardableResult
  public func delete(apiVersion: String, kind: String, namespace: String?, name: String)
    throws(KubeError) -> Bool
  {
    try Blocking.wait { () async throws(KubeError) in
      try await self.delete(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name)
    }
  }

  public func mapping(apiVersion: String, kind: String) throws(KubeError) -> ResourceMapping {
    try Blocking.wait { () async throws(KubeError) in
      try await self.mapping(apiVersion: apiVersion, kind: kind)
    }
  }
}

extension ReleaseLease {
  public func acquire(force: Bool = false) throws(LeaseError) {
    try Blocking.wait { () async throws(LeaseError) in try await self.acquire(force: force) }
  }

  public func renew() throws(LeaseError) {
    try Blocking.wait { () async throws(LeaseError) in try await self.renew() }
  }

  public func relinquish() throws(LeaseError) {
    try Blocking.wait { () async throws(LeaseError) in try await self.relinquish() }
  }

  public func read() throws(LeaseError) -> Value? {
    try Blocking.wait { () async throws(LeaseError) in try await self.read() }
  }
}

extension RevisionHistory {
  public func records() throws(KubeError) -> [RevisionRecord] {
    try Blocking.wait { () async throws(KubeError) in try await self.records() }
  }

  public func current() throws(KubeError) -> RevisionRecord? {
    try Blocking.wait { () async throws(KubeError) in try await self.current() }
  }

  public func save(_ record: RevisionRecord) throws(KubeError) {
    try Blocking.wait { () async throws(KubeError) in try await self.save(record) }
  }

  public func mark(_ record: RevisionRecord, _ status: RevisionStatus) throws(KubeError) {
    try Blocking.wait { () async throws(KubeError) in try await self.mark(record, status) }
  }
}
