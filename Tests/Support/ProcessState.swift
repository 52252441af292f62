// What tests read of a process they started through a command: whether it still runs, and
// the pid it wrote to a file.
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
