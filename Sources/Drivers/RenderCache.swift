// Renders each distinct input once. Most clusters of a fleet share their merged values with
// others (every cluster of a region, of a tier), and `helm template` costs tens of
// milliseconds of CPU per run, so a fleet-wide rollout spent nearly all its CPU rendering the
// same release again and again.
import FleetCore
import FleetYAML
import Foundation

/// What a render depends on, hashed: two clusters with equal keys get the same objects.
public struct RenderKey: Hashable, Sendable {
  public let digest: String

  /// `inputs` are everything the render reads besides the chart's own files, in a fixed
  /// order (release name, namespace, chart, versions, the values as YAML).
  public init(_ inputs: [String]) {
    var hasher = Self.hasher(inputs)
    digest = hasher.hex()
  }

  /// `inputs`, then `values` as the YAML `helm template` receives. The YAML is hashed as it is
  /// emitted: for a large values file it is many megabytes, and each cluster's render asks
  /// for its key.
  public init(_ inputs: [String], values: Value) {
    var hasher = Self.hasher(inputs)
    // Last and unprefixed: the prefixed inputs before it already fix where it starts.
    YAML.emit(values) { hasher.update($0) }
    digest = hasher.hex()
  }

  private static func hasher(_ inputs: [String]) -> SHA256.Hasher {
    var hasher = SHA256.Hasher()
    // Length-prefixed, so no two different input lists join to the same text.
    for input in inputs { hasher.update("\(input.utf8.count):\(input)".utf8) }
    return hasher
  }
}

/// A bounded cache of rendered releases with one render in flight per key: clusters that ask
/// for a key being rendered wait for that render instead of starting their own.
///
/// Renders are blocking work (a child process and its output); at most `concurrency` run at
/// once, each on a Dispatch thread, so a wave of a thousand clusters neither starts a thousand
/// `helm` processes nor holds a thread per waiting cluster. The cache is a lock and callbacks,
/// not an actor: an actor would run on the cooperative pool, which callers that block a pool
/// thread on a driver call (commands, tests) can exhaust, and the render would never be
/// handed back. Failures are not kept: the next cluster with the same key tries again (a
/// render that failed for a passing reason, such as a full disk, must not fail the rest of
/// the fleet).
public final class RenderCache: @unchecked Sendable {
  public let capacity: Int
  public let concurrency: Int

  private typealias Waiter = @Sendable (Result<[Value], DriverError>) -> Void
  private enum State {
    case rendering([Waiter])
    case rendered([Value])
  }
  private struct Entry {
    var state: State
    var lastUsed: Int
  }

  private let lock = NSLock()
  private var entries: [RenderKey: Entry] = [:]
  private var tick = 0
  private var running = 0
  /// Renders waiting for one of the `concurrency` slots, oldest first.
  private var queued: [@Sendable () -> Void] = []
  private var rendersStarted = 0

  public init(
    capacity: Int = 256, concurrency: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)
  ) {
    self.capacity = max(1, capacity)
    self.concurrency = max(1, concurrency)
  }

  /// How many renders ran (hits excluded): for tests and benchmarks.
  public var renders: Int { lock.withLock { rendersStarted } }

  /// The objects for `key`: the cached render, the one in flight, or a new one by `render`.
  public func objects(
    _ key: RenderKey, render: @escaping @Sendable () throws(DriverError) -> [Value]
  ) async throws(DriverError) -> [Value] {
    let result = await withCheckedContinuation {
      (continuation: CheckedContinuation<Result<[Value], DriverError>, Never>) in
      request(key, render) { continuation.resume(returning: $0) }
    }
    return try result.get()
  }

  private func request(
    _ key: RenderKey, _ render: @escaping @Sendable () throws(DriverError) -> [Value],
    _ waiter: @escaping Waiter
  ) {
    lock.lock()
    tick += 1
    if var entry = entries[key] {
      entry.lastUsed = tick
      switch entry.state {
      case .rendered(let objects):
        entries[key] = entry
        lock.unlock()
        waiter(.success(objects))
      case .rendering(let waiters):
        entry.state = .rendering(waiters + [waiter])
        entries[key] = entry
        lock.unlock()
      }
      return
    }
    rendersStarted += 1
    entries[key] = Entry(state: .rendering([waiter]), lastUsed: tick)
    evictIfFull()
    let job: @Sendable () -> Void = { [self] in run(key, render) }
    guard running < concurrency else {
      queued.append(job)
      lock.unlock()
      return
    }
    running += 1
    lock.unlock()
    DispatchQueue.global().async(execute: job)
  }

  private func run(_ key: RenderKey, _ render: @Sendable () throws(DriverError) -> [Value]) {
    let result: Result<[Value], DriverError>
    do throws(DriverError) {
      result = .success(try render())
    } catch {
      result = .failure(error)
    }
    lock.lock()
    var waiters: [Waiter] = []
    if case .rendering(let pending)? = entries[key]?.state { waiters = pending }
    switch result {
    case .success(let objects): entries[key]?.state = .rendered(objects)
    case .failure: entries[key] = nil
    }
    // The slot passes straight to the oldest queued render.
    let next = queued.isEmpty ? nil : queued.removeFirst()
    if next == nil { running -= 1 }
    lock.unlock()
    if let next { DispatchQueue.global().async(execute: next) }
    for waiter in waiters { waiter(result) }
  }

  /// Drops the least recently used finished renders until the cache fits (called under the
  /// lock). Renders in flight stay: their waiters are kept in the entry.
  private func evictIfFull() {
    guard entries.count > capacity else { return }
    let finished = entries.filter {
      if case .rendered = $0.value.state { return true }
      return false
    }.sorted { $0.value.lastUsed < $1.value.lastUsed }
    for (key, _) in finished.prefix(entries.count - capacity) {
      entries[key] = nil
    }
  }
}
