// RBAC as the API server evaluates it (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac):
// ClusterRoleBindings everywhere, then the RoleBindings of the request's namespace; a request is
// allowed by the first rule that covers its verb, API group, resource (or `*/subresource`),
// name, or non-resource URL. Nothing denies: no rule means 403.
import FleetCore
import Foundation

/// What a request asks to do, as the API server's RequestInfo and authorizer.Attributes say it.
struct RequestAttributes: Sendable {
  var user: UserInfo
  var verb: String
  var isResourceRequest: Bool
  /// The path, for non-resource requests (`/version`).
  var path: String
  var namespace: String
  var apiGroup: String
  var resource: String
  var subresource: String
  var name: String

  /// The attributes of a request to a virtual cluster; `path` is relative to `/clusters/NAME`.
  static func of(_ request: APIRequest, path: [String], user: UserInfo) -> RequestAttributes {
    var attributes = RequestAttributes(
      user: user, verb: request.method.lowercased(), isResourceRequest: false,
      path: "/" + path.joined(separator: "/"), namespace: "", apiGroup: "", resource: "",
      subresource: "", name: "")
    // /api/v1/... and /apis/GROUP/VERSION/...; anything shorter is discovery.
    var rest: ArraySlice<String>
    if path.first == "api", path.count >= 3 {
      rest = path.dropFirst(2)
    } else if path.first == "apis", path.count >= 4 {
      attributes.apiGroup = path[1]
      rest = path.dropFirst(3)
    } else {
      return attributes
    }
    attributes.isResourceRequest = true
    if rest.first == "namespaces", rest.count > 1 {
      attributes.namespace = rest[rest.startIndex + 1]
      if rest.count > 2 { rest = rest.dropFirst(2) }
    }
    let parts = Array(rest)
    attributes.resource = parts[0]
    if parts.count > 1 { attributes.name = parts[1] }
    if parts.count > 2 { attributes.subresource = parts[2] }
    let watch = request.query["watch"] == "true" || request.query["watch"] == "1"
    switch request.method {
    case "GET", "HEAD":
      attributes.verb = watch ? "watch" : attributes.name.isEmpty ? "list" : "get"
    case "POST": attributes.verb = "create"
    case "PUT": attributes.verb = "update"
    case "PATCH": attributes.verb = "patch"
    case "DELETE": attributes.verb = attributes.name.isEmpty ? "deletecollection" : "delete"
    default: break
    }
    // A list or watch of one object by field selector is authorized for that name.
    if attributes.verb == "list" || attributes.verb == "watch",
      let fields = request.query["fieldSelector"]
    {
      for term in fields.split(separator: ",") where term.hasPrefix("metadata.name=") {
        var name = String(term.dropFirst("metadata.name=".count))
        if name.hasPrefix("=") { name.removeFirst() }
        attributes.name = name
      }
    }
    return attributes
  }
}

extension APIError {
  /// 403 with the API server's message (responsewriters.Forbidden and errors.NewForbidden).
  static func forbidden(_ attributes: RequestAttributes, reason: String) -> APIError {
    let user = attributes.user.name
    var detail: String
    if !attributes.isResourceRequest {
      detail = "User \"\(user)\" cannot \(attributes.verb) path \"\(attributes.path)\""
    } else {
      let resource =
        attributes.subresource.isEmpty
        ? attributes.resource : attributes.resource + "/" + attributes.subresource
      detail =
        "User \"\(user)\" cannot \(attributes.verb) resource \"\(resource)\" in API group "
        + "\"\(attributes.apiGroup)\""
      detail +=
        attributes.namespace.isEmpty
        ? " at the cluster scope" : " in the namespace \"\(attributes.namespace)\""
    }
    if !reason.isEmpty { detail += ": " + reason }
    let qualified =
      attributes.apiGroup.isEmpty
      ? attributes.resource : attributes.resource + "." + attributes.apiGroup
    let message: String
    if qualified.isEmpty {
      message = "forbidden: " + detail
    } else if attributes.name.isEmpty {
      message = "\(qualified) is forbidden: \(detail)"
    } else {
      message = "\(qualified) \"\(attributes.name)\" is forbidden: \(detail)"
    }
    var details = Mapping()
    if !attributes.name.isEmpty { details["name"] = .string(attributes.name) }
    if !attributes.apiGroup.isEmpty { details["group"] = .string(attributes.apiGroup) }
    if !attributes.resource.isEmpty { details["kind"] = .string(attributes.resource) }
    return APIError(code: 403, reason: "Forbidden", message: message, details: .mapping(details))
  }
}

