// Exec credential plugins (client.authentication.k8s.io): run once, cached until they expire.
import FleetCore
import Foundation
import ProcessGroups

/// Runs kubeconfig exec plugins and caches what they return until its expiry, so a rollout
/// over hundreds of clusters that share one login runs the plugin once, not once per request.
public final class ExecCredentialProvider: @unchecked Sendable {
  public static let supportedVersions = [
    "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
  ]

  public struct Credential: Sendable, Equatable {
    public var token: SecretValue?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: SecretValue?
    /// Nil means valid until the process ends.
    public var expires: Date?
  }

  private let clock: any RolloutClock
  private let timeout: TimeInterval
  /// Between SIGTERM and SIGKILL for a plugin that ran out of time.
  private let killGrace: TimeInterval
  /// Refresh this long before expiry, so a request does not race the deadline.
  private let skew: TimeInterval = 10
  private let lock = NSLock()
  private var cache: [String: Credential] = [:]
  /// One lock per plugin invocation key: concurrent workers wait for one run, not start many.
  private var runLocks: [String: NSLock] = [:]

  public convenience init(clock: any RolloutClock = SystemClock(), timeout: TimeInterval = 60) {
    self.init(clock: clock, timeout: timeout, killGrace: 5)
  }

  public init(clock: any RolloutClock, timeout: TimeInterval, killGrace: TimeInterval) {
    self.clock = clock
    self.timeout = timeout
    self.killGrace = killGrace
  }

  /// The plugin's credential for `connection`, from the cache while it is still valid.
  public func credential(for connection: ClusterConnection) throws(Diagnostic) -> Credential {
    guard let plugin = connection.exec else {
      throw .error("context '\(connection.context)' has no exec plugin")
    }
    let key = cacheKey(plugin, connection: connection)
    let runLock = lockFor(key)
    runLock.lock()
    defer { runLock.unlock() }
    if let cached = cached(key) { return cached }
    let credential = try run(plugin, connection: connection)
    lock.lock()
    cache[key] = credential
    lock.unlock()
    return credential
  }

  /// Drops a cached credential, e.g. after the server answered 401 with it.
  public func invalidate(for connection: ClusterConnection) {
    guard let plugin = connection.exec else { return }
    lock.lock()
    cache[cacheKey(plugin, connection: connection)] = nil
    lock.unlock()
  }

  private func cached(_ key: String) -> Credential? {
    lock.lock()
    defer { lock.unlock() }
    guard let credential = cache[key] else { return nil }
    if let expires = credential.expires, clock.now().addingTimeInterval(skew) >= expires {
      cache[key] = nil
      return nil
    }
    return credential
  }

  private func lockFor(_ key: String) -> NSLock {
    lock.lock()
    defer { lock.unlock() }
    if let existing = runLocks[key] { return existing }
    let created = NSLock()
    runLocks[key] = created
    return created
  }

  private func cacheKey(_ plugin: ExecPluginConfig, connection: ClusterConnection) -> String {
    var parts = [plugin.apiVersion, plugin.command] + plugin.args
    parts += plugin.env.map { "\($0.name)=\($0.value)" }
    if plugin.provideClusterInfo { parts.append(connection.server) }
    return parts.joined(separator: "\u{0}")
  }

  private func describe(_ plugin: ExecPluginConfig, _ connection: ClusterConnection) -> String {
    "exec plugin '\(plugin.command)' for context '\(connection.context)'"
  }

