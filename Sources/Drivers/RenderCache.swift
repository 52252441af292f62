// Renders each distinct input once. Most clusters of a fleet share their merged values with
// others (every cluster of a region, of a tier), and `helm template` costs tens of
// milliseconds of CPU per run, so a fleet-wide rollout spent nearly all its CPU rendering the
// same release again and again.
import FleetCore
import Foundation

/// What a render depends on, hashed: two clusters with equal keys get the same objects.
public struct RenderKey: Hashable, Sendable {
  public let digest: String

  /// `inputs` are everything the render reads besides the chart's own files, in a fixed
  /// order (release name, namespace, chart, versions, the values as YAML).
  public init(_ inputs: [String]) {
    // Length-prefixed, so no two different input lists join to the same text.
    let text = inputs.map { "\($0.utf8.count):\($0)" }.joined()
    digest = SHA256.hex(Array(text.utf8))
  }
}

/// A bounded cache of rendered releases with one render in flight per key: clusters that ask
/// for a key being rendered wait for that render instead of starting their own.
///
/// Renders are blocking work (a child process and its output); at most `concurrency` run at
/// once, each on a Dispatch thread of its own, so a wave of a thousand clusters neither
/// blocks the cooperative pool nor starts a thousand `helm` processes. Failures are not kept:
/// the next cluster with the same key tries again (a render that failed for a passing reason,
/// such as a full disk, must not fail the rest of the fleet).
public actor RenderCache {
  public let capacity: Int
  public let concurrency: Int
  /// How many renders ran (hits excluded): for tests and benchmarks.
  public private(set) var renders = 0

  private var entries: [RenderKey: Entry] = [:]
  private var tick = 0
  private var running = 0
  private var waiting: [CheckedContinuation<Void, Never>] = []

  private struct Entry {
    let task: Task<[Value], any Error>
    var lastUsed: Int
  }

  public init(
    capacity: Int = 256, concurrency: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)
  ) {
    self.capacity = max(1, capacity)
    self.concurrency = max(1, concurrency)
  }

  /// The objects for `key`: the cached render, the one in flight, or a new one by `render`.
  public func objects(
    _ key: RenderKey, render: @escaping @Sendable () throws(DriverError) -> [Value]
  ) async throws(DriverError) -> [Value] {
    tick += 1
    let task: Task<[Value], any Error>
    if let entry = entries[key] {
      entries[key]?.lastUsed = tick
      task = entry.task
    } else {
      renders += 1
      task = Task { try await self.run(render) }
      entries[key] = Entry(task: task, lastUsed: tick)
      evictIfFull()
    }
    do {
      return try await task.value
    } catch {
      if entries[key]?.task == task { entries[key] = nil }
      if let error = error as? DriverError { throw error }
      throw DriverError(.setup, "render failed: \(error)")
    }
  }

  private func run(_ render: @escaping @Sendable () throws(DriverError) -> [Value]) async throws
    -> [Value]
  {
    await acquire()
    defer { release() }
    return try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        do throws(DriverError) {
          continuation.resume(returning: try render())
        } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }

  /// Drops the least recently used entries until the cache fits. A render still in flight
  /// that is dropped finishes for the clusters already waiting on it.
  private func evictIfFull() {
    guard entries.count > capacity else { return }
    let byAge = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }
    for (key, _) in byAge.prefix(entries.count - capacity) {
      entries[key] = nil
    }
  }

  private func acquire() async {
    if running < concurrency {
      running += 1
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  private func release() {
    if waiting.isEmpty {
      running -= 1
    } else {
      // The slot passes straight to the next waiter.
      waiting.removeFirst().resume()
    }
  }
}
