// Helpers for driving gates on a ManualClock from the test thread.
import FleetCore
import Foundation
import HTTP
import Health

/// Runs `body` on another thread; the returned closure waits for its result.
func inBackground<T: Sendable>(_ body: @escaping @Sendable () -> T) -> @Sendable () -> T {
  let done = DispatchSemaphore(value: 0)
  let box = Locked<T?>(nil)
  DispatchQueue.global().async {
    box.value = body()
    done.signal()
  }
  return {
    done.wait()
    return box.value!
  }
}

final class Locked<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: T
  init(_ value: T) { stored = value }
  var value: T {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
  func update(_ change: (inout T) -> Void) { lock.withLock { change(&stored) } }
}

let transport = HTTPTransport(.init(proxy: .direct))

/// Replaces the digits of "in 12 ms" so details with real latencies compare exactly.
func latencyFree(_ text: String) -> String {
  text.replacingOccurrences(of: #"in \d+ ms"#, with: "in _ ms", options: .regularExpression)
}

/// A server answering from a script, one entry per request; the last entry repeats.
func scriptedServer(_ replies: [Reply]) throws -> LoopbackServer {
  let next = Locked(0)
  return try LoopbackServer { _ in
    var index = 0
    next.update { n in
      index = n
      n += 1
    }
    return replies[min(index, replies.count - 1)]
  }
}

let start = Date(timeIntervalSince1970: 1_800_000_000)
