// The APIs that answer questions about the caller rather than store objects: SelfSubjectReview
// (`kubectl auth whoami`), SelfSubjectAccessReview and SubjectAccessReview (`kubectl auth can-i`),
// SelfSubjectRulesReview (`can-i --list`), TokenReview, and the ServiceAccount `token`
// subresource (`kubectl create token`), whose tokens then authenticate as the ServiceAccount.
import FleetCore
import Foundation

extension KubeAPI {
  var rbac: RBAC { RBAC(store: store) }

  /// A POST of a review type: the request echoed back with its `status` filled in, 201.
  func review(_ request: APIRequest, _ type: ResourceType) throws(APIError) -> APIResult {
    guard request.method == "POST" else { throw APIError.methodNotAllowed(request.method) }
    var object = try body(request)
    guard object.mapping != nil else {
      throw APIError.badRequest("the object provided is not a JSON object")
    }
    object.set(["apiVersion"], .string(type.apiVersion))
    object.set(["kind"], .string(type.kind))
    object.set(["metadata", "creationTimestamp"], .null)
    let spec = object["spec"] ?? [:]
    switch type.kind {
    case "SelfSubjectReview":
      object.set(["status"], ["userInfo": user.value])
    case "SelfSubjectAccessReview":
      object.set(["status"], try access(spec, of: user, type))
    case "SubjectAccessReview":
      let subject = UserInfo(
        name: spec["user"]?.string ?? "", uid: spec["uid"]?.string ?? "",
        groups: (spec["groups"]?.sequence ?? []).compactMap(\.string))
      object.set(["status"], try access(spec, of: subject, type))
    case "SelfSubjectRulesReview":
      object.set(["status"], rules(of: user, namespace: spec["namespace"]?.string ?? ""))
    case "TokenReview":
      let token = spec["token"]?.string ?? ""
      if let reviewed = tokens.user(token, cluster: cluster, now: clock.now()) {
        object.set(
          ["status"],
          [
            "authenticated": true, "user": reviewed.value,
            "audiences": spec["audiences"] ?? [.string(TokenIssuer.audience)],
          ])
      } else {
        object.set(["status"], ["user": [:], "error": "invalid bearer token"])
      }
    default:
      throw APIError.methodNotAllowed(request.method)
    }
    return .json(201, object)
  }

  /// An access review's status: whether RBAC allows the spec's attributes for `subject`.
  private func access(_ spec: Value, of subject: UserInfo, _ type: ResourceType) throws(APIError)
    -> Value
  {
    let resource = spec["resourceAttributes"]
    let nonResource = spec["nonResourceAttributes"]
    guard (resource == nil) != (nonResource == nil) else {
      throw APIError(
        code: 422, reason: "Invalid",
        message: "\(type.kind).\(type.group) \"\" is invalid: spec.resourceAttributes: Invalid "
          + "value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be "
          + "specified")
    }
    var attributes = RequestAttributes(
      user: subject, verb: "", isResourceRequest: resource != nil, path: "", namespace: "",
      apiGroup: "", resource: "", subresource: "", name: "")
    if let resource {
      attributes.verb = resource["verb"]?.string ?? ""
      attributes.namespace = resource["namespace"]?.string ?? ""
      attributes.apiGroup = resource["group"]?.string ?? ""
      attributes.resource = resource["resource"]?.string ?? ""
      attributes.subresource = resource["subresource"]?.string ?? ""
      attributes.name = resource["name"]?.string ?? ""
    } else if let nonResource {
      attributes.verb = nonResource["verb"]?.string ?? ""
      attributes.path = nonResource["path"]?.string ?? ""
    }
    let decision = rbac.authorize(attributes)
    var status = Mapping()
    status["allowed"] = .bool(decision.allowed)
    if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
    return .mapping(status)
  }

  /// A rules review's status: every rule that applies in `namespace`, split as the API server
  /// splits them into resource and non-resource rules.
  private func rules(of subject: UserInfo, namespace: String) -> Value {
    var errors: [String] = []
    // system:masters gets cluster-admin's rules through its bootstrap binding, as from RBAC
    // on a real server (the privileged-group authorizer lists no rules of its own).
    let rules = rbac.rules(subject, namespace: namespace, errors: &errors)
    var resourceRules: [Value] = []
    var nonResourceRules: [Value] = []
    for rule in rules {
      if let resources = rule["resources"], !(resources.sequence ?? []).isEmpty {
        var entry = Mapping()
        entry["verbs"] = rule["verbs"] ?? []
        entry["apiGroups"] = rule["apiGroups"] ?? []
        entry["resources"] = resources
        if let names = rule["resourceNames"] { entry["resourceNames"] = names }
        resourceRules.append(.mapping(entry))
      }
      if let urls = rule["nonResourceURLs"], !(urls.sequence ?? []).isEmpty {
        nonResourceRules.append(["verbs": rule["verbs"] ?? [], "nonResourceURLs": urls])
      }
    }
    var status = Mapping()
    status["resourceRules"] = .sequence(resourceRules)
    status["nonResourceRules"] = .sequence(nonResourceRules)
    status["incomplete"] = .bool(!errors.isEmpty)
    if !errors.isEmpty { status["evaluationError"] = .string(errors.joined(separator: ", ")) }
    return .mapping(status)
  }

