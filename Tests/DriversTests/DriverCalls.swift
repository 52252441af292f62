// Calling a driver from a test and waiting, bounded, for its completion.
import Drivers
import FleetCore
import Foundation

func call(
  _ cluster: Cluster, run: String = "test", timeout: Duration = .seconds(60),
  cancellation: Cancellation = Cancellation()
) -> DriverCall {
  DriverCall(
    cluster: cluster, run: run, timeout: timeout, cancellation: cancellation, clock: SystemClock(),
    queue: DispatchQueue(label: "driver-test"))
}

/// Waits for a driver call's completion (bounded: a hung call fails the test).
func finish<T: Sendable>(
  _ start: (@escaping DriverCompletion<T>) -> Void
) throws -> Result<T, DriverError> {
  let box = ResultBox<T>()
  let done = DispatchSemaphore(value: 0)
  start { result in
    box.set(result)
    done.signal()
  }
  guard done.wait(timeout: .now() + 120) == .success, let result = box.result else {
    throw DriverError(.timedOut, "the driver call did not complete within 120 s")
  }
  return result
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Result<T, DriverError>?
  func set(_ result: Result<T, DriverError>) {
    lock.lock()
    stored = result
    lock.unlock()
  }
  var result: Result<T, DriverError>? {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }
}
