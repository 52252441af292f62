// `fleetwave rbac`: the least-privilege ServiceAccount, Roles and bindings for a release, made
// from the same accesses the preflight permission check asks about, so the two never disagree.
import Drivers
import FleetCore
import Kube

/// The deployer identity the RBAC objects are granted to.
public struct RbacSubject: Sendable, Equatable {
  public var serviceAccount: String
  public var namespace: String

  public init(serviceAccount: String, namespace: String) {
    self.serviceAccount = serviceAccount
    self.namespace = namespace
  }
}

/// What `fleetwave rbac` found: the objects to apply, or the clusters it could not read.
public struct RbacResult: Sendable {
  /// Namespace, ServiceAccount, Roles, RoleBindings, ClusterRole, ClusterRoleBinding, in the
  /// order `kubectl apply -f -` needs them.
  public var objects: [Value]
  /// `CLUSTER: why`, one per cluster whose accesses could not be derived.
  public var problems: [String]
}

/// Derives the deployer's accesses on each cluster and turns their union into RBAC objects.
///
/// One stream for the whole selection, not one per distinct render: an administrator applies
/// the same stream to every cluster, and the clusters of one release differ at most in values,
/// which rarely change the kinds rendered. Where they do, the union grants a cluster a kind it
/// does not render; `--cluster` gives the exact set for one cluster.
public struct RbacAction: Sendable {
  public let driver: KubeDriver
  public let subject: RbacSubject
  public var window: Int

  public init(driver: KubeDriver, subject: RbacSubject, window: Int = 64) {
    self.driver = driver
    self.subject = subject
    self.window = max(1, window)
  }

  public func run(_ clusters: [Cluster]) async -> RbacResult {
    let found = await clusters.inWindow(window) { cluster in await self.accesses(cluster) }
    var accesses: Set<ResourceAccess> = []
    var problems: [String] = []
    for (cluster, result) in zip(clusters, found) {
      switch result {
      case .success(let found): accesses.formUnion(found)
      case .failure(let error): problems.append("\(cluster.name): \(error.message)")
      }
    }
    guard problems.isEmpty else { return RbacResult(objects: [], problems: problems) }
    return RbacResult(
      objects: RbacManifest.objects(
        accesses.sorted(), for: subject, release: driver.release.name),
      problems: [])
  }

  /// The accesses of one cluster's render. The release namespace counts as existing: the
  /// stream creates it, because its Role cannot be applied before it exists.
  private func accesses(_ cluster: Cluster) async -> Result<[ResourceAccess], DriverError> {
    do throws(DriverError) {
      let client = try driver.client(cluster)
      let manifest = try await driver.renderedManifest(cluster)
      do throws(KubeError) {
        let driverNeeds = try await PermissionCheck.accesses(
          manifest.resources + manifest.hooks.map(\.object),
          release: driver.release.namespace, namespaceExists: true, client: client)
        // Preflight runs before each wave as the deployer and reads the quotas to check
        // headroom; without this grant it skips that check.
        let quotas = ResourceAccess(
          verb: "list", group: "", resource: "resourcequotas", namespace: driver.release.namespace)
        return .success(driverNeeds + [quotas])
      } catch {
        return .failure(DriverError(.setup, error.description))
      }
    } catch {
      return .failure(error)
    }
  }
}

enum RbacManifest {
  /// The RBAC objects granting exactly `accesses` to `subject`: a Role and RoleBinding per
  /// namespace, and a ClusterRole and ClusterRoleBinding only for cluster-scoped accesses.
  static func objects(_ accesses: [ResourceAccess], for subject: RbacSubject, release: String)
    -> [Value]
  {
    // Named after both, so two releases deployed by one ServiceAccount keep separate Roles.
    let name = "\(subject.serviceAccount)-\(release)"
    let byNamespace = Dictionary(grouping: accesses.filter { $0.namespace != nil }) {
      $0.namespace ?? ""
    }
    let clusterScoped = accesses.filter { $0.namespace == nil }
    let namespaces = Set(byNamespace.keys).union([subject.namespace]).sorted()
    let account: Value = [
      "kind": "ServiceAccount", "name": .string(subject.serviceAccount),
      "namespace": .string(subject.namespace),
    ]

    var objects: [Value] = namespaces.map { namespace in
      ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]
    }
    objects.append([
      "apiVersion": "v1", "kind": "ServiceAccount",
      "metadata": [
        "name": .string(subject.serviceAccount), "namespace": .string(subject.namespace),
      ],
    ])
    for namespace in byNamespace.keys.sorted() {
      let metadata: Value = ["name": .string(name), "namespace": .string(namespace)]
      objects.append([
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata,
        "rules": .sequence(rules(byNamespace[namespace] ?? [])),
      ])
      objects.append([
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
        "roleRef": [
          "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": .string(name),
        ],
        "subjects": [account],
      ])
    }
    if !clusterScoped.isEmpty {
      let metadata: Value = ["name": .string(name)]
      objects.append([
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": metadata,
        "rules": .sequence(rules(clusterScoped)),
      ])
      objects.append([
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": [
          "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(name),
        ],
        "subjects": [account],
      ])
    }
    return objects
  }

  /// One rule per API group and verb set, resources sorted: the shape a person would write.
  static func rules(_ accesses: [ResourceAccess]) -> [Value] {
    var verbs: [String: [String: Set<String>]] = [:]  // group → resource → verbs
    for access in accesses {
      verbs[access.group, default: [:]][access.resource, default: []].insert(access.verb)
    }
    var rules: [Value] = []
    for group in verbs.keys.sorted() {
      let resources = verbs[group] ?? [:]
      let byVerbs = Dictionary(grouping: resources.keys.sorted()) {
        (resources[$0] ?? []).sorted()
      }
      for verbList in byVerbs.keys.sorted(by: {
        $0.joined(separator: ",") < $1.joined(separator: ",")
      }) {
        rules.append([
          "apiGroups": [.string(group)],
          "resources": .sequence((byVerbs[verbList] ?? []).map { .string($0) }),
          "verbs": .sequence(verbList.map { .string($0) }),
        ])
      }
    }
    return rules
  }
}
