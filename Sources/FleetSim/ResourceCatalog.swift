// The Kubernetes resource types the emulator serves, and the discovery documents describing them.
import FleetCore

/// One served resource type, as discovery describes it.
public struct ResourceType: Sendable, Hashable {
  public let group: String
  public let version: String
  public let kind: String
  public let plural: String
  public let namespaced: Bool
  public let shortNames: [String]
  /// Whether the object has a `spec` whose changes bump `metadata.generation`.
  public let hasSpec: Bool
  public let subresources: [String]

  public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
  public var singular: String { kind.lowercased() }
  /// `deployments.apps`, `configmaps`: the name the API server uses in its messages.
  public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
  /// Whether the controller loop rolls these objects out.
  public var isWorkload: Bool {
    (group == "apps" && ["Deployment", "StatefulSet", "DaemonSet"].contains(kind))
      || (group == "batch" && kind == "Job")
  }
  /// Whether writes wake a controller: workloads, CronJobs, Pods (a Pod no workload owns
  /// runs by itself, as `helm test` and hook Pods do) and Services (their endpoints).
  public var isControlled: Bool {
    isWorkload || (group == "batch" && kind == "CronJob")
      || (group.isEmpty && (kind == "Pod" || kind == "Service"))
  }
  /// Whether the type is a review: created to get an answer, never stored.
  public var isReview: Bool {
    group == "authentication.k8s.io" || group == "authorization.k8s.io"
  }
}

/// The fixed set of types every virtual cluster serves.
public enum ResourceCatalog {
  static let allCategory: Set<String> = [
    "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "HorizontalPodAutoscaler",
  ]

  static let verbs: [Value] = [
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
  ]

  private static func type(
    _ group: String, _ version: String, _ kind: String, _ plural: String, namespaced: Bool = true,
    short: [String] = [], spec: Bool = false, sub: [String] = []
  ) -> ResourceType {
    ResourceType(
      group: group, version: version, kind: kind, plural: plural, namespaced: namespaced,
      shortNames: short, hasSpec: spec, subresources: sub)
  }

