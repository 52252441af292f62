// Real chart servers on loopback for chart-source tests: the CNCF distribution registry
// (Debian's docker-registry) for OCI charts, and a static HTTP server for a Helm repository.
import Foundation

/// A server process the test started; stopped (and waited for) by `stop()` or on deinit.
public final class LoopbackServer: @unchecked Sendable {
  public let port: Int
  private let process: BackgroundProcess

  /// Starts `executable` and waits until 127.0.0.1:`port` accepts connections.
  init(_ executable: String, _ arguments: [String], port: Int, log: String) throws {
    self.port = port
    process = try BackgroundProcess(executable, arguments, output: log)
    guard eventually(timeout: 30, { acceptsConnections(port: port) }) else {
      stop()
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      throw LoopbackServerError(message: "\(executable) did not listen on \(port): \(text)")
    }
  }

  deinit { stop() }

  public func stop() {
    // SIGKILL: nothing of the server's state outlives the test.
    process.signal(SIGKILL)
    process.wait()
  }
}

public struct LoopbackServerError: Error, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func acceptsConnections(port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = UInt16(port).bigEndian
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
    }
  }
}

/// The OCI registry: `docker-registry serve CONFIG` on 127.0.0.1, plain HTTP, storage in `directory`.
public enum OCIRegistry {
  public static let executable = "/usr/bin/docker-registry"

  /// Why the registry cannot run here, or nil when it can. In CI its absence is a failure
  /// (Scripts/bootstrap.sh installs it); elsewhere the caller skips with this message.
  public static var unavailable: String? {
    FileManager.default.isExecutableFile(atPath: executable)
      ? nil : "docker-registry is not installed: run Scripts/bootstrap.sh"
  }

  /// Whether a missing registry must fail the test rather than skip it.
  public static var required: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

  /// A registry serving from `directory`; `htpasswd` (a bcrypt htpasswd file) requires a login,
  /// `tls` (PEM files) serves HTTPS instead of plain HTTP.
  public static func start(
    in directory: String, htpasswd: String? = nil,
    tls: (certificate: String, key: String)? = nil
  ) throws -> LoopbackServer {
    let port = try freeLoopbackPort()
    var config = """
      version: 0.1
      log: {level: warn}
      storage:
        filesystem: {rootdirectory: \(directory)/storage}
        delete: {enabled: true}
      http:
        addr: 127.0.0.1:\(port)
      """
    if let tls {
      config += "\n  tls: {certificate: \(tls.certificate), key: \(tls.key)}"
    }
    if let htpasswd {
      config += "\nauth:\n  htpasswd: {realm: fleetwave-test, path: \(htpasswd)}\n"
    }
    let file = directory + "/registry.yml"
    try config.write(toFile: file, atomically: true, encoding: .utf8)
    return try LoopbackServer(
      executable, ["serve", file], port: port, log: directory + "/registry.log")
  }
}

/// `python3 -m http.server` serving `directory` on 127.0.0.1 (a Helm repository's index.yaml
/// and archives).
public enum StaticHTTPServer {
  public static func start(serving directory: String, log: String) throws -> LoopbackServer {
    let port = try freeLoopbackPort()
    return try LoopbackServer(
      "/usr/bin/env",
      [
        "python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory",
        directory,
      ],
      port: port, log: log)
  }
}
