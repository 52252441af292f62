// The `helm` driver: the real helm binary per cluster - `upgrade --install` with helm's own
// rollback on failure, revisions read from `helm history`, `helm rollback` for the executor's
// rollback policy.
import FleetCore
import FleetYAML
import Foundation
import Kube
import ProcessGroups

#if canImport(Glibc)
  import Glibc
#endif

public final class HelmDriver: Driver, @unchecked Sendable {
  public let name = "helm"
  public let commandLine: HelmCommandLine
  public let chart: HelmChart
  /// Each cluster's helm output goes to `<logDirectory>/<cluster>.log`.
  public let logDirectory: String
  /// The cluster's values files in precedence order, lowest first (the fleet's layers).
  public let valuesFiles: @Sendable (Cluster) throws -> [String]
  /// The values that carry fleetwave's `--set` arguments (`rollout` passes the cluster's whole
  /// values with them applied); written to a private file passed last, nil or an empty mapping
  /// for none.
  public let setValues: @Sendable (Cluster) throws -> Value?
  /// helm's own `--timeout` for waiting on resources; nil for half the cluster's timeout, so a
  /// failed upgrade leaves helm as long again to wait for its rollback.
  public let wait: Duration?
  /// The environment helm starts with (fleetwave's own, by default).
  public let baseEnvironment: [String: String]
  public let killGrace: TimeInterval
  /// Reads the cluster after helm fails an upgrade and names the cause (docs/driver-kube.md,
  /// "Diagnosis"); nil to report helm's own error alone.
  public let diagnose: (@Sendable (Cluster) async -> Diagnosis?)?

  private let lock = NSLock()
  private var rollbackFlag: String?

  public init(
    commandLine: HelmCommandLine, chart: HelmChart, logDirectory: String,
    valuesFiles: @escaping @Sendable (Cluster) throws -> [String] = { _ in [] },
    setValues: @escaping @Sendable (Cluster) throws -> Value? = { _ in nil },
    wait: Duration? = nil,
    baseEnvironment: [String: String] = ProcessInfo.processInfo.environment,
    killGrace: TimeInterval = 5, diagnose: (@Sendable (Cluster) async -> Diagnosis?)? = nil
  ) {
    self.diagnose = diagnose
    self.commandLine = commandLine
    self.chart = chart
    self.logDirectory = logDirectory
    self.valuesFiles = valuesFiles
    self.setValues = setValues
    self.wait = wait
    self.baseEnvironment = baseEnvironment
    self.killGrace = killGrace
  }

  public func logPath(for cluster: String) -> String {
    ClusterLog.path(in: logDirectory, for: cluster)
  }

  // MARK: - Driver

