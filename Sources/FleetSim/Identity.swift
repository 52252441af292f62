// Who a request is: the user its credentials name (client certificate, the admin token, or a
// ServiceAccount token fleet-sim issued), then whoever it impersonates, as the API server's
// authentication and impersonation filters decide.
import FleetCore
import Foundation

/// The authenticated user (the API server's `user.Info`).
public struct UserInfo: Sendable, Equatable {
  public var name: String
  public var uid: String
  public var groups: [String]
  public var extra: [String: [String]]

  public init(name: String, uid: String = "", groups: [String], extra: [String: [String]] = [:]) {
    self.name = name
    self.uid = uid
    self.groups = groups
    self.extra = extra
  }

  static let authenticated = "system:authenticated"
  static let masters = "system:masters"
  static let serviceAccountPrefix = "system:serviceaccount:"

  /// The generated kubeconfig's user, by certificate or by token. Plain HTTP requests without
  /// credentials are this user too: the plain listener is for debugging, as the old insecure
  /// port was.
  static let admin = UserInfo(name: "fleet-sim-admin", groups: [masters, authenticated])

  /// `system:masters` passes every authorization check, as the API server's privileged-group
  /// authorizer lets it.
  var isMaster: Bool { groups.contains(Self.masters) }

  /// `system:serviceaccount:NS:NAME` in its two ServiceAccount groups.
  static func serviceAccount(
    namespace: String, name: String, uid: String, extra: [String: [String]] = [:]
  ) -> UserInfo {
    UserInfo(
      name: serviceAccountPrefix + namespace + ":" + name, uid: uid,
      groups: serviceAccountGroups(namespace) + [authenticated], extra: extra)
  }

  static func serviceAccountGroups(_ namespace: String) -> [String] {
    ["system:serviceaccounts", "system:serviceaccounts:" + namespace]
  }

  /// `(namespace, name)` when `user` names a ServiceAccount.
  static func serviceAccountParts(_ user: String) -> (namespace: String, name: String)? {
    guard user.hasPrefix(serviceAccountPrefix) else { return nil }
    let parts = user.dropFirst(serviceAccountPrefix.count).split(
      separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
    return (String(parts[0]), String(parts[1]))
  }

  /// The `userInfo` of review statuses.
  var value: Value {
    var mapping = Mapping()
    mapping["username"] = .string(name)
    if !uid.isEmpty { mapping["uid"] = .string(uid) }
    mapping["groups"] = .sequence(groups.map { .string($0) })
    if !extra.isEmpty {
      var extras = Mapping()
      for (key, values) in extra.sorted(by: { $0.key < $1.key }) {
        extras[key] = .sequence(values.map { .string($0) })
      }
      mapping["extra"] = .mapping(extras)
    }
    return .mapping(mapping)
  }
}

/// The subject of a verified client certificate: the user is the CN, the groups are the Os.
public struct CertificateSubject: Sendable, Equatable {
  public var commonName: String
  public var organizations: [String]

  var user: UserInfo {
    UserInfo(name: commonName, groups: organizations + [UserInfo.authenticated])
  }
}

/// ServiceAccount tokens issued through TokenRequest, by token text. A token is good for the
/// virtual cluster that issued it while it has not expired and its ServiceAccount (same uid)
/// still exists, as bound tokens are checked.
public final class TokenBook: @unchecked Sendable {
  struct Issued: Sendable {
    var cluster: String
    var namespace: String
    var name: String
    var uid: String
    var jti: String
    var expires: Date
  }

  private let lock = NSLock()
  private var tokens: [String: Issued] = [:]

  func issue(_ issued: Issued, token: String) {
    lock.lock()
    tokens[token] = issued
    lock.unlock()
  }