  private func run(_ plugin: ExecPluginConfig, connection: ClusterConnection) throws(Diagnostic)
    -> Credential
  {
    let what = describe(plugin, connection)
    guard let executable = Self.locate(plugin.command) else {
      throw .error(
        "\(what) was not found" + (plugin.command.contains("/") ? "" : " on PATH")
          + (plugin.installHint.map { ": \($0)" } ?? ""))
    }
    var environment = ProcessInfo.processInfo.environment
    for (name, value) in plugin.env { environment[name] = value }
    environment["KUBERNETES_EXEC_INFO"] = execInfo(plugin, connection: connection)

    // A plugin being replaced on disk, or a file another thread's fork still holds open for
    // writing, makes exec fail with "text file busy" for a moment: try a few times.
    var attempt = 0
    var captured: CapturedOutput
    while true {
      captured = ProcessGroupCommand.capture(
        executable, plugin.args, environment: environment,
        timeout: .milliseconds(Int(timeout * 1000)), killGrace: killGrace)
      guard case .spawnFailed(let message) = captured.outcome else { break }
      attempt += 1
      guard attempt < 5 else { throw .error("\(what) could not be started: \(message)") }
      Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
    }
    switch captured.outcome {
    case .exited(0): break
    case .timedOut: throw .error("\(what) did not finish within \(Int(timeout)) s")
    case .exited(let status):
      let detail =
        captured.errorText.split(separator: "\n").last.map { ": " + $0.prefix(300) } ?? ""
      throw .error("\(what) exited with status \(status)\(detail)")
    case .signaled(let signal): throw .error("\(what) was killed by signal \(signal)")
    case .cancelled, .spawnFailed: throw .error("\(what) could not be started")
    }
    let outputBytes = [UInt8](captured.stdout)
    return try parse(outputBytes, plugin: plugin, what: what)
  }

  private func execInfo(_ plugin: ExecPluginConfig, connection: ClusterConnection) -> String {
    var spec: Value = ["interactive": false]
    if plugin.provideClusterInfo {
      var cluster: Value = ["server": .string(connection.server)]
      if connection.insecureSkipTLSVerify { cluster.setKey("insecure-skip-tls-verify", true) }
      if let name = connection.tlsServerName { cluster.setKey("tls-server-name", .string(name)) }
      if let ca = connection.caPEM {
        cluster.setKey("certificate-authority-data", .string(Data(ca).base64EncodedString()))
      }
      spec.setKey("cluster", cluster)
    }
    let info: Value = [
      "apiVersion": .string(plugin.apiVersion), "kind": "ExecCredential", "spec": spec,
    ]
    return JSONWriter.string(info)
  }

  private func parse(_ bytes: [UInt8], plugin: ExecPluginConfig, what: String) throws(Diagnostic)
    -> Credential
  {
    let document: Value
    do {
      document = try JSONReader.parse(bytes, path: "output")
    } catch {
      throw .error("\(what) printed invalid JSON: \(error.headline)")
    }
    guard document["kind"]?.string == "ExecCredential" else {
      throw .error(
        "\(what) printed kind '\(document["kind"]?.string ?? "")', expected 'ExecCredential'")
    }
    guard let version = document["apiVersion"]?.string, version == plugin.apiVersion else {
      throw .error(
        "\(what) printed apiVersion '\(document["apiVersion"]?.string ?? "")',"
          + " expected '\(plugin.apiVersion)'")
    }
    guard let status = document["status"], status.mapping != nil else {
      throw .error("\(what) printed an ExecCredential without a status")
    }
    var credential = Credential()
    credential.token = status["token"]?.string.map(SecretValue.init)
    credential.clientCertificatePEM = status["clientCertificateData"]?.string.map { Array($0.utf8) }
    credential.clientKeyPEM = status["clientKeyData"]?.string.map(SecretValue.init)
    if (credential.clientCertificatePEM == nil) != (credential.clientKeyPEM == nil) {
      throw .error("\(what) returned a client certificate without a key, or a key without one")
    }
    if credential.token == nil && credential.clientCertificatePEM == nil {
      throw .error("\(what) returned neither a token nor a client certificate")
    }
    if let expiry = status["expirationTimestamp"]?.string {
      guard let date = Timestamp.parse(expiry) else {
        throw .error("\(what) returned an unreadable expirationTimestamp '\(expiry)'")
      }
      credential.expires = date
    }
    return credential
  }

  static func locate(_ command: String) -> String? {
    if command.contains("/") {
      return FileManager.default.isExecutableFile(atPath: command) ? command : nil
    }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
      let candidate = "\(directory)/\(command)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}

extension Value {
  /// Sets a key when this value is a mapping (building small documents in code).
  mutating func setKey(_ key: String, _ value: Value) {
    guard case .mapping(var mapping) = kind else { return }
    mapping[key] = value
    kind = .mapping(mapping)
  }
}