  public func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    inTask(completion) { [self] () async throws(DriverError) in try await upgrade(call) }
  }

  public func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    inTask(completion) { [self] () async throws(DriverError) in
      try await rollback(call, to: revision)
    }
  }

  /// `helm uninstall --wait [--keep-history]`. A release helm has no record of, or whose
  /// every revision is already uninstalled, is `not-installed`; without --keep-history helm
  /// is still asked to purge the kept records, as `helm uninstall` of such a release does.
  public func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>
  ) {
    inTask(completion) { [self] () async throws(DriverError) -> String in
      let session = try Session(self, call)
      guard let history = try await session.history() else { return UninstallOutcome.notInstalled }
      let installed = history.revisions.contains { $0.status != "uninstalled" }
      if installed || !keepHistory {
        try await session.run(
          "uninstall",
          commandLine.uninstall(
            call.cluster, wait: waitTimeout(call.timeout), keepHistory: keepHistory))
      }
      return installed ? UninstallOutcome.uninstalled : UninstallOutcome.notInstalled
    }
  }

  public func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    inTask(completion) { [self] () async throws(DriverError) -> String? in
      let session = try Session(self, call)
      guard let history = try await session.history() else { return nil }
      try session.refuseStuck(history)
      return history.deployed.map { String($0.revision) }
    }
  }

  /// The upgrade command line for `cluster` with these values files, as the driver runs it.
  public func upgradeArguments(
    for cluster: Cluster, valuesFiles: [String], rollbackOnFailureFlag: String, timeout: Duration
  ) -> [String] {
    commandLine.upgrade(
      cluster, chart: chart, valuesFiles: valuesFiles,
      rollbackOnFailureFlag: rollbackOnFailureFlag, wait: waitTimeout(timeout))
  }

  func waitTimeout(_ callTimeout: Duration) -> Duration { wait ?? callTimeout / 2 }

  // MARK: - Steps

  private func upgrade(_ call: DriverCall) async throws(DriverError) -> String {
    let session = try Session(self, call)
    let flag = try await rollbackOnFailureFlag(session)
    var files: [String]
    do {
      files = try valuesFiles(call.cluster)
    } catch {
      throw DriverError(.setup, "cannot list the values files: \(error)")
    }
    let scratch = try PrivateDirectory.make()
    defer { scratch.remove() }
    do {
      if let sets = try setValues(call.cluster), sets.mapping?.isEmpty != true {
        files.append(try scratch.writePrivate("set-values.yaml", YAML.emit(sets)))
      }
    } catch {
      throw DriverError(.setup, "cannot write the --set values file: \(error)")
    }
    do {
      try await session.run(
        "upgrade",
        upgradeArguments(
          for: call.cluster, valuesFiles: files, rollbackOnFailureFlag: flag,
          timeout: call.timeout))
    } catch  where error.kind == .failed || error.kind == .timedOut {
      guard let diagnosis = await diagnose?(call.cluster) else { throw error }
      throw DriverError(error.kind, diagnosis.explaining(error.message))
    }
    return try await session.deployedRevision(after: "upgrade")
  }

  /// Back to `revision`; with no revision (the release did not exist before this run) the
  /// release is uninstalled, which is what "before the first install" means.
  private func rollback(_ call: DriverCall, to revision: String?) async throws(DriverError)
    -> String
  {
    let session = try Session(self, call)
    let history = try await session.history()
    if let history { try session.refuseStuck(history) }
    guard let revision else {
      if history != nil {
        try await session.run(
          "uninstall", commandLine.uninstall(call.cluster, wait: waitTimeout(call.timeout)))
      }
      return "uninstalled"
    }
    guard let target = Int(revision) else {
      throw DriverError(.setup, "'\(revision)' is not a helm revision number")
    }
    // helm's rollback on failure may already have put the target's content back.
    if let history, history.restores(target), let deployed = history.deployed {
      session.note("revision \(deployed.revision) already runs revision \(target); no rollback")
      return String(deployed.revision)
    }
    try await session.run(
      "rollback",
      commandLine.rollback(call.cluster, to: target, wait: waitTimeout(call.timeout)))
    return try await session.deployedRevision(after: "rollback")
  }

  /// The flag's name depends on helm's version: asked on the first upgrade, then cached (the
  /// first wave's clusters may each ask once, harmlessly).
  private func rollbackOnFailureFlag(_ session: Session) async throws(DriverError) -> String {
    let known = lock.withLock { rollbackFlag }
    if let known { return known }
    let printed = try await session.run("version", commandLine.version(), capture: true)
    guard let flag = HelmBinary.rollbackOnFailureFlag(versionOutput: printed) else {
      throw DriverError(
        .setup, "cannot tell helm's version from '\(printed)' (\(commandLine.helm))")
    }
    lock.withLock { rollbackFlag = flag }
    return flag
  }

  /// A call is a task, as in the exec driver: it holds a thread only while its code runs, and
  /// none while helm runs (`ProcessGroupCommand.outcome` suspends until the one reaper sees
  /// the child exit).
  private func inTask<T: Sendable>(
    _ completion: @escaping DriverCompletion<T>,
    _ work: @escaping @Sendable () async throws(DriverError) -> T
  ) {
    driverTask(completion, work)
  }

  // MARK: - One driver call

  /// The helm commands of one driver call: they share its deadline and its cancellation, and
  /// write to the cluster's log.
  private struct Session {
    let driver: HelmDriver
    let call: DriverCall
    let deadline: Date
    let log: String

    init(_ driver: HelmDriver, _ call: DriverCall) throws(DriverError) {
      self.driver = driver
      self.call = call
      deadline = call.clock.now().addingTimeInterval(DurationText.seconds(call.timeout))
      log = driver.logPath(for: call.cluster.name)
      do {
        try FileManager.default.createDirectory(
          atPath: driver.logDirectory, withIntermediateDirectories: true)
      } catch {
        throw DriverError(
          .setup, "cannot create log directory \(driver.logDirectory): \(error)")
      }
    }

    func note(_ text: String) { appendToLog(log, "=== \(text)\n") }

    /// The release's history; nil when helm knows no such release.
    func history() async throws(DriverError) -> HelmHistory? {
      do {
        let json = try await run("history", driver.commandLine.history(call.cluster), capture: true)
        return try HelmHistory.parse(json)
      } catch let error where error.message == "Error: release: not found" {
        return nil
      }
    }

    func refuseStuck(_ history: HelmHistory) throws(DriverError) {
      let commandLine = driver.commandLine
      let cluster = call.cluster
      let message = history.stuckMessage(release: commandLine.release) { way in
        let words: [String]
        switch way {
        case .rollback(let revision):
          words = commandLine.rollback(cluster, to: revision, wait: .seconds(1))
        case .uninstall:
          words = commandLine.uninstall(cluster, wait: .seconds(1))
        }
        // As a person would type it: plain `helm`, without the driver's own wait flags.
        return HelmCommandLine.display(["helm"] + words.dropFirst().prefix { $0 != "--wait" })
      }
      if let message {
        note(message)
        throw DriverError(.failed, message)
      }
    }

    func deployedRevision(after step: String) async throws(DriverError) -> String {
      guard let history = try await history() else {
        throw DriverError(.failed, "helm \(step) succeeded but the release has no history")
      }
      try refuseStuck(history)
      guard let deployed = history.deployed else {
        throw DriverError(.failed, "helm \(step) succeeded but no revision is deployed")
      }
      return String(deployed.revision)
    }

    /// Runs one helm command in its own process group, bounded by what is left of the call's
    /// timeout; returns its stdout when `capture` is set (stdout otherwise goes to the log).
    @discardableResult
    func run(_ step: String, _ arguments: [String], capture: Bool = false)
      async throws(DriverError) -> String
    {
      let cluster = call.cluster
      let now = call.clock.now()
      let remaining = deadline.timeIntervalSince(now)
      let limit = DurationText.format(call.timeout)
      guard remaining > 0 else {
        throw DriverError(.timedOut, "helm \(step) timed out after \(limit)")
      }
      let scratch: PrivateDirectory?
      if capture {
        do {
          scratch = try PrivateDirectory()
        } catch {
          throw DriverError(.setup, "cannot create a private temporary directory: \(error)")
        }
      } else {
        scratch = nil
      }
      defer { scratch?.remove() }
      let stdoutPath = scratch.map { $0.path + "/stdout" }

      appendToLog(
        log,
        "=== \(step) \(cluster.name) (run \(call.run)) at \(Timestamp.iso(now)): "
          + HelmCommandLine.display(arguments) + "\n")
      let logStart = fileSize(log)
      let outcome = await ProcessGroupCommand(
        command: HelmCommandLine.shellCommand(arguments), environment: driver.baseEnvironment,
        logPath: log, stdoutPath: stdoutPath,
        timeout: .milliseconds(Int64((remaining * 1000).rounded(.up))),
        killGrace: driver.killGrace
      ).outcome(clock: call.clock, cancellation: call.cancellation)

      switch outcome {
      case .exited(0):
        guard let stdoutPath else { return "" }
        return (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
      case .exited(let code):
        let message = errorLine(log, from: logStart) ?? "helm \(step) exited with status \(code)"
        throw DriverError(HelmDriver.failureKind(message), message)
      case .signaled(let signal):
        throw DriverError(
          .failed, errorLine(log, from: logStart) ?? "helm \(step) killed by signal \(signal)")
      case .timedOut:
        appendToLog(log, "=== \(step) timed out after \(limit); process group killed\n")
        throw DriverError(.timedOut, "helm \(step) timed out after \(limit)")
      case .cancelled:
        appendToLog(log, "=== \(step) cancelled; process group killed\n")
        throw DriverError(.cancelled, "helm \(step) cancelled")
      case .spawnFailed(let message):
        throw DriverError(.setup, message)
      }
    }
  }
}

