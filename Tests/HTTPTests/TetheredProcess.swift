// A child process that dies with the test process, even when the test process is killed.
// Shared by HTTPTests, HealthTests and InventoryTests (the others link this file).
import Foundation

/// Runs `executable` under a small shell that holds a pipe from this process: when the pipe
/// closes, because `stop()` closed it or because this process died, the shell kills the child.
/// A server started for a test therefore never outlives the test run.
final class TetheredProcess {
  private let shell = Process()
  private let tether = Pipe()

  init(_ executable: String, _ arguments: [String], log: String? = nil) throws {
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    // No `wait` in the shell: Foundation starts it with the spawning thread's signal mask, in
    // which SIGCHLD is blocked, so `wait` would never return. SIGKILL ends the child at once,
    // and init reaps it.
    shell.arguments =
      ["-c", #""$0" "$@" & child=$!; read -r _; kill -9 "$child" 2>/dev/null"#]
      + [executable] + arguments
    shell.standardInput = tether
    let output = log.flatMap { path -> FileHandle? in
      FileManager.default.createFile(atPath: path, contents: nil)
      return FileHandle(forWritingAtPath: path)
    }
    shell.standardOutput = output ?? FileHandle.nullDevice
    shell.standardError = output ?? FileHandle.nullDevice
    try shell.run()
  }

  func stop() {
    try? tether.fileHandleForWriting.close()
    shell.waitUntilExit()
  }
}
