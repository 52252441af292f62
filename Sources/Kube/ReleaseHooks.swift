// Helm's release semantics for rendered objects: which are hooks (the `helm.sh/hook`
// annotation), when each runs, in what order, when it is deleted; and the order in which
// ordinary objects are installed and deleted. The rules follow helm's pkg/release (hook events
// and delete policies), pkg/action (hook execution) and pkg/releaseutil (kind order).
import FleetCore
import Foundation

/// A point in a release's life at which hooks run (helm's `HookEvent`).
public enum HookEvent: String, Sendable, CaseIterable {
  case preInstall = "pre-install"
  case postInstall = "post-install"
  case preUpgrade = "pre-upgrade"
  case postUpgrade = "post-upgrade"
  case preRollback = "pre-rollback"
  case postRollback = "post-rollback"
  case preDelete = "pre-delete"
  case postDelete = "post-delete"
  /// `helm test`; helm 2's `test-success` is read as the same event, as helm 3 and 4 do.
  case test
}

/// When a hook's object is deleted (helm's `HookDeletePolicy`).
public enum HookDeletePolicy: String, Sendable, CaseIterable {
  /// Delete the previous object of the same name before the hook is created again; the
  /// default when a hook names no policy, so a rerun never collides with the last one.
  case beforeHookCreation = "before-hook-creation"
  case hookSucceeded = "hook-succeeded"
  case hookFailed = "hook-failed"
}

/// One hook of a rendered release.
public struct ReleaseHook: Sendable, Equatable {
  public var object: Value
  public var events: [HookEvent]
  /// `helm.sh/hook-weight`; hooks of one event run lowest first. Helm reads a weight that is
  /// not an integer as 0, and so does this.
  public var weight: Int
  public var deletePolicies: [HookDeletePolicy]

  public var key: ObjectKey { ObjectKey(object) }
  public var name: String { object["metadata"]?["name"]?.string ?? "" }
  public var kind: String { object["kind"]?.string ?? "" }

  public var isTest: Bool { events.contains(.test) }
}

/// A rendered release split as helm splits it: hooks apart from the objects an install applies.
public struct ReleaseManifest: Sendable, Equatable {
  /// What install and upgrade apply, in helm's install order.
  public var resources: [Value]
  /// Every hook, test hooks included, in render order.
  public var hooks: [ReleaseHook]

  public init(resources: [Value], hooks: [ReleaseHook]) {
    self.resources = resources
    self.hooks = hooks
  }

  public static let hookAnnotation = "helm.sh/hook"
  public static let weightAnnotation = "helm.sh/hook-weight"
  public static let deletePolicyAnnotation = "helm.sh/hook-delete-policy"

  /// Splits rendered objects; an object whose hook annotation names no event helm knows is an
  /// error, as a typo there would otherwise install a migration Job as an ordinary object.
  public init(_ rendered: [Value]) throws(RenderError) {
    var resources: [Value] = []
    var hooks: [ReleaseHook] = []
    for object in rendered {
      let annotations = object["metadata"]?["annotations"]
      guard let hookText = annotations?[Self.hookAnnotation]?.string else {
        resources.append(object)
        continue
      }
      let key = ObjectKey(object)
      var events: [HookEvent] = []
      for word in Self.words(hookText) {
        let name = word == "test-success" ? "test" : word
        guard let event = HookEvent(rawValue: name) else {
          throw RenderError(
            "\(key): unknown \(Self.hookAnnotation) '\(word)' (known: "
              + HookEvent.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        if !events.contains(event) { events.append(event) }
      }
      var policies: [HookDeletePolicy] = []
      for word in Self.words(annotations?[Self.deletePolicyAnnotation]?.string ?? "") {
        guard let policy = HookDeletePolicy(rawValue: word) else {
          throw RenderError(
            "\(key): unknown \(Self.deletePolicyAnnotation) '\(word)' (known: "
              + HookDeletePolicy.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        if !policies.contains(policy) { policies.append(policy) }
      }
      let weightText = annotations?[Self.weightAnnotation]?.string ?? "0"
      hooks.append(
        ReleaseHook(
          object: object, events: events,
          weight: Int(weightText.trimmingCharacters(in: .whitespaces)) ?? 0,
          deletePolicies: policies.isEmpty ? [.beforeHookCreation] : policies))
    }
    self.resources = KindOrder.installing(resources)
    self.hooks = hooks
  }

  /// The hooks that run at `event`, in the order helm runs them: by weight, then by name,
  /// then by kind in install order.
  public func hooks(for event: HookEvent) -> [ReleaseHook] {
    let chosen = hooks.filter { $0.events.contains(event) }
    let byKind = KindOrder.installing(chosen.map(\.object))
    let kindRank = Dictionary(
      byKind.enumerated().map { (ObjectKey($1), $0) }, uniquingKeysWith: { first, _ in first })
    return chosen.sorted { a, b in
      if a.weight != b.weight { return a.weight < b.weight }
      if a.name != b.name { return a.name < b.name }
      return (kindRank[a.key] ?? 0) < (kindRank[b.key] ?? 0)
    }
  }

  /// Every object this manifest puts on a cluster that is not a test hook: what `diff`
  /// compares and what an uninstall may have to remove.
  public var nonTestHooks: [ReleaseHook] { hooks.filter { !$0.isTest } }

  private static func words(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
      !$0.isEmpty
    }
  }
}

/// Helm's install order by kind, so what a workload mounts exists before it starts; unknown
/// kinds (custom resources among them) go last, in render order. Deletion runs the other way.
public enum KindOrder {
  public static let install = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
    "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
    "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
    "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
  ]

  private static let rank = Dictionary(
    uniqueKeysWithValues: install.enumerated().map { ($1, $0) })

  /// `objects` in install order; equal kinds keep their render order.
  public static func installing(_ objects: [Value]) -> [Value] {
    objects.enumerated().sorted { a, b in
      let ra = rank[a.element["kind"]?.string ?? ""] ?? install.count
      let rb = rank[b.element["kind"]?.string ?? ""] ?? install.count
      return ra != rb ? ra < rb : a.offset < b.offset
    }.map(\.element)
  }

  /// `objects` in deletion order: install order reversed, so workloads go before what they
  /// mount and namespaces last.
  public static func deleting(_ objects: [Value]) -> [Value] {
    installing(objects).reversed()
  }
}
