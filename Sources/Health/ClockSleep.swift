// Waiting on the rollout clock without holding a thread: a timer on the clock resumes the
// suspended gate, and a cancellation resumes it early.
import FleetCore
import Foundation

extension RolloutClock {
  /// Suspends until `deadline` on this clock; returns false if `cancellation` came first.
  func sleep(until deadline: Date, cancellation: Cancellation) async -> Bool {
    if cancellation.isCancelled { return false }
    let wake = Wake()
    return await withCheckedContinuation { continuation in
      wake.arm(continuation)
      // The timer's work only resumes the task, so any queue will do; a global one never
      // waits behind the executor's own.
      let timer = schedule(at: deadline, on: .global()) { wake.fire(true) }
      cancellation.onCancel {
        timer.cancel()
        wake.fire(false)
      }
    }
  }

  func sleep(for duration: Duration, cancellation: Cancellation) async -> Bool {
    await sleep(
      until: now().addingTimeInterval(DurationText.seconds(duration)), cancellation: cancellation)
  }
}

/// Resumes a sleeper exactly once, whichever of its timer and its cancellation comes first.
private final class Wake: @unchecked Sendable {
  private let lock = NSLock()
  private var continuation: CheckedContinuation<Bool, Never>?

  func arm(_ continuation: CheckedContinuation<Bool, Never>) {
    lock.withLock { self.continuation = continuation }
  }

  func fire(_ onTime: Bool) {
    let waiting = lock.withLock {
      let waiting = continuation
      continuation = nil
      return waiting
    }
    waiting?.resume(returning: onTime)
  }
}
