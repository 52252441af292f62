// SIGINT/SIGTERM as interrupts of a run: delivered through dispatch sources, counted, so the
// first stops new work and the second cancels what is in flight.
import Foundation

public final class InterruptSignals: @unchecked Sendable {
  private let lock = NSLock()
  private var sources: [DispatchSourceSignal] = []
  private var received = 0
  private let signals: [Int32]

  /// Takes over `signals` (their default action is ignored from now on) and calls `handler`
  /// with the signal and how many have arrived so far, on `queue`.
  public init(
    signals: [Int32] = [SIGINT, SIGTERM],
    queue: DispatchQueue = DispatchQueue(label: "fleetwave.signals"),
    handler: @escaping @Sendable (_ signal: Int32, _ count: Int) -> Void
  ) {
    self.signals = signals
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

  /// Hands the signals back to their default actions.
  public func cancel() {
    lock.lock()
    let taken = sources
    sources = []
    lock.unlock()
    for source in taken { source.cancel() }
    for number in signals { signal(number, SIG_DFL) }
  }

  deinit { cancel() }
}
