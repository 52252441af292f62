// Shared by the test targets: built binaries, child processes, temporary directories, ports.
import FleetCore
import Foundation
import ProcessGroups

/// Where the package's built products live (the directory holding the test bundle).
public enum BuiltProducts {
  public static var directory: URL {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = executable.deletingLastPathComponent()
    // On Linux the test bundle is `.build/debug/NamePackageTests.xctest`, a file in the products
    // directory; on macOS it is a bundle directory nested deeper.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("fleetwave").path),
      dir.path != "/"
    {
      dir = dir.deletingLastPathComponent()
    }
    return dir
  }

  public static func path(_ name: String) -> String {
    directory.appendingPathComponent(name).path
  }

  /// The package root (the directory holding Package.swift).
  public static var packageRoot: URL {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
      dir.path != "/"
    {
      dir = dir.deletingLastPathComponent()
    }
    return dir
  }

  /// The real helm binary: $FLEETWAVE_HELM, else `.tools/helm/helm` under the package root.
  public static var helm: String? {
    if let path = ProcessInfo.processInfo.environment["FLEETWAVE_HELM"],
      FileManager.default.isExecutableFile(atPath: path)
    {
      return path
    }
    let cached = packageRoot.appendingPathComponent(".tools/helm/helm").path
    return FileManager.default.isExecutableFile(atPath: cached) ? cached : nil
  }
}

/// The environment for a child the test starts: this process's, with `extra` on top, and
/// without GitHub Actions' variables unless `extra` sets them. Tests run inside Actions too, and
/// a fleetwave they start must not print workflow commands or append to the job's step summary.
public func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
  var environment = ProcessInfo.processInfo.environment
  environment["GITHUB_ACTIONS"] = nil
  environment["GITHUB_STEP_SUMMARY"] = nil
  return environment.merging(extra) { $1 }
}

/// The outcome of a finished child process.
public struct ProcessResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public var timedOut: Bool
}

/// Runs a program to completion, capturing its output; kills it after `timeout` seconds.
///
/// The child leads its own process group, which is killed once it exits: a test that wants
/// something to outlive its command starts it with `setsid`.
@discardableResult
public func runProcess(
  _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
  currentDirectory: String? = nil, input: String? = nil, timeout: TimeInterval = 120
) throws -> ProcessResult {
  let captured = ProcessGroupCommand.capture(
    executable, arguments, environment: childEnvironment(environment ?? [:]),
    stdin: input.map { Data($0.utf8) }, workingDirectory: currentDirectory,
    timeout: .milliseconds(Int(timeout * 1000)), killGrace: 10)
  let status: Int32
  switch captured.outcome {
  case .exited(let code): status = code
  case .signaled(let signal): status = signal
  case .timedOut, .cancelled: status = -1
  case .spawnFailed(let message): throw SpawnFailed(description: message)
  }
  return ProcessResult(
    status: status, stdout: String(decoding: captured.stdout, as: UTF8.self),
    stderr: String(decoding: captured.stderr, as: UTF8.self),
    timedOut: captured.outcome == .timedOut)
}

/// A program `runProcess` could not start.
public struct SpawnFailed: Error, CustomStringConvertible {
  public var description: String
}

/// Runs the built `fleetwave` with arguments, as a user would.
@discardableResult
public func fleetwave(
  _ arguments: [String], environment: [String: String]? = nil, currentDirectory: String? = nil,
  timeout: TimeInterval = 120
) throws -> ProcessResult {
  try runProcess(
    BuiltProducts.path("fleetwave"), arguments, environment: environment,
    currentDirectory: currentDirectory, timeout: timeout)
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
  public let path: String

  public init(_ prefix: String = "fleetwave-test") throws {
    let base = FileManager.default.temporaryDirectory.path
    let dir = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    path = dir
  }

  public func file(_ relative: String) -> String { "\(path)/\(relative)" }

  /// Writes `text` to `relative`, creating parent directories; returns the full path.
  @discardableResult
  public func write(_ relative: String, _ text: String) throws -> String {
    let full = file(relative)
    let parent = (full as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    try text.write(toFile: full, atomically: true, encoding: .utf8)
    return full
  }

  public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot bind port 0).
public func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw POSIXError(.EMFILE) }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = 0
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
  }
  guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
  let named = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  guard named == 0 else { throw POSIXError(.EADDRINUSE) }
  return Int(UInt16(bigEndian: address.sin_port))
}

/// Polls `condition` until it holds or `timeout` seconds pass; for external processes becoming
/// ready, never for asserting timing.
public func eventually(timeout: TimeInterval = 30, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while Date() < deadline {
    if condition() { return true }
    Thread.sleep(forTimeInterval: 0.05)
  }
  return condition()
}
