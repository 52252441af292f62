// One active run per fleet: an flock'd file naming its holder.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Who holds a fleet's run lock.
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
  public var run: String
  public var host: String
  public var pid: Int32
  public var since: Date

  public init(run: String, host: String, pid: Int32, since: Date) {
    self.run = run
    self.host = host
    self.pid = pid
    self.since = since
  }

  public var description: String {
    "run \(run) (host \(host), pid \(pid), since \(Timestamp.iso(since)))"
  }
}

public enum RunLockError: Error, Sendable, Equatable, CustomStringConvertible {
  case held(fleet: String, by: LockHolder)
  case io(String)

  public var description: String {
    switch self {
    case .held(let fleet, let holder):
      return "another rollout of fleet '\(fleet)' is in progress: \(holder)"
    case .io(let message): return message
    }
  }
}

/// Held for as long as the run's process lives. The kernel releases an flock when its holder
/// dies, even by SIGKILL, so a lock can never outlive its process; the file's contents only
/// name the holder for the error message.
public final class RunLock: @unchecked Sendable {
  public let path: String
  /// The holder before us, when it died without releasing: its run may need `resume`.
  public let previousHolder: LockHolder?
  private var fd: Int32

  private init(path: String, fd: Int32, previousHolder: LockHolder?) {
    self.path = path
    self.fd = fd
    self.previousHolder = previousHolder
  }

  deinit { release() }

  public static func acquire(
    stateDirectory: String, fleet: String, run: String, at date: Date
  ) throws(RunLockError) -> RunLock {
    do {
      try FileManager.default.createDirectory(
        atPath: stateDirectory, withIntermediateDirectories: true)
    } catch {
      throw .io("cannot create \(stateDirectory): \(error.localizedDescription)")
    }
    let path = stateDirectory + "/lock"
    // O_CLOEXEC: drivers' child processes must not inherit (and so keep alive) the lock.
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
    let previous = readHolder(fd)
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let code = errno
      close(fd)
      if code == EWOULDBLOCK, let previous { throw .held(fleet: fleet, by: previous) }
      throw .io("cannot lock \(path): \(String(cString: strerror(code)))")
    }
    let holder = LockHolder(
      run: run, host: ProcessInfo.processInfo.hostName, pid: getpid(), since: date)
    let json = JSONWriter.bytes(encode(holder)) + [0x0A]
    ftruncate(fd, 0)
    _ = json.withUnsafeBytes { pwrite(fd, $0.baseAddress, json.count, 0) }
    fsync(fd)
    return RunLock(path: path, fd: fd, previousHolder: previous)
  }

  /// Who holds the lock now, if anyone.
  public static func holder(stateDirectory: String) -> LockHolder? {
    let path = stateDirectory + "/lock"
    let fd = open(path, O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return nil
    }
    return readHolder(fd)
  }

  public func release() {
    guard fd >= 0 else { return }
    ftruncate(fd, 0)
    flock(fd, LOCK_UN)
    close(fd)
    fd = -1
  }

  private static func encode(_ holder: LockHolder) -> Value {
    [
      "run": .string(holder.run), "host": .string(holder.host), "pid": .int(Int64(holder.pid)),
      "since": .string(Timestamp.iso(holder.since)),
    ]
  }

  private static func readHolder(_ fd: Int32) -> LockHolder? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) }
    guard n > 0, let value = try? JSONReader.parse(Array(buffer[0..<n]).filter { $0 != 0x0A }),
      let run = value["run"]?.string, let host = value["host"]?.string,
      let pid = value["pid"]?.int, let since = value["since"]?.string.flatMap(Timestamp.parse)
    else { return nil }
    return LockHolder(run: run, host: host, pid: Int32(truncatingIfNeeded: pid), since: since)
  }
}
