// `fleet-sim serve --request-log FILE`: one JSON line per mutating request, for checks made
// after a run (the HA chaos test reads it to see which fleetwave process wrote when).
import FleetCore
import Foundation

/// Appends `{"time", "method", "path", "userAgent", "status"}` lines for POST, PUT, PATCH and
/// DELETE requests. Reads are left out: they are most of the traffic and change nothing.
/// Bodies and headers other than `User-Agent` are never written (they may carry secrets).
final class RequestLog: @unchecked Sendable {
  private let handle: FileHandle
  private let lock = NSLock()
  private let clock: any RolloutClock

  init(path: String, clock: any RolloutClock) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil),
      let handle = FileHandle(forWritingAtPath: path)
    else {
      throw FleetSimServer.StartFailure(description: "cannot create the request log \(path)")
    }
    self.handle = handle
    self.clock = clock
  }

  static let mutating: Set<String> = ["POST", "PUT", "PATCH", "DELETE"]

  func record(method: String, path: String, userAgent: String?, status: Int) {
    guard Self.mutating.contains(method) else { return }
    let line: Value = [
      "time": .string(Timestamp.iso(clock.now())), "method": .string(method),
      "path": .string(path), "userAgent": .string(userAgent ?? ""), "status": .int(Int64(status)),
    ]
    let bytes = Data((JSONWriter.string(line) + "\n").utf8)
    lock.withLock { handle.write(bytes) }
  }

  deinit { try? handle.close() }
}