/// The RBAC objects of one virtual cluster plus the bootstrap policy every cluster has.
struct RBAC {
  let store: ClusterStore

  struct Decision {
    var allowed: Bool
    /// `RBAC: allowed by ...` when allowed; the roles that could not be found when not.
    var reason: String
  }

  /// One rule and where it came from, for `allowed by` reasons.
  private struct Grant {
    var source: String
    var rule: Value
  }

  func authorize(_ attributes: RequestAttributes) -> Decision {
    if attributes.user.isMaster {
      return Decision(allowed: true, reason: "")
    }
    var errors: [String] = []
    for grant in grants(attributes.user, namespace: attributes.namespace, errors: &errors)
    where Self.allows(grant.rule, attributes) {
      return Decision(allowed: true, reason: "RBAC: allowed by " + grant.source)
    }
    let reason =
      errors.isEmpty
      ? "" : "RBAC: " + (errors.count == 1 ? errors[0] : "[" + errors.joined(separator: ", ") + "]")
    return Decision(allowed: false, reason: reason)
  }

  /// The rules that apply to `user` in `namespace` (cluster-wide ones included), for
  /// SelfSubjectRulesReview; `errors` names roles bindings refer to that do not exist.
  func rules(_ user: UserInfo, namespace: String, errors: inout [String]) -> [Value] {
    grants(user, namespace: namespace, errors: &errors).map(\.rule)
  }

  private func grants(_ user: UserInfo, namespace: String, errors: inout [String]) -> [Grant] {
    var result: [Grant] = []
    for binding in clusterRoleBindings() {
      guard let subject = Self.matchingSubject(binding, user, bindingNamespace: "") else {
        continue
      }
      let roleName = binding.at("roleRef", "name")?.string ?? ""
      guard let role = clusterRole(roleName) else {
        errors.append("clusterrole.rbac.authorization.k8s.io \"\(roleName)\" not found")
        continue
      }
      let source =
        "ClusterRoleBinding \"\(binding.name)\" of ClusterRole \"\(roleName)\" to "
        + Self.describe(subject, bindingNamespace: "")
      for rule in role["rules"]?.sequence ?? [] { result.append(Grant(source: source, rule: rule)) }
    }
    guard !namespace.isEmpty, let bindings = type("RoleBinding") else { return result }
    for binding in store.list(WatchFilter(type: bindings, namespace: namespace)).items {
      guard let subject = Self.matchingSubject(binding, user, bindingNamespace: namespace) else {
        continue
      }
      let kind = binding.at("roleRef", "kind")?.string ?? ""
      let roleName = binding.at("roleRef", "name")?.string ?? ""
      let role: Value?
      if kind == "ClusterRole" {
        role = clusterRole(roleName)
        if role == nil {
          errors.append("clusterrole.rbac.authorization.k8s.io \"\(roleName)\" not found")
        }
      } else {
        role = type("Role").flatMap { store.get($0, namespace: namespace, name: roleName) }
        if role == nil { errors.append("role.rbac.authorization.k8s.io \"\(roleName)\" not found") }
      }
      guard let role else { continue }
      let source =
        "RoleBinding \"\(binding.name)/\(namespace)\" of \(kind) \"\(roleName)\" to "
        + Self.describe(subject, bindingNamespace: namespace)
      for rule in role["rules"]?.sequence ?? [] { result.append(Grant(source: source, rule: rule)) }
    }
    return result
  }