// MARK: - The cluster's log

private func appendToLog(_ path: String, _ text: String) {
  let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
  guard fd >= 0 else { return }
  defer { close(fd) }
  let bytes = Array(text.utf8)
  _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

private func fileSize(_ path: String) -> UInt64 {
  let attributes = try? FileManager.default.attributesOfItem(atPath: path)
  return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
}

/// helm's own account of a failure: its last `Error:` line since `from` (helm prints one, after
/// any warnings), else the last line it wrote.
private func errorLine(_ path: String, from: UInt64) -> String? {
  guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
  defer { try? handle.close() }
  let size = fileSize(path)
  try? handle.seek(toOffset: max(from, size > 16384 ? size - 16384 : 0))
  let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
  let lines = text.split(whereSeparator: \.isNewline)
    .map { $0.trimmingCharacters(in: .whitespaces) }
    .filter { !$0.isEmpty }
  guard let line = lines.last(where: { $0.hasPrefix("Error: ") }) ?? lines.last else {
    return nil
  }
  return String(line.prefix(500))
}

extension HelmDriver {
  /// helm says `Error: kubernetes cluster unreachable: ...` (v3: `Kubernetes`) when it cannot
  /// reach the API server before doing anything: the executor may defer such a cluster. Any
  /// other failure, one in the middle of an upgrade included, is a failure.
  static func failureKind(_ message: String) -> DriverError.Kind {
    message.lowercased().hasPrefix("error: kubernetes cluster unreachable") ? .unreachable : .failed
  }
}
