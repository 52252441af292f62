// What tests read of a process they started through a command: whether it still runs, the
// pid it wrote to a file, and when it exits.
import Foundation

/// True while `pid` is a live (not zombie) process.
public func isAlive(_ pid: Int32) -> Bool {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return false }
  let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
  return state != "Z" && state != "X"
}

/// The pid a command wrote to `path` (`echo $$ > path`), once it has.
public func readPid(_ path: String) -> Int32? {
  guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
  return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// A pidfd on a process the test did not spawn, to see it exit without polling /proc.
public struct ProcessExitWatch {
  public let descriptor: Int32

  /// Nil when the process is already gone (or the kernel has no pidfd_open).
  public init?(_ pid: pid_t) {
    // pidfd_open(2) is in glibc 2.36 but not in Swift's Glibc module map.
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else {
      return nil
    }
    descriptor = unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
    if descriptor < 0 { return nil }
  }

  public func exited(withinMilliseconds limit: Int32) -> Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, limit) == 1
  }
}
