// One watcher for every child process: a pidfd per running child, registered with Dispatch's
// single epoll thread, so waiting for a child's exit parks no thread of its own.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Tells when a spawned child has exited, without reaping it (the caller kills what is left of
/// the child's group first, then reaps it, so the group id cannot be reused in between).
final class ChildReaper: @unchecked Sendable {
  static let shared = ChildReaper()

  /// The queue every exit is noticed on; handlers hand their work to a global queue at once.
  private let queue = DispatchQueue(label: "fleetwave.process-reaper")
  private let lock = NSLock()
  /// The sources of children still running, keyed by pid, kept alive until their exit fires.
  private var watched: [pid_t: any DispatchSourceRead] = [:]

  /// pidfd_open(2) is in glibc 2.36 but not in Swift's Glibc module map, so it is looked up
  /// once at run time; nil on an older C library or kernel (then `watch` reports failure).
  private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
  private let pidfdOpen: PidfdOpen? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else {
      return nil
    }
    return unsafeBitCast(symbol, to: PidfdOpen.self)
  }()

  /// Calls `exited` once `pid` has exited (it stays unreaped). Returns false when the child
  /// cannot be watched this way, and the caller must wait for it by other means.
  func watch(_ pid: pid_t, exited: @escaping @Sendable () -> Void) -> Bool {
    guard let pidfdOpen else { return false }
    let descriptor = pidfdOpen(pid, 0)
    guard descriptor >= 0 else { return false }
    let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
    source.setEventHandler { [self] in
      lock.lock()
      let source = watched.removeValue(forKey: pid)
      lock.unlock()
      // A pidfd stays readable once its process has exited; cancel so the handler runs once.
      guard let source else { return }
      source.cancel()
      DispatchQueue.global().async(execute: exited)
    }
    source.setCancelHandler { close(descriptor) }
    lock.lock()
    watched[pid] = source
    lock.unlock()
    source.activate()
    return true
  }
}
