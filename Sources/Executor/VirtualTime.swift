// Running at virtual time: settle until only the clock can move things, then advance it.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  /// Returns once nothing is moving but the clock: every driver call is parked on a clock
  /// timer and no gate is running. For virtual-time runs (a `ManualClock` and drivers that
  /// wait on it, like `sim`), where the next thing to do is to advance the clock.
  public func settle() {
    var lastActivity = -1
    while true {
      let (quiet, activity) = queue.sync {
        (runningWorkers == 0 && transit.count == 0, transit.activity)
      }
      if quiet && activity == lastActivity { return }
      if !quiet { delivered.wait() }
      lastActivity = activity
    }
  }

  /// Runs the whole plan at virtual time: advances `clock` straight to each next timer.
  ///
  /// Deterministic for a given plan and sim seed: gates run on the queue itself (a virtual-time
  /// gate does not wait), and the queue is held while the clock fires everything due at one
  /// instant, so completions are handled in timer order rather than in thread-race order.
  public func runInVirtualTime(_ clock: ManualClock) -> RunSummary {
    queue.sync { virtualTime = true }
    start()
    while true {
      settle()
      if isFinished { break }
      guard let next = clock.nextDeadline else { break }
      queue.suspend()
      clock.advance(to: next)
      queue.resume()
    }
    return summary()
  }
}

/// Results in transit to the queue, and a count of everything that happened; `settle` reads
/// both to tell "parked on the clock" from "about to move".
final class Transit: @unchecked Sendable {
  let lock = NSLock()
  var inTransit = 0
  var happened = 0

  func enter() {
    lock.lock()
    inTransit += 1
    happened += 1
    lock.unlock()
  }

  func leave() {
    lock.lock()
    inTransit -= 1
    happened += 1
    lock.unlock()
  }

  func touch() {
    lock.lock()
    happened += 1
    lock.unlock()
  }

  var count: Int {
    lock.lock()
    defer { lock.unlock() }
    return inTransit
  }

  var activity: Int {
    lock.lock()
    defer { lock.unlock() }
    return happened
  }
}
