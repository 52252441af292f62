// Helpers for driving gates on a ManualClock from the test thread.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Health

/// Work running on another thread, so the test thread can drive a ManualClock meanwhile.
struct Background<T: Sendable>: Sendable {
  private let done = DispatchSemaphore(value: 0)
  private let box = Locked<T?>(nil)

  init(_ body: @escaping @Sendable () -> T) {
    let done = self.done
    let box = self.box
    DispatchQueue.global().async {
      box.value = body()
      done.signal()
    }
  }

  var isDone: Bool { box.value != nil }

  func result() -> T {
    done.wait()
    done.signal()
    return box.value!
  }
}

extension HealthGate {
  /// Blocks the calling thread until `verify` returns, for tests written as straight-line code.
  func verifyBlocking(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    -> GateResult
  {
    let done = DispatchSemaphore(value: 0)
    let box = Locked<GateResult?>(nil)
    start(clusters: clusters, clock: clock, cancellation: cancellation) { result in
      box.value = result
      done.signal()
    }
    done.wait()
    return box.value!
  }
}

func inBackground<T: Sendable>(_ body: @escaping @Sendable () -> T) -> @Sendable () -> T {
  let work = Background(body)
  return { work.result() }
}

/// Advances `clock` for each wait in `waits` once the gate has sent `requests` requests and
/// parked in that wait, until the gate returns. Requests are the sync point: once request N has
/// arrived, the gate is past its previous wait, so the waiter seen next is a new wait.
func drive(
  _ work: Background<GateResult>, server: LoopbackServer, clock: ManualClock,
  waits: [(requests: Int, advance: Duration)]
) -> GateResult {
  for wait in waits {
    _ = eventually(timeout: 30) { work.isDone || server.requests.count >= wait.requests }
    _ = eventually(timeout: 30) { work.isDone || clock.nextDeadline != nil }
    if work.isDone { break }
    clock.advance(by: wait.advance)
  }
  return work.result()
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

// A loop of the suite's own: its 500 parked probes must not take the connections other suites
// in this process need (the shared loop caps them).
let transport = HTTPTransport(.init(proxy: .direct, loop: HTTPLoop()))

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
