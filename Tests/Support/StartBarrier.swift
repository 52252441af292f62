// Workers on threads of their own, released together once every one is ready: the start
// barrier of concurrency tests, so a race is actually run rather than left to thread startup.
import Foundation

public enum StartBarrier {
  /// Runs `work(index)` for index 0..<workers, each on its own thread, all released at once;
  /// returns once all finished, or false when they did not within `timeout` seconds.
  @discardableResult
  public static func run(
    workers: Int, timeout: Double = 120, _ work: @escaping @Sendable (Int) -> Void
  ) -> Bool {
    let ready = DispatchGroup()
    let finished = DispatchGroup()
    let go = DispatchSemaphore(value: 0)
    for index in 0..<workers {
      ready.enter()
      finished.enter()
      Thread.detachNewThread {
        ready.leave()
        go.wait()
        work(index)
        finished.leave()
      }
    }
    ready.wait()
    for _ in 0..<workers { go.signal() }
    return finished.wait(timeout: .now() + timeout) == .success
  }
}
