// The one private directory (mode 0700) under the temporary directory where a run keeps its
// temporary files: merged values, rendered manifests, command output. It records its owner
// (pid and the process's start time), so a later run can remove what a killed run left behind
// without touching the directory of a run that is still going.
import Foundation

public struct RunScratch: Sendable {
  /// The directory; every file in it is private to the run.
  public let path: String

  /// Directory names start with this, so that a sweep only ever looks at Fleetwave's own.
  public static let prefix = "fleetwave-run-"
  static let ownerFile = "owner"

  /// This process's directory, made on first use after removing what dead owners left in the
  /// temporary directory. Once per process: a process is one run (tests share it, each use
  /// making its own subdirectory).
  public static let current: Result<RunScratch, RunScratchError> = Result {
    () throws(RunScratchError) -> RunScratch in
    let base = FileManager.default.temporaryDirectory.path
    sweep(base)
    let scratch = try create(in: base)
    // A run that ends normally leaves nothing; one that is killed leaves this for the sweep.
    atexit {
      if case .success(let scratch) = RunScratch.current { scratch.remove() }
    }
    return scratch
  }

  /// Makes a fresh directory in `base` owned by this process.
  public static func create(in base: String) throws(RunScratchError) -> RunScratch {
    guard let started = ProcessStart.of(getpid()) else {
      throw RunScratchError("cannot read this process's start time from /proc")
    }
    let scratch = RunScratch(path: try makeDirectory(in: base, named: prefix))
    try scratch.writeOwner(pid: getpid(), started: started)
    return scratch
  }

  /// A fresh directory of the run's own (mode 0700) in this one, named `NAME-XXXXXX`: one
  /// command's or one render's files, removed by its user when done.
  public func makeDirectory(_ name: String) throws(RunScratchError) -> String {
    try Self.makeDirectory(in: path, named: name + "-")
  }

  /// `mkdtemp` of `base/PREFIXXXXXXX`.
  private static func makeDirectory(in base: String, named prefix: String)
    throws(RunScratchError) -> String
  {
    var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
      guard let pointer = buffer.baseAddress, mkdtemp(pointer) != nil else { return nil }
      return String(cString: pointer)
    }
    guard let made else {
      throw RunScratchError(
        "cannot make a directory in \(base): \(String(cString: strerror(errno)))")
    }
    return made
  }

  /// Removes every scratch directory in `base` whose owner is gone: no such process, or a
  /// process with the same pid but another start time (the pid was reused). A directory
  /// whose owner file is missing or unreadable is left alone unless it is an hour old: its
  /// owner may be between `mkdtemp` and writing the file.
  public static func sweep(_ base: String, now: Date = Date()) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
    for name in names where name.hasPrefix(prefix) {
      let directory = base + "/" + name
      var info = stat()
      // Only directories this user owns: another user's are not ours to judge.
      guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
        info.st_uid == getuid()
      else { continue }
      if let owner = readOwner(directory) {
        guard ProcessStart.of(owner.pid) != owner.started else { continue }
      } else {
        let modified = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
        guard now.timeIntervalSince(modified) > 3600 else { continue }
      }
      try? FileManager.default.removeItem(atPath: directory)
    }
  }

  /// Removes the directory and all in it (at the end of a run).
  public func remove() { try? FileManager.default.removeItem(atPath: path) }

  /// Records `pid` and its start time as the owner (tests name other processes).
  public func writeOwner(pid: pid_t, started: UInt64) throws(RunScratchError) {
    let file = path + "/" + Self.ownerFile
    let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else {
      throw RunScratchError("cannot write \(file): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let bytes = Array("\(pid) \(started)\n".utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
      throw RunScratchError("short write to \(file)")
    }
  }

  static func readOwner(_ directory: String) -> (pid: pid_t, started: UInt64)? {
    guard
      let text = try? String(contentsOfFile: directory + "/" + ownerFile, encoding: .utf8)
    else { return nil }
    let fields = text.split(whereSeparator: \.isWhitespace)
    guard fields.count == 2, let pid = pid_t(fields[0]), let started = UInt64(fields[1]) else {
      return nil
    }
    return (pid, started)
  }
}

public struct RunScratchError: Error, Sendable, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

/// When a process started, in clock ticks since boot (field 22 of /proc/PID/stat): with the
/// pid, it names one process for the machine's uptime, where a pid alone is reused.
public enum ProcessStart {
  public static func of(_ pid: pid_t) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    let rest = text[text.index(after: close)...].split(separator: " ")
    // rest[0] is field 3 (the state), so field 22 is rest[19].
    guard rest.count > 19 else { return nil }
    return UInt64(rest[19])
  }
}
