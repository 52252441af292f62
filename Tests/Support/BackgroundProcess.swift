// A program a test starts and leaves running while it works: a server, a fleetwave to signal
// mid-run, a helm to kill while it waits. Spawned like every command of fleetwave's own
// (ProcessGroupCommand: posix_spawn, only stdio inherited, default signal dispositions), never
// through Foundation's Process.
import FleetCore
import Foundation
import ProcessGroups

public final class BackgroundProcess: @unchecked Sendable {
  public let pid: pid_t
  private let lock = NSLock()
  private var status: Int32?

  /// Starts `executable`; stdout goes to `output` and stderr to `errors` (to `output` when
  /// nil; both to /dev/null when neither is given), stdin comes from `input` (/dev/null).
  public init(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    output: String? = nil, errors: String? = nil, input: String? = nil
  ) throws {
    for path in [output, errors].compactMap({ $0 }) {
      FileManager.default.createFile(atPath: path, contents: nil)
    }
    let command = ProcessGroupCommand(
      program: .executable(executable, arguments: arguments),
      environment: childEnvironment(environment ?? [:]),
      logPath: errors ?? output ?? "/dev/null", stdoutPath: output ?? "/dev/null",
      stdinPath: input, timeout: .seconds(0))
    pid = try command.launch().get()
  }

  /// Whether it still runs (reaping it if it has ended).
  public var isRunning: Bool { poll(blocking: false) == nil }

  /// Sends `signal` to it, unless it has already been reaped.
  public func signal(_ signal: Int32) {
    lock.withLock { if status == nil { _ = kill(pid, signal) } }
  }

  /// Blocks until it ends; its exit status, or the number of the signal that killed it.
  @discardableResult
  public func wait() -> Int32 {
    // The blocking wait cannot return nil.
    poll(blocking: true) ?? -1
  }

  /// Asks it to end (SIGTERM), and kills it if it has not within `grace` seconds.
  public func stop(grace: TimeInterval = 5) {
    signal(SIGTERM)
    _ = exit(within: grace)
  }

  /// Its status, or nil (and then it is killed and reaped) when it runs past `timeout` seconds.
  public func exit(within timeout: TimeInterval) -> Int32? {
    if eventually(timeout: timeout, { !isRunning }) { return wait() }
    signal(SIGKILL)
    wait()
    return nil
  }

  /// Reaps it if it has ended (or, blocking, once it ends); the lock is not held while
  /// waiting, so another thread can still signal it.
  private func poll(blocking: Bool) -> Int32? {
    if let status = lock.withLock({ status }) { return status }
    var raw: Int32 = 0
    var reaped: pid_t
    repeat {
      reaped = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
    } while reaped < 0 && errno == EINTR
    return lock.withLock {
      if reaped == pid { status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f }
      return status
    }
  }

  deinit {
    if lock.withLock({ status == nil }) {
      signal(SIGKILL)
      wait()
    }
  }
}