  public static let all: [ResourceType] = [
    type("", "v1", "Namespace", "namespaces", namespaced: false, short: ["ns"], sub: ["status"]),
    type("", "v1", "ConfigMap", "configmaps", short: ["cm"]),
    type("", "v1", "Secret", "secrets"),
    type("", "v1", "Service", "services", short: ["svc"], spec: true, sub: ["status"]),
    type("", "v1", "ServiceAccount", "serviceaccounts", short: ["sa"], sub: ["token"]),
    type("", "v1", "Pod", "pods", short: ["po"], spec: true, sub: ["status", "log"]),
    type("", "v1", "Event", "events", short: ["ev"]),
    type("", "v1", "Endpoints", "endpoints", short: ["ep"]),
    type("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short: ["pvc"], spec: true),
    type("", "v1", "Node", "nodes", namespaced: false, short: ["no"], spec: true),
    type(
      "", "v1", "ResourceQuota", "resourcequotas", short: ["quota"], spec: true, sub: ["status"]),
    type(
      "apps", "v1", "Deployment", "deployments", short: ["deploy"], spec: true,
      sub: ["status", "scale"]),
    type(
      "apps", "v1", "StatefulSet", "statefulsets", short: ["sts"], spec: true,
      sub: ["status", "scale"]),
    type("apps", "v1", "DaemonSet", "daemonsets", short: ["ds"], spec: true, sub: ["status"]),
    type(
      "apps", "v1", "ReplicaSet", "replicasets", short: ["rs"], spec: true,
      sub: ["status", "scale"]),
    type("apps", "v1", "ControllerRevision", "controllerrevisions"),
    type("batch", "v1", "Job", "jobs", spec: true, sub: ["status"]),
    type("batch", "v1", "CronJob", "cronjobs", short: ["cj"], spec: true, sub: ["status"]),
    type("coordination.k8s.io", "v1", "Lease", "leases", spec: true),
    type("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    type("events.k8s.io", "v1", "Event", "events", short: ["ev"]),
    type(
      "networking.k8s.io", "v1", "Ingress", "ingresses", short: ["ing"], spec: true,
      sub: ["status"]),
    type(
      "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short: ["netpol"],
      spec: true),
    type(
      "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short: ["pdb"], spec: true,
      sub: ["status"]),
    // autoscaling/v2 first: discovery prefers the first version of a group.
    HorizontalPodAutoscalers.storageType, HorizontalPodAutoscalers.v1Type,
    type("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    type("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    type("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced: false),
    type(
      "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
      namespaced: false),
    CustomResources.definitionType,
    type(
      "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced: false),
    type("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced: false),
    type(
      "authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
      namespaced: false),
    type(
      "authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
      namespaced: false),
    type(
      "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
      namespaced: false),
  ]

  /// Group versions in the order discovery lists them.
  static let groupVersions: [(group: String, version: String)] = {
    var seen: [String] = []
    var result: [(String, String)] = []
    for type in all where !type.group.isEmpty && !seen.contains(type.apiVersion) {
      seen.append(type.apiVersion)
      result.append((type.group, type.version))
    }
    return result
  }()

  private static let byPath: [String: ResourceType] = {
    var map: [String: ResourceType] = [:]
    for type in all { map["\(type.apiVersion)/\(type.plural)"] = type }
    return map
  }()

  public static func find(apiVersion: String, plural: String) -> ResourceType? {
    byPath["\(apiVersion)/\(plural)"]
  }

  public static func find(apiVersion: String, kind: String) -> ResourceType? {
    all.first { $0.apiVersion == apiVersion && $0.kind == kind }
  }

  static func servesGroupVersion(_ apiVersion: String) -> Bool {
    all.contains { $0.apiVersion == apiVersion }
  }

  // MARK: discovery documents

  static func coreVersions(serverAddress: String) -> Value {
    [
      "kind": "APIVersions", "versions": ["v1"],
      "serverAddressByClientCIDRs": [
        ["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]
      ],
    ]
  }

  /// Groups in the order discovery lists them, each with its versions, the preferred first.
  private static let groups: [(name: String, versions: [String])] = {
    var result: [(name: String, versions: [String])] = []
    for (group, version) in groupVersions {
      if let index = result.firstIndex(where: { $0.name == group }) {
        result[index].versions.append(version)
      } else {
        result.append((group, [version]))
      }
    }
    return result
  }()

  /// A group's discovery entry; the first version is the preferred one.
  static func groupEntry(_ group: String, _ versions: [String]) -> Value {
    let entries: [Value] = versions.map {
      ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)]
    }
    return [
      "name": .string(group), "versions": .sequence(entries),
      "preferredVersion": entries.first ?? .null,
    ]
  }

  static func groupList() -> Value {
    [
      "kind": "APIGroupList", "apiVersion": "v1",
      "groups": .sequence(groups.map { groupEntry($0.name, $0.versions) }),
    ]
  }

  static func group(_ name: String) -> Value? {
    guard let entry = groups.first(where: { $0.name == name }) else { return nil }
    var value = groupEntry(entry.name, entry.versions)
    var extra = Mapping()
    extra["kind"] = "APIGroup"
    extra["apiVersion"] = "v1"
    value = mergedTop(value, extra)
    return value
  }

  private static func mergedTop(_ value: Value, _ extra: Mapping) -> Value {
    var mapping = extra
    for entry in value.mapping ?? Mapping() { mapping[entry.key] = entry.value }
    return .mapping(mapping)
  }

  static func resourceList(apiVersion: String) -> Value? {
    let types = all.filter { $0.apiVersion == apiVersion }
    guard !types.isEmpty else { return nil }
    var resources: [Value] = []
    for type in types {
      var entry: Value = [
        "name": .string(type.plural), "singularName": .string(type.singular),
        "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
        "verbs": type.isReview ? ["create"] : .sequence(verbs),
      ]
      if !type.shortNames.isEmpty {
        entry.set(["shortNames"], .sequence(type.shortNames.map { .string($0) }))
      }
      // `kubectl get all` expands to the resources in the "all" category.
      if allCategory.contains(type.kind) { entry.set(["categories"], ["all"]) }
      resources.append(entry)
      for sub in type.subresources {
        var kind = type.kind
        var group = type.group
        var verbs: Value = ["get", "patch", "update"]
        switch sub {
        case "scale": (kind, group) = ("Scale", "autoscaling")
        case "token": (kind, group, verbs) = ("TokenRequest", "authentication.k8s.io", ["create"])
        case "log": verbs = ["get"]
        default: break
        }
        resources.append([
          "name": .string("\(type.plural)/\(sub)"), "singularName": "",
          "namespaced": .bool(type.namespaced), "group": .string(group),
          "version": .string(sub == "scale" || sub == "token" ? "v1" : type.version),
          "kind": .string(kind), "verbs": verbs,
        ])
      }
    }
    return [
      "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(apiVersion),
      "resources": .sequence(resources),
    ]
  }
}
