// Preflight: a SelfSubjectAccessReview for everything the kube driver will do on a cluster,
// so a deployer that lacks one permission is named before wave 0 instead of failing mid-apply.
import Drivers
import FleetCore
import Kube

/// One thing the driver does to one resource type: verb, group, plural resource, namespace.
struct ResourceAccess: Hashable, Sendable, Comparable {
  var verb: String
  var group: String
  var resource: String
  /// Nil for cluster-scoped resources.
  var namespace: String?

  /// `horizontalpodautoscalers.autoscaling in namespace pay`, `namespaces`.
  var phrase: String {
    let qualified = group.isEmpty ? resource : "\(resource).\(group)"
    return namespace.map { "\(qualified) in namespace \($0)" } ?? qualified
  }

  static func < (a: ResourceAccess, b: ResourceAccess) -> Bool {
    (a.namespace ?? "", a.group, a.resource, a.verb) < (
      b.namespace ?? "", b.group, b.resource, b.verb
    )
  }
}

enum PermissionCheck {
  /// What the kube driver does to each rendered kind: applies it (server-side apply is a
  /// patch, and creates what is missing), reads it while waiting for readiness, and deletes
  /// it when a later revision prunes it or a hook's policy removes it.
  static let objectVerbs = ["create", "get", "patch", "delete"]

  /// Everything the driver needs for `objects` (resources and hooks, namespaces filled in)
  /// of a release in `namespace`, which exists on the cluster or not.
  static func accesses(
    _ objects: [Value], release namespace: String, namespaceExists: Bool, client: KubeClient
  ) async throws(KubeError) -> [ResourceAccess] {
    var needed: Set<ResourceAccess> = []
    for object in objects {
      let mapping = try await client.mapping(
        apiVersion: object["apiVersion"]?.string ?? "", kind: object["kind"]?.string ?? "")
      let objectNamespace =
        mapping.namespaced ? object["metadata"]?["namespace"]?.string ?? namespace : nil
      for verb in objectVerbs {
        needed.insert(
          ResourceAccess(
            verb: verb, group: mapping.group, resource: mapping.resource,
            namespace: objectNamespace))
      }
    }
    // Revision records: listed by label, written by server-side apply.
    for verb in ["list", "create", "patch"] {
      needed.insert(
        ResourceAccess(verb: verb, group: "", resource: "secrets", namespace: namespace))
    }
    // The release lock: read, created when missing, taken and renewed by compare-and-swap.
    for verb in ["get", "create", "update"] {
      needed.insert(
        ResourceAccess(
          verb: verb, group: "coordination.k8s.io", resource: "leases", namespace: namespace))
    }
    // The driver reads the release namespace before each call and creates it when missing.
    needed.insert(ResourceAccess(verb: "get", group: "", resource: "namespaces", namespace: nil))
    if !namespaceExists {
      needed.insert(
        ResourceAccess(verb: "create", group: "", resource: "namespaces", namespace: nil))
    }
    return needed.sorted()
  }

  /// One problem per access the server denies, asked one review at a time (the cluster's
  /// checks already run in parallel with other clusters').
  static func run(_ accesses: [ResourceAccess], identity: String, client: KubeClient) async
    -> [PreflightProblem]
  {
    var problems: [PreflightProblem] = []
    for access in accesses {
      var attributes = Mapping()
      attributes["verb"] = .string(access.verb)
      attributes["group"] = .string(access.group)
      attributes["resource"] = .string(access.resource)
      if let namespace = access.namespace { attributes["namespace"] = .string(namespace) }
      let review: Value = [
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "metadata": [:], "spec": ["resourceAttributes": .mapping(attributes)],
      ]
      do {
        let answer = try await client.create(review)
        if answer["status"]?["allowed"]?.bool != true {
          problems.append(
            PreflightProblem(
              .permissions, .error, "cannot \(access.verb) \(access.phrase) (as \(identity))"))
        }
      } catch {
        problems.append(
          PreflightProblem(
            .permissions, .error,
            "cannot ask whether we may \(access.verb) \(access.phrase): "
              + IdentityCheck.reachability(error)))
      }
    }
    return problems
  }
}