  /// The user `token` stands for in `cluster`, or nil when it is unknown, expired or orphaned.
  func user(_ token: String, cluster: VirtualCluster, now: Date) -> UserInfo? {
    lock.lock()
    let found = tokens[token]
    if let found, found.expires <= now { tokens[token] = nil }
    lock.unlock()
    guard let found, found.cluster == cluster.name, found.expires > now,
      let accounts = ResourceCatalog.find(apiVersion: "v1", kind: "ServiceAccount"),
      let account = cluster.store.get(accounts, namespace: found.namespace, name: found.name),
      account.at("metadata", "uid")?.string == found.uid
    else { return nil }
    return .serviceAccount(
      namespace: found.namespace, name: found.name, uid: found.uid,
      extra: ["authentication.kubernetes.io/credential-id": ["JTI=\(found.jti)"]])
  }
}

enum Authentication {
  /// The user a request's credentials name, nil when they name nobody (401). `adminToken` is
  /// the bearer token of the generated kubeconfig; without `requireCredentials` (plain HTTP) a
  /// request without credentials is the admin. As in the API server, a verified client
  /// certificate is tried before a bearer token.
  static func user(
    _ request: APIRequest, subject: CertificateSubject?, adminToken: String?,
    requireCredentials: Bool, cluster: VirtualCluster?, tokens: TokenBook, now: Date
  ) -> UserInfo? {
    if let subject { return subject.user }
    guard let header = request.header("Authorization") else {
      return requireCredentials ? nil : .admin
    }
    guard header.hasPrefix("Bearer ") else { return nil }
    let token = String(header.dropFirst("Bearer ".count))
    if let adminToken, token == adminToken { return .admin }
    guard let cluster else { return nil }
    return tokens.user(token, cluster: cluster, now: now)
  }

  /// The impersonated user when the request carries `Impersonate-*` headers (`kubectl --as`,
  /// `--as-group`, `--as-uid`), after checking the `impersonate` verb for each of them in the
  /// order the API server checks: user, groups, extras, uid.
  static func impersonate(_ request: APIRequest, _ user: UserInfo, _ rbac: RBAC)
    throws(APIError) -> UserInfo
  {
    let name = request.header("Impersonate-User")
    let groups = request.headers.filter { $0.0.lowercased() == "impersonate-group" }.map(\.1)
    let uid = request.header("Impersonate-Uid")
    var extra: [String: [String]] = [:]
    let extraPrefix = "impersonate-extra-"
    for (header, value) in request.headers where header.lowercased().hasPrefix(extraPrefix) {
      let key = String(header.dropFirst(extraPrefix.count)).lowercased()
      extra[key.removingPercentEncoding ?? key, default: []].append(value)
    }
    guard let name else {
      guard groups.isEmpty, extra.isEmpty, uid == nil else {
        // The filter answers 500 with its list of requests, Go's %v of the ObjectReferences
        // (Kind, Namespace, Name, UID, APIVersion, ResourceVersion, FieldPath).
        let requested = groups.map { "{Group  \($0)    }" }
        let message =
          "requested [\(requested.joined(separator: " "))] without impersonating a user"
        throw APIError(
          code: 500, reason: "InternalError", message: "Internal error occurred: " + message,
          details: ["causes": [["message": .string(message)]]])
      }
      return user
    }
    func check(
      _ resource: String, _ target: String, namespace: String = "", subresource: String = ""
    )
      throws(APIError)
    {
      let attributes = RequestAttributes(
        user: user, verb: "impersonate", isResourceRequest: true, path: "", namespace: namespace,
        apiGroup: resource == "userextras" || resource == "uids" ? "authentication.k8s.io" : "",
        resource: resource, subresource: subresource, name: target)
      let decision = rbac.authorize(attributes)
      guard decision.allowed else { throw APIError.forbidden(attributes, reason: decision.reason) }
    }
    var impersonated = UserInfo(name: name, groups: groups)
    if let account = UserInfo.serviceAccountParts(name) {
      try check("serviceaccounts", account.name, namespace: account.namespace)
      if groups.isEmpty { impersonated.groups = UserInfo.serviceAccountGroups(account.namespace) }
    } else {
      try check("users", name)
    }
    for group in groups { try check("groups", group) }
    for (key, values) in extra.sorted(by: { $0.key < $1.key }) {
      for value in values { try check("userextras", value, subresource: key) }
    }
    if let uid {
      try check("uids", uid)
      impersonated.uid = uid
    }
    impersonated.extra = extra
    // Every impersonated user but the anonymous one is authenticated, unless the groups say
    // otherwise.
    if name != "system:anonymous",
      !impersonated.groups.contains(where: {
        $0 == UserInfo.authenticated || $0 == "system:unauthenticated"
      })
    {
      impersonated.groups.append(UserInfo.authenticated)
    }
    return impersonated
  }
}
