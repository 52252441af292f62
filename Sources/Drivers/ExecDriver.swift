// The `exec` driver: the release's upgrade/rollback command templates, run once per cluster
// with the cluster's fields and its merged values file in the environment.
import FleetCore
import FleetYAML
import Foundation
import Kube
import ProcessGroups

#if canImport(Glibc)
  import Glibc
#endif

public final class ExecDriver: Driver, @unchecked Sendable {
  public let name = "exec"
  public let commands: ExecCommands
  public let release: Release
  /// Each cluster's output goes to `<logDirectory>/<cluster>.log`.
  public let logDirectory: String
  /// The cluster's merged values, written to `FLEETWAVE_VALUES_FILE` for the command.
  public let values: @Sendable (Cluster) throws -> Value
  /// The environment every command starts from (fleetwave's own, by default).
  public let baseEnvironment: [String: String]
  public let killGrace: TimeInterval

  public init(
    commands: ExecCommands, release: Release, logDirectory: String,
    values: @escaping @Sendable (Cluster) throws -> Value = { _ in .mapping(Mapping()) },
    baseEnvironment: [String: String] = ProcessInfo.processInfo.environment,
    killGrace: TimeInterval = 5
  ) {
    self.commands = commands
    self.release = release
    self.logDirectory = logDirectory
    self.values = values
    self.baseEnvironment = baseEnvironment
    self.killGrace = killGrace
  }

  public func logPath(for cluster: String) -> String {
    ClusterLog.path(in: logDirectory, for: cluster)
  }

  public func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    inTask { [self] in
      switch await run(commands.upgrade, step: "upgrade", call, fromRevision: fromRevision) {
      case .success: await newRevision(call, fallback: release.version ?? call.run)
      case .failure(let error): .failure(error)
      }
    } completion: {
      completion($0)
    }
  }

  public func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    guard let template = commands.rollback else {
      completion(.failure(DriverError(.setup, "release.exec.rollback is not set")))
      return
    }
    inTask { [self] in
      switch await run(template, step: "rollback", call, fromRevision: revision) {
      case .success: await newRevision(call, fallback: revision ?? "rolled-back")
      case .failure(let error): .failure(error)
      }
    } completion: {
      completion($0)
    }
  }

  public func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    guard let template = commands.revision else {
      completion(.success(nil))
      return
    }
    inTask { [self] in
      await run(template, step: "revision", call, fromRevision: nil)
    } completion: {
      completion($0)
    }
  }

  /// A call is a task on the Dispatch-backed executor: it holds a thread only while its setup
  /// code runs, and none while its command runs (`ProcessGroupCommand.outcome` suspends until
  /// the one reaper sees the child exit), so a wave of 2,000 commands needs no 2,000 threads.
  private func inTask<T: Sendable>(
    _ work: @escaping @Sendable () async -> Result<T, DriverError>,
    completion: @escaping @Sendable (Result<T, DriverError>) -> Void
  ) {
    Task(executorPreference: Blocking.executor) { completion(await work()) }
  }

  private func newRevision(_ call: DriverCall, fallback: String) async -> Result<
    String, DriverError
  > {
    guard let template = commands.revision else { return .success(fallback) }
    return await run(template, step: "revision", call, fromRevision: nil).flatMap { printed in
      guard let printed, !printed.isEmpty else {
        return .failure(DriverError(.failed, "revision command printed nothing"))
      }
      return .success(printed)
    }
  }

  /// Runs one step; succeeds with the command's trimmed stdout when `step` is "revision".
  private func run(
    _ template: String, step: String, _ call: DriverCall, fromRevision: String?
  ) async -> Result<String?, DriverError> {
    let cluster = call.cluster
    let variables = [
      "version": release.version ?? "", "release": release.name, "namespace": release.namespace,
      "run": call.run, "fromRevision": fromRevision ?? "",
    ]
    let command: String
    do {
      command = try ClusterTemplate.render(
        template, cluster: cluster, variables: variables, sink: .shell)
    } catch {
      return .failure(DriverError(.setup, "\(step) command: \(error.message)"))
    }
    // Private files go straight into the run's scratch directory (mode 0700), each made with
    // mode 0600 and removed after the command: a directory of its own per cluster cost an
    // inode more to make and to remove, the largest share of the driver's time at 10,000
    // clusters (docs/benchmarks.md).
    var privateFiles: [String] = []
    defer { for file in privateFiles { unlink(file) } }

    var environment = baseEnvironment
    for (key, value) in variables { environment["FLEETWAVE_" + envName(key)] = value }
    environment["FLEETWAVE_CLUSTER"] = cluster.name
    environment["FLEETWAVE_CONTEXT"] = cluster.context ?? ""
    environment["FLEETWAVE_SERVER"] = cluster.server ?? ""
    for (key, value) in cluster.labels { environment["FLEETWAVE_LABEL_" + envName(key)] = value }
    if step != "revision" {
      do {
        let text = YAML.emit(try values(cluster))
        let file = try PrivateDirectory.writeScratchFile("values.yaml", text)
        privateFiles.append(file)
        environment["FLEETWAVE_VALUES_FILE"] = file
      } catch {
        return .failure(DriverError(.setup, "cannot write the values file: \(error)"))
      }
    }

    let log = logPath(for: cluster.name)
    do {
      try FileManager.default.createDirectory(
        atPath: logDirectory, withIntermediateDirectories: true)
    } catch {
      return .failure(DriverError(.setup, "cannot create log directory \(logDirectory): \(error)"))
    }
    let header =
      "=== \(step) \(cluster.name) (run \(call.run)) at \(Timestamp.iso(call.clock.now()))\n"
    appendToLog(log, header)
    let logStart = fileSize(log)
    var stdoutPath: String?
    if step == "revision" {
      do {
        let file = try PrivateDirectory.writeScratchFile("stdout", "")
        privateFiles.append(file)
        stdoutPath = file
      } catch {
        return .failure(DriverError(.setup, "cannot create a private temporary file: \(error)"))
      }
    }
    let outcome = await ProcessGroupCommand(
      command: command, environment: environment, logPath: log, stdoutPath: stdoutPath,
      timeout: commands.timeout ?? call.timeout, killGrace: killGrace
    ).outcome(clock: call.clock, cancellation: call.cancellation)

    switch outcome {
    case .exited(0):
      guard let stdoutPath else { return .success(nil) }
      let printed = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
      return .success(printed.trimmingCharacters(in: .whitespacesAndNewlines))
    case .exited(let code):
      return .failure(
        DriverError(.failed, "\(step) command exited with status \(code)" + lastLine(log, logStart))
      )
    case .signaled(let signal):
      return .failure(
        DriverError(.failed, "\(step) command killed by signal \(signal)" + lastLine(log, logStart))
      )
    case .timedOut:
      let limit = DurationText.format(commands.timeout ?? call.timeout)
      appendToLog(log, "=== \(step) timed out after \(limit); process group killed\n")
      return .failure(DriverError(.timedOut, "\(step) command timed out after \(limit)"))
    case .cancelled:
      appendToLog(log, "=== \(step) cancelled; process group killed\n")
      return .failure(DriverError(.cancelled, "\(step) command cancelled"))
    case .spawnFailed(let message):
      return .failure(DriverError(.setup, message))
    }
  }

  private func envName(_ key: String) -> String {
    if key == "fromRevision" { return "FROM_REVISION" }
    return Escaping.variableSuffix(key)
  }

  private func appendToLog(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
  }

  private func fileSize(_ path: String) -> UInt64 {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0 }
    return UInt64(status.st_size)
  }

  /// The last line the command wrote, so a report says why without opening the log.
  private func lastLine(_ path: String, _ from: UInt64) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    let size = fileSize(path)
    let start = max(from, size > 4096 ? size - 4096 : 0)
    try? handle.seek(toOffset: start)
    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    let lines = text.split(whereSeparator: \.isNewline).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard let last = lines.last(where: { !$0.isEmpty }) else { return "" }
    return ": " + String(last.prefix(300))
  }
}

