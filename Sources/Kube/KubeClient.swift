// A Kubernetes API client on the HTTP transport: discovery-based REST mapping, get, list,
// server-side apply and delete, with errors that carry the API server's Status message.
import FleetCore
import Foundation
import HTTP

/// A failed API call: which cluster, which operation, and what the server or network said.
public struct KubeError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Reason: Sendable, Equatable {
    /// The API server answered with a Status: its HTTP code, reason and message.
    case status(code: Int, reason: String, message: String)
    case transport(HTTPError)
    case unknownKind(apiVersion: String, kind: String)
    case invalidResponse(String)
    case credentials(String)
  }

  public var context: String
  public var operation: String
  public var reason: Reason

  public var code: Int? {
    if case .status(let code, _, _) = reason { return code }
    return nil
  }

  /// The API server could not be reached: the network failed (see `HTTPError.Reason`), or a
  /// proxy or load balancer in front of it answered 502, 503 or 504. An answer of the API
  /// server's own (401, 403, 404, 409, 422, ...) means it was reached.
  public var isUnreachable: Bool {
    switch reason {
    case .transport(let error): return error.reason.isUnreachable
    case .status(let code, _, _): return [502, 503, 504].contains(code)
    case .unknownKind, .invalidResponse, .credentials: return false
    }
  }

  public var description: String {
    let detail: String
    switch reason {
    case .status(let code, let reason, let message):
      detail = "\(code) \(reason): \(message)"
    case .transport(let error): detail = error.description
    case .unknownKind(let apiVersion, let kind):
      detail = "the server has no resource for kind \(kind) in \(apiVersion)"
    case .invalidResponse(let message): detail = "invalid response: \(message)"
    case .credentials(let message): detail = message
    }
    return "\(context): \(operation): \(detail)"
  }
}

/// Where a kind lives in the API: its group, version, plural resource and scope.
public struct ResourceMapping: Sendable, Equatable {
  public var group: String
  public var version: String
  public var resource: String
  public var kind: String
  public var namespaced: Bool

  var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

  func path(namespace: String?, name: String?) -> String {
    var path = groupVersionPath
    if namespaced, let namespace { path += "/namespaces/\(namespace)" }
    path += "/\(resource)"
    if let name { path += "/\(name)" }
    return path
  }
}

/// One cluster's API. Safe to share between tasks and threads. Every call is `async` and holds
/// no thread while it waits (requests run on the process's HTTP loop); BlockingCalls.swift has
/// blocking forms for commands that do one thing at a time.
public final class KubeClient: @unchecked Sendable {
  public let connection: ClusterConnection
  public var context: String { connection.context }
  private let credentials: ExecCredentialProvider
  private let timeout: Duration
  private let baseURL: String
  private let lock = NSLock()
  /// Resource lists per group version, fetched once (discovery is the costly part of a client).
  private var discovered: [String: [ResourceMapping]] = [:]
  private var transports: [String: HTTPTransport] = [:]
  private var agent = "fleetwave"

  /// The `User-Agent` of every request; a process acting for a run names the run and its
  /// instance there (never a secret), so a server's request log tells processes apart.
  public var userAgent: String {
    get { lock.withLock { agent } }
    set { lock.withLock { agent = newValue } }
  }

  public init(
    connection: ClusterConnection, credentials: ExecCredentialProvider = ExecCredentialProvider(),
    timeout: Duration = .seconds(30)
  ) {
    self.connection = connection
    self.credentials = credentials
    self.timeout = timeout
    var base = connection.server
    while base.hasSuffix("/") { base.removeLast() }
    baseURL = base
  }

  /// The server's `/version` answer (`gitVersion`, `major`, `minor`, ...).
  public func serverVersion() async throws(KubeError) -> Value {
    let operation = "get /version"
    return try decode(await send(.get, "/version", operation: operation), operation: operation)
  }

  // MARK: Objects

