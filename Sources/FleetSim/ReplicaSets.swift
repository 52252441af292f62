// A Deployment's ReplicaSets, kept as the deployment controller keeps them: one per pod template,
// named by its pod-template-hash, numbered by the `deployment.kubernetes.io/revision`
// annotation, so `kubectl rollout history` lists them and `rollout undo` patches one back.
import FleetCore
import Foundation

enum ReplicaSets {
  static let revisionKey = "deployment.kubernetes.io/revision"
  static let hashLabel = "pod-template-hash"
  /// The Deployment annotations the controller does not copy onto its ReplicaSets (and kubectl's
  /// `rollout undo` does not copy back): `annotationsToSkip` in the deployment controller.
  static let uncopied: Set<String> = [
    "kubectl.kubernetes.io/last-applied-configuration", revisionKey,
    "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
  ]

  static var type: ResourceType? { ResourceCatalog.find(apiVersion: "apps/v1", kind: "ReplicaSet") }

  /// Whether a ReplicaSet name is `DEPLOYMENT-HASH` for this Deployment (a hash has no dash, so
  /// `web-api-HASH` is not one of `web`'s).
  static func isNamed(_ replicaSet: String, for deployment: String) -> Bool {
    guard replicaSet.hasPrefix(deployment + "-") else { return false }
    let hash = replicaSet.dropFirst(deployment.count + 1)
    return !hash.isEmpty && !hash.contains("-")
  }

  /// The ReplicaSets the controller made for a Deployment.
  static func owned(_ store: ClusterStore, namespace: String, deployment: String) -> [Value] {
    guard let type else { return [] }
    return store.list(WatchFilter(type: type, namespace: namespace)).items.filter { set in
      (set.at("metadata", "ownerReferences")?.sequence ?? []).contains {
        $0["kind"]?.string == "Deployment" && $0["name"]?.string == deployment
      }
    }
  }

  static func revision(_ replicaSet: Value) -> Int64 {
    Int64(replicaSet.at("metadata", "annotations", revisionKey)?.string ?? "") ?? 0
  }

  /// The revision the ReplicaSet named `name` has once it is the Deployment's newest: its own when
  /// it already is the newest, else one past the newest (a template rolled back to comes back
  /// with a new number, as on a real cluster).
  static func revision(of name: String, among history: [Value]) -> Int64 {
    let newest = history.map(revision).max() ?? 0
    if let own = history.first(where: { $0.name == name }), revision(own) == newest, newest > 0 {
      return newest
    }
    return newest + 1
  }

  /// Writes the Deployment's ReplicaSets for where its rollout stands: the new one holding the
  /// new template's pods, the previous one the old pods still serving, the rest scaled to zero
  /// and the oldest of those dropped past `revisionHistoryLimit`. Returns each one's uid by name,
  /// for the pods' owner references.
  static func sync(
    _ store: ClusterStore, deployment: Value, census: PodCensus, now: Date
  ) -> [String: String] {
    guard let type else { return [:] }
    let namespace = deployment.namespace ?? "default"
    let history = owned(store, namespace: namespace, deployment: deployment.name)
    let hash = String(census.updateRevision.dropFirst(deployment.name.count + 1))
    let desired = deployment.at("spec", "replicas")?.int ?? 1
    var uids: [String: String] = [:]

    func write(_ name: String, replicas: Int64, ready: Int64, fresh: Value?) {
      let result = try? store.modify(type, namespace: namespace, name: name, now: now) {
        (current: Value?) throws(APIError) -> Value? in
        guard var set = current ?? fresh else { return nil }
        set.set(["spec", "replicas"], .int(replicas))
        if current != nil, name == census.updateRevision {
          set.set(
            ["metadata", "annotations", revisionKey],
            deployment.at("metadata", "annotations", revisionKey))
        }
        set.set(
          ["metadata", "annotations", "deployment.kubernetes.io/desired-replicas"],
          .string(String(desired)))
        set.set(
          ["metadata", "annotations", "deployment.kubernetes.io/max-replicas"],
          .string(String(desired + 1)))
        var status: Value = [
          "replicas": .int(replicas), "fullyLabeledReplicas": .int(replicas),
          "observedGeneration": set.at("metadata", "generation") ?? 1,
        ]
        if ready > 0 {
          status.set(["readyReplicas"], .int(ready))
          status.set(["availableReplicas"], .int(ready))
        }
        set.set(["status"], status)
        // Unchanged: no write, so watchers see no empty change. (Not a `?:`, whose `nil` would
        // be a null Value rather than "leave it".)
        if set == current { return nil }
        return set
      }
      if let uid = result?.new?.at("metadata", "uid")?.string { uids[name] = uid }
    }

    write(
      census.updateRevision, replicas: census.ready + census.pending, ready: census.ready,
      fresh: fresh(deployment, hash: hash, name: census.updateRevision))
    if census.currentRevision != census.updateRevision {
      write(census.currentRevision, replicas: census.oldReady, ready: census.oldReady, fresh: nil)
    }
    for set in history where ![census.updateRevision, census.currentRevision].contains(set.name) {
      write(set.name, replicas: 0, ready: 0, fresh: nil)
    }
    // Old ReplicaSets scaled to zero beyond the history limit go, oldest revision first.
    let limit = Int(deployment.at("spec", "revisionHistoryLimit")?.int ?? 10)
    let idle = history.filter {
      ![census.updateRevision, census.currentRevision].contains($0.name)
    }.sorted { revision($0) < revision($1) }
    for set in idle.dropLast(limit) {
      _ = store.delete(type, namespace: namespace, name: set.name)
      uids[set.name] = nil
    }
    return uids
  }

  /// Removes a deleted Deployment's ReplicaSets, as the garbage collector does.
  static func removeAll(_ store: ClusterStore, namespace: String, deployment: String) {
    guard let type else { return }
    for set in owned(store, namespace: namespace, deployment: deployment) {
      _ = store.delete(type, namespace: namespace, name: set.name)
    }
  }

  /// A new ReplicaSet for the Deployment's current template, as the controller creates it.
  private static func fresh(_ deployment: Value, hash: String, name: String) -> Value {
    var template = deployment.at("spec", "template") ?? [:]
    template.set(["metadata", "labels", hashLabel], .string(hash))
    var selector = deployment.at("spec", "selector") ?? [:]
    selector.set(["matchLabels", hashLabel], .string(hash))
    var annotations = Mapping()
    for entry in deployment.at("metadata", "annotations")?.mapping ?? Mapping()
    where !uncopied.contains(entry.key) {
      annotations[entry.key] = entry.value
    }
    annotations[revisionKey] =
      deployment.at("metadata", "annotations", revisionKey) ?? "1"
    var spec: Value = ["replicas": 0, "selector": selector, "template": template]
    if let ready = deployment.at("spec", "minReadySeconds") { spec.set(["minReadySeconds"], ready) }
    return [
      "apiVersion": "apps/v1", "kind": "ReplicaSet",
      "metadata": [
        "name": .string(name), "namespace": .string(deployment.namespace ?? "default"),
        "labels": template.at("metadata", "labels") ?? [:],
        "annotations": .mapping(annotations), "generation": 1,
        "ownerReferences": [
          [
            "apiVersion": "apps/v1", "kind": "Deployment", "name": .string(deployment.name),
            "uid": deployment.at("metadata", "uid") ?? "", "controller": true,
            "blockOwnerDeletion": true,
          ]
        ],
      ],
      "spec": spec,
    ]
  }
}