  /// POST `serviceaccounts/NAME/token`: a TokenRequest answered with a new token.
  func tokenRequest(_ request: APIRequest, namespace: String, name: String) throws(APIError)
    -> APIResult
  {
    guard request.method == "POST" else { throw APIError.methodNotAllowed(request.method) }
    guard let accounts = ResourceCatalog.find(apiVersion: "v1", kind: "ServiceAccount") else {
      throw APIError.unknownPath
    }
    guard let account = store.get(accounts, namespace: namespace, name: name) else {
      throw APIError.notFound(accounts, name)
    }
    let input = try body(request)
    let seconds = input.at("spec", "expirationSeconds")?.int ?? TokenIssuer.defaultSeconds
    // pkg/apis/authentication/validation: ValidateTokenRequest.
    if seconds < 600 || seconds > 1 << 32 {
      let problem =
        seconds < 600
        ? "may not specify a duration less than 10 minutes"
        : "may not specify a duration larger than 2^32 seconds"
      throw APIError(
        code: 422, reason: "Invalid",
        message: "TokenRequest.authentication.k8s.io \"\(name)\" is invalid: "
          + "spec.expirationSeconds: Invalid value: \(seconds): \(problem)",
        details: [
          "name": .string(name), "group": "authentication.k8s.io", "kind": "TokenRequest",
          "causes": [
            [
              "reason": "FieldValueInvalid",
              "message": .string("Invalid value: \(seconds): \(problem)"),
              "field": "spec.expirationSeconds",
            ]
          ],
        ])
    }
    var audiences = (input.at("spec", "audiences")?.sequence ?? []).compactMap(\.string)
    if audiences.isEmpty { audiences = [TokenIssuer.audience] }
    let now = clock.now()
    let uid = account.at("metadata", "uid")?.string ?? ""
    let issued = TokenBook.Issued(
      cluster: cluster.name, namespace: namespace, name: name, uid: uid,
      jti: UUID().uuidString.lowercased(), expires: now.addingTimeInterval(TimeInterval(seconds)))
    let token = TokenIssuer.token(issued, audiences: audiences, now: now)
    tokens.issue(issued, token: token)
    let response: Value = [
      "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
      "metadata": [
        "name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null,
      ],
      "spec": [
        "audiences": .sequence(audiences.map { .string($0) }), "expirationSeconds": .int(seconds),
        "boundObjectRef": input.at("spec", "boundObjectRef") ?? .null,
      ],
      "status": [
        "token": .string(token), "expirationTimestamp": .string(KubeTime.format(issued.expires)),
      ],
    ]
    return .json(201, response)
  }
}

/// Token text in the shape of the API server's ServiceAccount JWTs, so tools that read the
/// claims (expiry, subject) can. The signature is random: fleet-sim checks a token by looking it
/// up in its TokenBook, not by verifying it.
enum TokenIssuer {
  static let audience = "https://kubernetes.default.svc.cluster.local"
  static let defaultSeconds: Int64 = 3600

  static func token(_ issued: TokenBook.Issued, audiences: [String], now: Date) -> String {
    let header: Value = ["alg": "RS256", "kid": "fleet-sim"]
    let issuedAt = Int64(now.timeIntervalSince1970)
    let claims: Value = [
      "aud": .sequence(audiences.map { .string($0) }),
      "exp": .int(Int64(issued.expires.timeIntervalSince1970)), "iat": .int(issuedAt),
      "iss": .string(audience), "jti": .string(issued.jti),
      "kubernetes.io": [
        "namespace": .string(issued.namespace),
        "serviceaccount": ["name": .string(issued.name), "uid": .string(issued.uid)],
      ],
      "nbf": .int(issuedAt),
      "sub": .string("\(UserInfo.serviceAccountPrefix)\(issued.namespace):\(issued.name)"),
    ]
    var random = SystemRandomNumberGenerator()
    let signature = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
    return [JSONWriter.bytes(header), JSONWriter.bytes(claims), signature].map(base64URL)
      .joined(separator: ".")
  }

  private static func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }
}
