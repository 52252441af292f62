// A child process that dies with the test process, even when the test process is killed.
import Foundation

/// Runs `executable` under a small shell that reads a FIFO this process holds open: when the
/// FIFO's last writer closes, because `stop()` closed it or because this process died, the
/// shell kills the child. A server started for a test therefore never outlives the test run.
public final class TetheredProcess {
  private let shell: BackgroundProcess
  private let tether: Int32

  public init(_ executable: String, _ arguments: [String], log: String? = nil) throws {
    let fifo = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tether-\(UUID().uuidString)"
    ).path
    guard mkfifo(fifo, 0o600) == 0 else {
      throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: fifo])
    }
    defer { unlink(fifo) }
    // Read and write: opening a FIFO so never waits for the other end (Linux), and this end
    // counts as its writer for as long as this process lives.
    tether = open(fifo, O_RDWR | O_CLOEXEC)
    guard tether >= 0 else {
      throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: fifo])
    }
    // SIGKILL ends the child at once; the shell exits without waiting for it.
    shell = try BackgroundProcess(
      "/bin/sh",
      ["-c", #""$0" "$@" & child=$!; read -r _; kill -9 "$child" 2>/dev/null"#, executable]
        + arguments, output: log, input: fifo)
  }

  public func stop() {
    close(tether)
    shell.wait()
  }
}
