// SIGINT/SIGTERM as interrupts of a run: delivered through dispatch sources, counted, so the
// first stops new work and the second cancels what is in flight.
import Foundation

/// Counts SIGINT/SIGTERM and hands each to a handler, off the signal context.
///
/// It is meant to live until the process exits: cancelling a signal source while a signal may
/// be in flight is where libdispatch's Linux event loop is fragile, and a command has no
/// reason to give the signals back.
public final class InterruptSignals: @unchecked Sendable {
  private let lock = NSLock()
  private var sources: [DispatchSourceSignal] = []
  private var received = 0

  /// Takes over `signals` (their default action is ignored from now on) and calls `handler`
  /// with the signal and how many have arrived so far, on `queue`.
  public init(
    signals: [Int32] = [SIGINT, SIGTERM],
    queue: DispatchQueue = DispatchQueue(label: "fleetwave.signals"),
    handler: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void
  ) {
    let registered = DispatchSemaphore(value: 0)
    for number in signals {
      // The source only sees the signal once the default action (terminate) is off.
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { [weak self] in
        guard let self else { return }
        self.lock.lock()
        self.received += 1
        let count = self.received
        self.lock.unlock()
        handler(number, count)
      }
      source.setRegistrationHandler { registered.signal() }
      source.resume()
      sources.append(source)
    }
    // A source is armed asynchronously; until then an ignored signal would be lost. Returning
    // only once every source is registered makes "interrupt right after start" reliable.
    for _ in signals { _ = registered.wait(timeout: .now() + 5) }
  }
}