  /// The object, or nil when it does not exist.
  public func get(apiVersion: String, kind: String, namespace: String?, name: String)
    async throws(KubeError) -> Value?
  {
    let operation = "get \(kind) \(Self.describe(namespace, name))"
    let mapping = try await self.mapping(apiVersion: apiVersion, kind: kind)
    let response = try await send(
      .get, mapping.path(namespace: namespace, name: name), operation: operation)
    if response.status == 404 { return nil }
    return try decode(response, operation: operation)
  }

  /// Objects of a kind, optionally in one namespace and matching a label selector.
  public func list(
    apiVersion: String, kind: String, namespace: String?, labelSelector: String? = nil
  )
    async throws(KubeError) -> [Value]
  {
    let operation = "list \(kind)" + (namespace.map { " in \($0)" } ?? "")
    let mapping = try await self.mapping(apiVersion: apiVersion, kind: kind)
    var path = mapping.path(namespace: namespace, name: nil)
    if let labelSelector { path += "?labelSelector=" + Self.escape(labelSelector) }
    let response = try await send(.get, path, operation: operation)
    let list = try decode(response, operation: operation)
    return list["items"]?.sequence ?? []
  }

  /// Server-side apply with a field manager; `force` takes fields over from other managers.
  /// With `dryRun` the server answers with the object as it would store it and stores nothing
  /// (what `fleetwave diff` compares against the live object).
  @discardableResult
  public func apply(
    _ object: Value, fieldManager: String = "fleetwave", force: Bool = true, dryRun: Bool = false
  ) async throws(KubeError) -> Value {
    let kind = object["kind"]?.string ?? ""
    let name = object["metadata"]?["name"]?.string ?? ""
    let namespace = object["metadata"]?["namespace"]?.string
    let operation = "apply \(kind) \(Self.describe(namespace, name))"
    guard let apiVersion = object["apiVersion"]?.string, !kind.isEmpty, !name.isEmpty else {
      throw KubeError(
        context: context, operation: operation,
        reason: .invalidResponse("an object needs apiVersion, kind and metadata.name"))
    }
    let mapping = try await self.mapping(apiVersion: apiVersion, kind: kind)
    var path = mapping.path(
      namespace: mapping.namespaced ? namespace ?? "default" : nil, name: name)
    path += "?fieldManager=\(Self.escape(fieldManager))" + (force ? "&force=true" : "")
    if dryRun { path += "&dryRun=All" }
    let response = try await send(
      .patch, path, body: JSONWriter.bytes(object.unmarked),
      contentType: "application/apply-patch+yaml", idempotent: true, operation: operation)
    return try decode(response, operation: operation)
  }

  /// Creates an object; a 409 AlreadyExists comes back as a KubeError with code 409.
  @discardableResult
  public func create(_ object: Value) async throws(KubeError) -> Value {
    let (mapping, namespace, name, operation) = try await target(object, verb: "create")
    let response = try await send(
      .post, mapping.path(namespace: namespace, name: nil), body: JSONWriter.bytes(object.unmarked),
      contentType: "application/json", idempotent: false, operation: operation)
    _ = name
    return try decode(response, operation: operation)
  }

  /// Replaces an object; its metadata.resourceVersion makes this a compare-and-swap (409 when
  /// someone else wrote first).
  @discardableResult
  public func update(_ object: Value) async throws(KubeError) -> Value {
    let (mapping, namespace, name, operation) = try await target(object, verb: "update")
    let response = try await send(
      .put, mapping.path(namespace: namespace, name: name), body: JSONWriter.bytes(object.unmarked),
      contentType: "application/json", idempotent: false, operation: operation)
    return try decode(response, operation: operation)
  }

