// Kubeconfig files as kubectl reads them: the KUBECONFIG list and its merge rules, contexts,
// and every way a user authenticates.
import FleetCore
import FleetYAML
import Foundation

/// A credential or key that must never be printed: its description is always redacted.
public struct SecretValue: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
  public let bytes: [UInt8]

  public init(_ bytes: [UInt8]) { self.bytes = bytes }
  public init(_ text: String) { self.bytes = Array(text.utf8) }

  public var text: String { String(decoding: bytes, as: UTF8.self) }
  public var description: String { "<redacted>" }
  public var debugDescription: String { "<redacted>" }
}

/// An exec credential plugin (EKS, GKE, AKS, OIDC helpers) as a kubeconfig user declares it.
public struct ExecPluginConfig: Sendable, Equatable {
  public var apiVersion: String
  public var command: String
  public var args: [String]
  public var env: [(name: String, value: String)]
  public var provideClusterInfo: Bool
  public var installHint: String?

  public init(
    apiVersion: String, command: String, args: [String] = [], env: [(name: String, value: String)] = [],
    provideClusterInfo: Bool = false, installHint: String? = nil
  ) {
    self.apiVersion = apiVersion
    self.command = command
    self.args = args
    self.env = env
    self.provideClusterInfo = provideClusterInfo
    self.installHint = installHint
  }

  public static func == (a: ExecPluginConfig, b: ExecPluginConfig) -> Bool {
    a.apiVersion == b.apiVersion && a.command == b.command && a.args == b.args
      && a.env.map(\.name) == b.env.map(\.name) && a.env.map(\.value) == b.env.map(\.value)
      && a.provideClusterInfo == b.provideClusterInfo
  }
}

public struct KubeconfigCluster: Sendable, Equatable {
  public var server: String
  public var certificateAuthorityData: [UInt8]?
  /// Absolute path (relative paths are resolved against the kubeconfig's directory).
  public var certificateAuthority: String?
  public var insecureSkipTLSVerify: Bool
  public var tlsServerName: String?
  public var proxyURL: String?
  public var mark: SourceMark?
}

public struct KubeconfigUser: Sendable, Equatable {
  public var clientCertificateData: [UInt8]?
  public var clientCertificate: String?
  public var clientKeyData: SecretValue?
  public var clientKey: String?
  public var token: SecretValue?
  public var tokenFile: String?
  public var username: String?
  public var password: SecretValue?
  public var exec: ExecPluginConfig?
  public var mark: SourceMark?

  public init() {}
}

public struct KubeconfigContext: Sendable, Equatable {
  public var cluster: String
  public var user: String?
  public var namespace: String?
  public var mark: SourceMark?
}

/// How to reach and authenticate to one cluster, with every file already read.
public struct ClusterConnection: Sendable, Equatable, CustomStringConvertible {
  public var context: String
  public var server: String
  public var namespace: String?
  public var caPEM: [UInt8]?
  public var insecureSkipTLSVerify: Bool
  public var tlsServerName: String?
  public var proxyURL: String?
  public var clientCertificatePEM: [UInt8]?
  public var clientKeyPEM: SecretValue?
  public var token: SecretValue?
  /// Re-read on use, like client-go, so rotated service-account tokens are picked up.
  public var tokenFile: String?
  public var username: String?
  public var password: SecretValue?
  public var exec: ExecPluginConfig?

  public init(context: String, server: String) {
    self.context = context
    self.server = server
    insecureSkipTLSVerify = false
  }

  /// Says which kinds of credentials are present, never their contents.
  public var description: String {
    var parts = ["context \(context)", "server \(server)"]
    if caPEM != nil { parts.append("custom CA") }
    if insecureSkipTLSVerify { parts.append("TLS verification off") }
    if clientCertificatePEM != nil { parts.append("client certificate") }
    if token != nil || tokenFile != nil { parts.append("bearer token") }
    if username != nil { parts.append("basic auth") }
    if let exec { parts.append("exec plugin \(exec.command)") }
    return parts.joined(separator: ", ")
  }
}

/// One or more kubeconfig files merged as kubectl merges them.
public struct Kubeconfig: Sendable {
  public private(set) var clusters: [String: KubeconfigCluster] = [:]
  public private(set) var users: [String: KubeconfigUser] = [:]
  public private(set) var contexts: [String: KubeconfigContext] = [:]
  public private(set) var currentContext: String?
  /// The files that were read, in order.
  public private(set) var files: [String] = []

  public init() {}

