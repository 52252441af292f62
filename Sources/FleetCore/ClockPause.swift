// Waiting on a clock without holding a thread: the async counterpart of `RolloutClock.wait`.
import Foundation

extension RolloutClock {
  /// Suspends the task until `deadline` on this clock, holding no thread meanwhile (the wake-up
  /// is one of the clock's timers); returns false, at once, if `cancellation` fires first.
  public func pause(until deadline: Date, cancellation: Cancellation?) async -> Bool {
    if cancellation?.isCancelled == true { return false }
    return await withCheckedContinuation { continuation in
      let resume = ResumeOnce(continuation)
      let timer = schedule(at: deadline, on: PauseTimers.queue) { resume.resume(true) }
      cancellation?.onCancel {
        timer.cancel()
        resume.resume(false)
      }
    }
  }
}

/// Where pause timers fire; the work there only resumes a task.
private enum PauseTimers {
  static let queue = DispatchQueue(label: "fleetwave.clock.pause")
}

/// Resumes a continuation exactly once, whichever of timer and cancellation comes first.
private final class ResumeOnce: @unchecked Sendable {
  private let lock = NSLock()
  private var continuation: CheckedContinuation<Bool, Never>?

  init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = continuation }

  func resume(_ value: Bool) {
    let taken = lock.withLock {
      defer { continuation = nil }
      return continuation
    }
    taken?.resume(returning: value)
  }
}
