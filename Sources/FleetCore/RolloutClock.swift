// Time as the executor, planner and health gates see it: real, or advanced by a test.
import Foundation

/// A cooperative cancellation flag shared by everything working on one cluster or one run.
public final class Cancellation: @unchecked Sendable {
  private let lock = NSLock()
  private var cancelled = false
  private var handlers: [@Sendable () -> Void] = []

  public init() {}

  public var isCancelled: Bool {
    lock.lock()
    defer { lock.unlock() }
    return cancelled
  }

  public func cancel() {
    lock.lock()
    if cancelled {
      lock.unlock()
      return
    }
    cancelled = true
    let toRun = handlers
    handlers = []
    lock.unlock()
    for handler in toRun { handler() }
  }

  /// Runs `handler` once on cancellation (at once if already cancelled).
  public func onCancel(_ handler: @escaping @Sendable () -> Void) {
    lock.lock()
    if cancelled {
      lock.unlock()
      handler()
      return
    }
    handlers.append(handler)
    lock.unlock()
  }
}

/// The clock every time-dependent part takes, so bake times, intervals and windows are
/// testable without sleeping.
public protocol RolloutClock: Sendable {
  func now() -> Date
  /// Blocks the calling thread until `deadline`; returns false if cancelled first.
  @discardableResult
  func wait(until deadline: Date, cancellation: Cancellation?) -> Bool
  /// Runs `work` on `queue` at `deadline`; the returned flag cancels it.
  @discardableResult
  func schedule(at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void)
    -> Cancellation
}

extension RolloutClock {
  @discardableResult
  public func wait(for duration: Duration, cancellation: Cancellation? = nil) -> Bool {
    wait(
      until: now().addingTimeInterval(DurationText.seconds(duration)), cancellation: cancellation)
  }
}

/// Wall-clock time.
public struct SystemClock: RolloutClock {
  public init() {}

  public func now() -> Date { Date() }

  @discardableResult
  public func wait(until deadline: Date, cancellation: Cancellation?) -> Bool {
    let semaphore = DispatchSemaphore(value: 0)
    cancellation?.onCancel { semaphore.signal() }
    let seconds = deadline.timeIntervalSinceNow
    if seconds > 0 { _ = semaphore.wait(timeout: .now() + seconds) }
    return !(cancellation?.isCancelled ?? false)
  }

  @discardableResult
  public func schedule(
    at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void
  )
    -> Cancellation
  {
    let token = Cancellation()
    let seconds = max(0, deadline.timeIntervalSinceNow)
    queue.asyncAfter(deadline: .now() + seconds) {
      if !token.isCancelled { work() }
    }
    return token
  }
}

/// A clock that moves only when a test advances it. Waiters and scheduled work whose deadline
/// is reached run during `advance`, in deadline order.
public final class ManualClock: RolloutClock, @unchecked Sendable {
  private struct Timer {
    let deadline: Date
    let sequence: Int
    let fire: @Sendable () -> Void
    let token: Cancellation

    /// Firing order: by deadline, then in the order scheduled.
    func precedes(_ other: Timer) -> Bool {
      (deadline, sequence) < (other.deadline, other.sequence)
    }
  }

  private let condition = NSCondition()
  private var current: Date
  /// A binary min-heap in firing order, so a virtual-time run of N timers costs O(log N) per
  /// timer rather than a scan of all of them. Cancelled timers are dropped when they surface.
  private var timers = MinHeap<Timer> { $0.precedes($1) }
  private var sequence = 0
  private var waiting = 0

  public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

  public func now() -> Date {
    condition.lock()
    defer { condition.unlock() }
    return current
  }

  /// How many threads are blocked in `wait` right now; lets a test advance only once the
  /// workers it expects are parked.
  public var waiters: Int {
    condition.lock()
    defer { condition.unlock() }
    return waiting
  }

  /// Blocks until `count` threads are parked in `wait` (or `timeout` of real time passes).
  @discardableResult
  public func waitForWaiters(_ count: Int, timeout: TimeInterval = 10) -> Bool {
    let limit = Date().addingTimeInterval(timeout)
    condition.lock()
    defer { condition.unlock() }
    while waiting < count {
      if !condition.wait(until: limit) { return waiting >= count }
    }
    return true
  }

  @discardableResult
  public func wait(until deadline: Date, cancellation: Cancellation?) -> Bool {
    cancellation?.onCancel { [condition] in
      condition.lock()
      condition.broadcast()
      condition.unlock()
    }
    condition.lock()
    waiting += 1
    condition.broadcast()
    while current < deadline && !(cancellation?.isCancelled ?? false) {
      condition.wait()
    }
    waiting -= 1
    condition.broadcast()
    condition.unlock()
    return !(cancellation?.isCancelled ?? false)
  }

  @discardableResult
  public func schedule(
    at deadline: Date, on queue: DispatchQueue, _ work: @escaping @Sendable () -> Void
  )
    -> Cancellation
  {
    let token = Cancellation()
    condition.lock()
    if deadline <= current {
      condition.unlock()
      queue.async { if !token.isCancelled { work() } }
      return token
    }
    sequence += 1
    timers.push(
      Timer(
        deadline: deadline, sequence: sequence,
        fire: { queue.async { if !token.isCancelled { work() } } }, token: token))
    condition.broadcast()
    condition.unlock()
    return token
  }

  /// Moves time forward, firing due timers in order and waking due waiters.
  public func advance(by duration: Duration) {
    advance(to: now().addingTimeInterval(DurationText.seconds(duration)))
  }

  public func advance(to target: Date) {
    while true {
      condition.lock()
      dropCancelled()
      guard let head = timers.peek, head.deadline <= target else {
        if current < target { current = target }
        condition.broadcast()
        condition.unlock()
        return
      }
      timers.pop()
      if current < head.deadline { current = head.deadline }
      condition.broadcast()
      condition.unlock()
      head.fire()
    }
  }

  /// Blocks until `count` timers are pending (or `timeout` of real time passes): lets a test
  /// advance only once the tasks it drives have scheduled their wake-ups (`pause` holds no
  /// thread for `waitForWaiters` to count). Cancelled timers do not count.
  @discardableResult
  public func waitForTimers(_ count: Int = 1, timeout: TimeInterval = 10) -> Bool {
    let limit = Date().addingTimeInterval(timeout)
    condition.lock()
    defer { condition.unlock() }
    while true {
      if timers.count(where: { !$0.token.isCancelled }) >= count { return true }
      if !condition.wait(until: limit) { return false }
    }
  }

  /// The earliest pending timer, if any: lets a simulation jump straight to the next event.
  public var nextDeadline: Date? {
    condition.lock()
    defer { condition.unlock() }
    dropCancelled()
    return timers.peek?.deadline
  }

  /// Pops cancelled timers off the top, so the top is the next one that will fire. Called
  /// with the lock held.
  private func dropCancelled() {
    while let head = timers.peek, head.token.isCancelled { timers.pop() }
  }
}