/// A mode-0700 directory in the run's scratch directory for one command's private files.
struct PrivateDirectory {
  let path: String

  init() throws {
    do {
      path = try RunScratch.current.get().makeDirectory("fleetwave")
    } catch {
      throw DriverError(.setup, error.description)
    }
  }

  /// Creates `name` with mode 0600 (never readable by others, even for a moment).
  func writePrivate(_ name: String, _ text: String) throws -> String {
    let file = path + "/" + name
    let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else { throw DriverError(.setup, String(cString: strerror(errno))) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw DriverError(.setup, "short write to \(file)") }
    return file
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }

  /// A new private directory, or the reason there is none as a setup error.
  static func make() throws(DriverError) -> PrivateDirectory {
    do {
      return try PrivateDirectory()
    } catch {
      throw DriverError(.setup, "cannot create a private temporary directory: \(error)")
    }
  }

  /// Creates a file with mode 0600 (never readable by others, even for a moment) directly in
  /// the run's scratch directory (mode 0700), named `NAME-XXXXXX`; the caller removes it.
  static func writeScratchFile(_ name: String, _ text: String) throws -> String {
    let base: String
    switch RunScratch.current {
    case .success(let scratch): base = scratch.path
    case .failure(let error): throw DriverError(.setup, error.description)
    }
    var template = Array("\(base)/\(name)-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
      guard let base = buffer.baseAddress else { return -1 }
      return mkstemp(base)
    }
    guard fd >= 0 else { throw DriverError(.setup, String(cString: strerror(errno))) }
    defer { close(fd) }
    let file = template.withUnsafeBufferPointer { buffer in
      buffer.baseAddress.map { String(cString: $0) } ?? ""
    }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      unlink(file)
      throw DriverError(.setup, "short write to \(file)")
    }
    return file
  }
}