  private func type(_ kind: String) -> ResourceType? {
    ResourceCatalog.find(apiVersion: "rbac.authorization.k8s.io/v1", kind: kind)
  }

  /// Stored bindings, then the bootstrap ones no stored binding of the same name replaces.
  private func clusterRoleBindings() -> [Value] {
    guard let bindings = type("ClusterRoleBinding") else { return BootstrapPolicy.bindings }
    let stored = store.list(WatchFilter(type: bindings)).items
    let names = Set(stored.map(\.name))
    return stored + BootstrapPolicy.bindings.filter { !names.contains($0.name) }
  }

  /// A stored ClusterRole, else the bootstrap one; an aggregated role gathers the rules of the
  /// ClusterRoles its selectors match, as the aggregation controller would write them.
  private func clusterRole(_ name: String) -> Value? {
    guard let roles = type("ClusterRole") else { return BootstrapPolicy.clusterRoles[name] }
    guard
      var role = store.get(roles, namespace: nil, name: name) ?? BootstrapPolicy.clusterRoles[name]
    else { return nil }
    if let selectors = role.at("aggregationRule", "clusterRoleSelectors")?.sequence {
      var rules: [Value] = []
      for other in store.list(WatchFilter(type: roles)).items where other.name != name {
        let labels = other.labels
        let selected = selectors.contains { selector in
          (selector["matchLabels"]?.mapping ?? Mapping()).allSatisfy {
            labels[$0.key] == $0.value.string
          }
        }
        if selected { rules += other["rules"]?.sequence ?? [] }
      }
      role.set(["rules"], .sequence(rules))
    }
    return role
  }

  private static func matchingSubject(_ binding: Value, _ user: UserInfo, bindingNamespace: String)
    -> Value?
  {
    (binding["subjects"]?.sequence ?? []).first { subject in
      let name = subject["name"]?.string ?? ""
      switch subject["kind"]?.string {
      case "User": return user.name == name
      case "Group": return user.groups.contains(name)
      case "ServiceAccount":
        // A RoleBinding's ServiceAccount subject defaults to the binding's namespace.
        let namespace = subject["namespace"]?.string ?? bindingNamespace
        return !namespace.isEmpty
          && user.name == "\(UserInfo.serviceAccountPrefix)\(namespace):\(name)"
      default: return false
      }
    }
  }

  private static func describe(_ subject: Value, bindingNamespace: String) -> String {
    let kind = subject["kind"]?.string ?? ""
    let name = subject["name"]?.string ?? ""
    guard kind == "ServiceAccount" else { return "\(kind) \"\(name)\"" }
    let namespace = subject["namespace"]?.string ?? bindingNamespace
    return "\(kind) \"\(name)/\(namespace)\""
  }

  /// rbac.RuleAllows.
  static func allows(_ rule: Value, _ attributes: RequestAttributes) -> Bool {
    func strings(_ key: String) -> [String] { (rule[key]?.sequence ?? []).compactMap(\.string) }
    let verbs = strings("verbs")
    guard verbs.contains("*") || verbs.contains(attributes.verb) else { return false }
    guard attributes.isResourceRequest else {
      return strings("nonResourceURLs").contains { url in
        url == "*" || url == attributes.path
          || (url.hasSuffix("*") && attributes.path.hasPrefix(String(url.dropLast())))
      }
    }
    let groups = strings("apiGroups")
    guard groups.contains("*") || groups.contains(attributes.apiGroup) else { return false }
    let combined =
      attributes.subresource.isEmpty
      ? attributes.resource : attributes.resource + "/" + attributes.subresource
    let resourceMatches = strings("resources").contains { resource in
      resource == "*" || resource == combined
        || (!attributes.subresource.isEmpty && resource == "*/" + attributes.subresource)
    }
    guard resourceMatches else { return false }
    let names = strings("resourceNames")
    return names.isEmpty || names.contains(attributes.name)
  }
}