  /// Where kubectl would look: each path of $KUBECONFIG (files that do not exist are skipped,
  /// as kubectl does), else ~/.kube/config.
  public static func defaultPaths(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> [String]
  {
    if let list = environment["KUBECONFIG"], !list.isEmpty {
      return list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }
    let home = environment["HOME"] ?? NSHomeDirectory()
    return ["\(home)/.kube/config"]
  }

  /// Loads and merges `paths`. The first file to define a cluster, user or context name wins,
  /// and so does the first file to set current-context (kubectl's rules). With
  /// `explicit: true` (a --kubeconfig flag) the single file must exist.
  public static func load(paths: [String], explicit: Bool = false) throws(Diagnostic) -> Kubeconfig {
    var config = Kubeconfig()
    for path in paths {
      if !explicit, !FileManager.default.fileExists(atPath: path) { continue }
      let document = try YAML.load(path: path)
      try config.merge(document, path: path)
    }
    if config.files.isEmpty {
      throw .error("no kubeconfig found (looked at \(paths.joined(separator: ", ")))")
    }
    return config
  }

  public static func load(environment: [String: String] = ProcessInfo.processInfo.environment)
    throws(Diagnostic) -> Kubeconfig
  {
    try load(paths: defaultPaths(environment: environment))
  }

  private mutating func merge(_ document: Value, path: String) throws(Diagnostic) {
    files.append(path)
    let directory = (path as NSString).deletingLastPathComponent
    if document.isNull { return }
    guard let root = document.mapping else {
      throw .error("a kubeconfig must be a mapping, found \(document.kindName)", at: document.mark)
    }
    if currentContext == nil, let current = root["current-context"]?.string, !current.isEmpty {
      currentContext = current
    }
    for (name, entry, mark) in try Self.namedEntries(root["clusters"], field: "cluster") {
      guard clusters[name] == nil else { continue }
      clusters[name] = try Self.cluster(entry, name: name, directory: directory, mark: mark)
    }
    for (name, entry, mark) in try Self.namedEntries(root["users"], field: "user") {
      guard users[name] == nil else { continue }
      users[name] = try Self.user(entry, directory: directory, mark: mark)
    }
    for (name, entry, mark) in try Self.namedEntries(root["contexts"], field: "context") {
      guard contexts[name] == nil else { continue }
      guard let cluster = entry["cluster"]?.string else {
        throw .error("context '\(name)' names no cluster", at: mark)
      }
      contexts[name] = KubeconfigContext(
        cluster: cluster, user: entry["user"]?.string, namespace: entry["namespace"]?.string,
        mark: mark)
    }
  }

  /// `[{name: N, FIELD: {...}}]` lists, as every kubeconfig section is written.
  private static func namedEntries(_ list: Value?, field: String) throws(Diagnostic)
    -> [(String, Value, SourceMark?)]
  {
    guard let list, !list.isNull else { return [] }
    guard let items = list.sequence else {
      throw .error("expected a list of \(field)s, found \(list.kindName)", at: list.mark)
    }
    var result: [(String, Value, SourceMark?)] = []
    for item in items {
      guard let name = item["name"]?.string, !name.isEmpty else {
        throw .error("a \(field) entry needs a 'name'", at: item.mark)
      }
      let body = item[field] ?? Value(.mapping(Mapping()))
      guard body.mapping != nil || body.isNull else {
        throw .error("'\(field)' of '\(name)' must be a mapping", at: body.mark)
      }
      result.append((name, body.isNull ? Value(.mapping(Mapping())) : body, item.mark))
    }
    return result
  }

  private static func resolve(_ path: String?, in directory: String) -> String? {
    guard let path, !path.isEmpty else { return nil }
    if path.hasPrefix("/") { return path }
    if path.hasPrefix("~/") {
      return NSHomeDirectory() + path.dropFirst(1)
    }
    return directory.isEmpty ? path : "\(directory)/\(path)"
  }

  private static func base64(_ value: Value?, key: String) throws(Diagnostic) -> [UInt8]? {
    guard let value, !value.isNull else { return nil }
    guard let text = value.string,
      let data = Data(base64Encoded: text.filter { !$0.isWhitespace })
    else {
      throw .error("'\(key)' is not valid base64", at: value.mark)
    }
    return [UInt8](data)
  }

  private static func cluster(_ entry: Value, name: String, directory: String, mark: SourceMark?)
    throws(Diagnostic) -> KubeconfigCluster
  {
    guard let server = entry["server"]?.string, !server.isEmpty else {
      throw .error("cluster '\(name)' has no 'server'", at: mark)
    }
    return KubeconfigCluster(
      server: server,
      certificateAuthorityData: try base64(
        entry["certificate-authority-data"], key: "certificate-authority-data"),
      certificateAuthority: resolve(entry["certificate-authority"]?.string, in: directory),
      insecureSkipTLSVerify: entry["insecure-skip-tls-verify"]?.bool ?? false,
      tlsServerName: entry["tls-server-name"]?.string,
      proxyURL: entry["proxy-url"]?.string, mark: mark)
  }

  private static func user(_ entry: Value, directory: String, mark: SourceMark?) throws(Diagnostic)
    -> KubeconfigUser
  {
    var user = KubeconfigUser()
    user.mark = mark
    user.clientCertificateData = try base64(
      entry["client-certificate-data"], key: "client-certificate-data")
    user.clientCertificate = resolve(entry["client-certificate"]?.string, in: directory)
    user.clientKeyData = try base64(entry["client-key-data"], key: "client-key-data").map(SecretValue.init)
    user.clientKey = resolve(entry["client-key"]?.string, in: directory)
    user.token = entry["token"]?.string.map(SecretValue.init)
    user.tokenFile = resolve(entry["tokenFile"]?.string, in: directory)
    user.username = entry["username"]?.string
    user.password = entry["password"]?.string.map(SecretValue.init)
    if let exec = entry["exec"], !exec.isNull {
      guard let command = exec["command"]?.string, !command.isEmpty else {
        throw .error("exec plugin needs a 'command'", at: exec.mark)
      }
      guard let apiVersion = exec["apiVersion"]?.string else {
        throw .error("exec plugin needs an 'apiVersion'", at: exec.mark)
      }
      guard ExecCredentialProvider.supportedVersions.contains(apiVersion) else {
        throw .error(
          "exec plugin apiVersion '\(apiVersion)' is not supported; use "
            + ExecCredentialProvider.supportedVersions.joined(separator: " or "),
          at: exec["apiVersion"]?.mark)
      }
      // client-go resolves a command with a path separator against the kubeconfig's directory.
      let resolvedCommand = command.contains("/") ? resolve(command, in: directory) ?? command : command
      var env: [(String, String)] = []
      for item in exec["env"]?.sequence ?? [] {
        guard let name = item["name"]?.string else {
          throw .error("exec plugin env entries need a 'name'", at: item.mark)
        }
        env.append((name, item["value"]?.scalarText ?? ""))
      }
      user.exec = ExecPluginConfig(
        apiVersion: apiVersion, command: resolvedCommand,
        args: (exec["args"]?.sequence ?? []).compactMap(\.scalarText), env: env,
        provideClusterInfo: exec["provideClusterInfo"]?.bool ?? false,
        installHint: exec["installHint"]?.string)
    }
    return user
  }

  /// Resolves a context (the current one when nil) into a connection, reading the files it
  /// names. Errors name the context and, where possible, point into the kubeconfig.
  public func connection(context name: String? = nil) throws(Diagnostic) -> ClusterConnection {
    guard let contextName = name ?? currentContext else {
      throw .error("no context given and the kubeconfig has no current-context")
    }
    guard let context = contexts[contextName] else {
      let suggestion = Suggestion.closest(to: contextName, among: contexts.keys)
      throw .error(
        "context '\(contextName)' is not in the kubeconfig (\(files.joined(separator: ", ")))"
          + (suggestion.map { "; did you mean '\($0)'?" } ?? ""))
    }
    guard let cluster = clusters[context.cluster] else {
      throw .error(
        "context '\(contextName)' refers to cluster '\(context.cluster)', which is not defined",
        at: context.mark)
    }
    var connection = ClusterConnection(context: contextName, server: cluster.server)
    connection.namespace = context.namespace
    connection.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify
    connection.tlsServerName = cluster.tlsServerName
    connection.proxyURL = cluster.proxyURL
    // Inline data wins over a file, as in client-go.
    if let data = cluster.certificateAuthorityData {
      connection.caPEM = data
    } else if let path = cluster.certificateAuthority {
      connection.caPEM = try Self.read(path, what: "certificate-authority", mark: cluster.mark)
    }
    if let userName = context.user, !userName.isEmpty {
      guard let user = users[userName] else {
        throw .error(
          "context '\(contextName)' refers to user '\(userName)', which is not defined",
          at: context.mark)
      }
      if let data = user.clientCertificateData {
        connection.clientCertificatePEM = data
      } else if let path = user.clientCertificate {
        connection.clientCertificatePEM = try Self.read(
          path, what: "client-certificate", mark: user.mark)
      }
      if let data = user.clientKeyData {
        connection.clientKeyPEM = data
      } else if let path = user.clientKey {
        connection.clientKeyPEM = SecretValue(try Self.read(path, what: "client-key", mark: user.mark))
      }
      if (connection.clientCertificatePEM == nil) != (connection.clientKeyPEM == nil) {
        throw .error(
          "user '\(userName)' has a client certificate without a key, or a key without a certificate",
          at: user.mark)
      }
      connection.token = user.token
      connection.tokenFile = user.tokenFile
      connection.username = user.username
      connection.password = user.password
      connection.exec = user.exec
    }
    return connection
  }

  private static func read(_ path: String, what: String, mark: SourceMark?) throws(Diagnostic)
    -> [UInt8]
  {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .error("cannot read \(what) file \(path)", at: mark)
    }
    return [UInt8](data)
  }
}

extension ClusterConnection {
  /// The bearer token to send now: the token file's current contents when one is set (it may
  /// have been rotated), else the inline token.
  public func currentToken() throws(Diagnostic) -> SecretValue? {
    if let tokenFile {
      guard let data = FileManager.default.contents(atPath: tokenFile) else {
        throw .error("cannot read tokenFile \(tokenFile) for context '\(context)'")
      }
      let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      if !text.isEmpty { return SecretValue(text) }
    }
    return token
  }
}