  /// Deletes an object in the background; false when it did not exist.
  @discardableResult
  public func delete(apiVersion: String, kind: String, namespace: String?, name: String)
    async throws(KubeError) -> Bool
  {
    let operation = "delete \(kind) \(Self.describe(namespace, name))"
    let mapping = try await self.mapping(apiVersion: apiVersion, kind: kind)
    let body = JSONWriter.bytes(
      ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"])
    let response = try await send(
      .delete, mapping.path(namespace: namespace, name: name), body: body,
      contentType: "application/json", idempotent: true, operation: operation)
    if response.status == 404 { return false }
    _ = try decode(response, operation: operation)
    return true
  }

  private func target(_ object: Value, verb: String) async throws(KubeError)
    -> (ResourceMapping, String?, String, String)
  {
    let kind = object["kind"]?.string ?? ""
    let name = object["metadata"]?["name"]?.string ?? ""
    let namespace = object["metadata"]?["namespace"]?.string
    let operation = "\(verb) \(kind) \(Self.describe(namespace, name))"
    guard let apiVersion = object["apiVersion"]?.string, !kind.isEmpty else {
      throw KubeError(
        context: context, operation: operation,
        reason: .invalidResponse("an object needs apiVersion and kind"))
    }
    let mapping = try await self.mapping(apiVersion: apiVersion, kind: kind)
    return (mapping, mapping.namespaced ? namespace ?? "default" : nil, name, operation)
  }

  // MARK: Discovery

  /// A read of a path outside the object URLs (`/version`, `/apis`), decoded; nil on 404.
  public func read(path: String) async throws(KubeError) -> Value? {
    let operation = "get \(path)"
    let response = try await send(.get, path, operation: operation)
    if response.status == 404 { return nil }
    return try decode(response, operation: operation)
  }

  /// A path that answers plain text (`pods/NAME/log`); nil on 404, the API's message on any
  /// other error.
  public func readText(path: String) async throws(KubeError) -> String? {
    let operation = "get \(path)"
    let response = try await send(.get, path, operation: operation)
    if response.status == 404 { return nil }
    guard (200..<300).contains(response.status) else {
      _ = try decode(response, operation: operation)
      return nil
    }
    return response.text
  }

  /// Where `kind` of `apiVersion` lives, from the server's resource list for that group version.
  public func mapping(apiVersion: String, kind: String) async throws(KubeError)
    -> ResourceMapping
  {
    let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
    let group = parts.count == 2 ? parts[0] : ""
    let version = parts.count == 2 ? parts[1] : parts[0]
    let cached = lock.withLock { discovered[apiVersion] }
    let mappings: [ResourceMapping]
    if let cached {
      mappings = cached
    } else {
      mappings = try await discover(group: group, version: version, apiVersion: apiVersion)
      // An empty answer is not cached: the kind may be installed (a CRD) later in the run.
      if !mappings.isEmpty { lock.withLock { discovered[apiVersion] = mappings } }
    }
    guard let mapping = mappings.first(where: { $0.kind == kind }) else {
      throw KubeError(
        context: context, operation: "find \(kind)",
        reason: .unknownKind(apiVersion: apiVersion, kind: kind))
    }
    return mapping
  }

  private func discover(group: String, version: String, apiVersion: String) async throws(KubeError)
    -> [ResourceMapping]
  {
    let operation = "discover \(apiVersion)"
    let path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
    let response = try await send(.get, path, operation: operation)
    // A group version the server does not serve has no kinds; the caller names the kind.
    if response.status == 404 { return [] }
    let list = try decode(response, operation: operation)
    return (list["resources"]?.sequence ?? []).compactMap { resource in
      guard let name = resource["name"]?.string, !name.contains("/"),
        let kind = resource["kind"]?.string
      else { return nil }
      return ResourceMapping(
        group: group, version: version, resource: name, kind: kind,
        namespaced: resource["namespaced"]?.bool ?? true)
    }
  }

  // MARK: Transport

  /// The transport for the current credentials. Tokens from exec plugins and token files can
  /// change during a rollout, so each distinct identity gets its own (pooled) transport.
  private func transport(operation: String) throws(KubeError) -> HTTPTransport {
    var clientCertificate = connection.clientCertificatePEM
    var clientKey = connection.clientKeyPEM
    var token: SecretValue?
    do {
      if connection.exec != nil {
        let credential = try credentials.credential(for: connection)
        token = credential.token
        if let certificate = credential.clientCertificatePEM, let key = credential.clientKeyPEM {
          clientCertificate = certificate
          clientKey = key
        }
      } else {
        token = try connection.currentToken()
      }
    } catch {
      throw KubeError(context: context, operation: operation, reason: .credentials(error.message))
    }
    let key = [
      token?.text ?? "", clientCertificate.map { String(decoding: $0, as: UTF8.self) } ?? "",
    ].joined(separator: "\u{0}")
    lock.lock()
    defer { lock.unlock() }
    if let existing = transports[key] { return existing }
    let tls = TLSOptions(
      ca: connection.caPEM.map { .pem($0) }, clientCertificate: clientCertificate.map { .pem($0) },
      clientKey: clientKey.map { .pem($0.bytes) },
      insecureSkipVerify: connection.insecureSkipTLSVerify,
      serverName: connection.tlsServerName)
    var proxy = ProxySettings.fromEnvironment(ProcessInfo.processInfo.environment)
    if let url = connection.proxyURL { proxy = ProxySettings(http: url, https: url) }
    let transport = HTTPTransport(
      HTTPTransport.Configuration(
        tls: tls, credentials: token.map { .bearer($0.text) } ?? .none, proxy: proxy))
    // A rotated token retires the transports of the old one.
    transports = [key: transport]
    return transport
  }

  private func send(
    _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
    idempotent: Bool? = nil, operation: String
  ) async throws(KubeError) -> HTTPResponse {
    var headers: [(name: String, value: String)] = [("Accept", "application/json")]
    if let contentType { headers.append(("Content-Type", contentType)) }
    headers.append(("User-Agent", userAgent))
    let request = HTTPRequest(
      method, baseURL + path, headers: headers, body: body, timeout: timeout,
      idempotent: idempotent)
    var response: HTTPResponse
    do {
      response = try await transport(operation: operation).send(request)
      if response.status == 401, connection.exec != nil {
        // The plugin's credential may have been revoked before its stated expiry: ask again.
        credentials.invalidate(for: connection)
        response = try await transport(operation: operation).send(request)
      }
    } catch let error as HTTPError {
      throw KubeError(context: context, operation: operation, reason: .transport(error))
    } catch let error as KubeError {
      throw error
    } catch {
      throw KubeError(context: context, operation: operation, reason: .invalidResponse("\(error)"))
    }
    return response
  }

  private func decode(_ response: HTTPResponse, operation: String) throws(KubeError) -> Value {
    let value = try? JSONReader.parse(response.body, path: "response")
    guard (200..<300).contains(response.status) else {
      // Kubernetes answers errors with a Status object; keep its words.
      let reason = value?["reason"]?.string ?? Self.reasonPhrase(response.status)
      let message = value?["message"]?.string ?? String(response.text.prefix(300))
      throw KubeError(
        context: context, operation: operation,
        reason: .status(code: response.status, reason: reason, message: message))
    }
    guard let value else {
      throw KubeError(
        context: context, operation: operation,
        reason: .invalidResponse("the body is not JSON (HTTP \(response.status))"))
    }
    return value
  }

  static func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 400: return "BadRequest"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "NotFound"
    case 409: return "Conflict"
    case 422: return "Invalid"
    case 429: return "TooManyRequests"
    case 500: return "InternalError"
    case 503: return "ServiceUnavailable"
    default: return "HTTP \(status)"
    }
  }

  static func describe(_ namespace: String?, _ name: String) -> String {
    namespace.map { "\($0)/\(name)" } ?? name
  }

  static func escape(_ text: String) -> String {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+,;/?#")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
  }
}