/// The bootstrap ClusterRoles and ClusterRoleBindings every cluster starts with
/// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), trimmed to the types fleet-sim serves.
/// They are evaluated, not stored, so a thousand virtual clusters do not each hold a copy:
/// `kubectl get clusterroles` does not list them, and a stored object of the same name wins.
enum BootstrapPolicy {
  private static func rule(
    _ verbs: [String], _ groups: [String], _ resources: [String]
  ) -> Value {
    [
      "verbs": .sequence(verbs.map { .string($0) }),
      "apiGroups": .sequence(groups.map { .string($0) }),
      "resources": .sequence(resources.map { .string($0) }),
    ]
  }

  private static func urls(_ verbs: [String], _ urls: [String]) -> Value {
    [
      "verbs": .sequence(verbs.map { .string($0) }),
      "nonResourceURLs": .sequence(urls.map { .string($0) }),
    ]
  }

  private static let read = ["get", "list", "watch"]
  private static let write = ["create", "delete", "deletecollection", "patch", "update"]

  /// What `view` may read: everything namespaced but Secrets and RBAC.
  private static let viewRules: [Value] = [
    rule(
      read, [""],
      [
        "configmaps", "endpoints", "persistentvolumeclaims", "pods", "pods/log", "pods/status",
        "replicationcontrollers", "services", "services/status", "serviceaccounts", "events",
        "resourcequotas", "resourcequotas/status", "namespaces", "namespaces/status",
      ]),
    rule(
      read, ["apps"],
      [
        "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
        "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
        "statefulsets", "statefulsets/scale", "statefulsets/status",
      ]),
    rule(read, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(read, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(read, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(
      read, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    rule(read, ["events.k8s.io"], ["events"]),
  ]

  /// What `edit` may change on top of `view`.
  private static let editRules: [Value] =
    viewRules + [
      rule(["impersonate"], [""], ["serviceaccounts"]),
      rule(
        write, [""],
        [
          "configmaps", "endpoints", "persistentvolumeclaims", "pods", "secrets", "services",
          "serviceaccounts",
        ]),
      rule(["create"], [""], ["serviceaccounts/token"]),
      rule(read, [""], ["secrets"]),
      rule(
        write, ["apps"],
        [
          "daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale",
          "statefulsets", "statefulsets/scale",
        ]),
      rule(write, ["autoscaling"], ["horizontalpodautoscalers"]),
      rule(write, ["batch"], ["cronjobs", "jobs"]),
      rule(write, ["policy"], ["poddisruptionbudgets"]),
      rule(write, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
      rule(read + write, ["coordination.k8s.io"], ["leases"]),
    ]

  private static func clusterRole(_ name: String, _ rules: [Value]) -> Value {
    [
      "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
      "metadata": ["name": .string(name)], "rules": .sequence(rules),
    ]
  }

  static let clusterRoles: [String: Value] = [
    "cluster-admin": clusterRole(
      "cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
    "admin": clusterRole(
      "admin",
      editRules + [
        rule(read + write, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
        rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
      ]),
    "edit": clusterRole("edit", editRules),
    "view": clusterRole("view", viewRules),
    "system:basic-user": clusterRole(
      "system:basic-user",
      [
        rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        rule(
          ["create"], ["authorization.k8s.io"],
          ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
      ]),
    "system:discovery": clusterRole(
      "system:discovery",
      [
        urls(
          ["get"],
          [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
            "/readyz", "/version", "/version/",
          ])
      ]),
    "system:public-info-viewer": clusterRole(
      "system:public-info-viewer",
      [urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])]),
  ]

  private static func binding(_ name: String, group: String) -> Value {
    [
      "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
      "metadata": ["name": .string(name)],
      "roleRef": [
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(name),
      ],
      "subjects": [
        ["apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": .string(group)]
      ],
    ]
  }

  static let bindings: [Value] = [
    binding("cluster-admin", group: UserInfo.masters),
    binding("system:basic-user", group: UserInfo.authenticated),
    binding("system:discovery", group: UserInfo.authenticated),
    binding("system:public-info-viewer", group: UserInfo.authenticated),
  ]
}
