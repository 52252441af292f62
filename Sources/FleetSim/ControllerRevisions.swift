// The ControllerRevisions the StatefulSet and DaemonSet controllers keep: one per pod template,
// holding the patch that restores it, so `kubectl rollout history` lists a StatefulSet's or
// DaemonSet's revisions and `rollout undo` applies one back.
import FleetCore
import Foundation

enum ControllerRevisions {
  static let hashLabel = "controller-revision-hash"

  static var type: ResourceType? {
    ResourceCatalog.find(apiVersion: "apps/v1", kind: "ControllerRevision")
  }

  static func owned(_ store: ClusterStore, namespace: String, owner: ResourceType, name: String)
    -> [Value]
  {
    guard let type else { return [] }
    return store.list(WatchFilter(type: type, namespace: namespace)).items.filter { revision in
      (revision.at("metadata", "ownerReferences")?.sequence ?? []).contains {
        $0["kind"]?.string == owner.kind && $0["name"]?.string == name
      }
    }
  }

  /// Records the workload's current template as the ControllerRevision `name` (the workload's
  /// update revision, `NAME-HASH`): new ones, and an old one rolled back to, get the number one
  /// past the newest, as the controllers renumber them; the oldest beyond
  /// `revisionHistoryLimit` go.
  static func record(
    _ store: ClusterStore, _ owner: ResourceType, workload: Value, revision name: String, now: Date
  ) {
    guard let type, !name.isEmpty else { return }
    let namespace = workload.namespace ?? "default"
    let history = owned(store, namespace: namespace, owner: owner, name: workload.name)
    let newest = history.compactMap { $0["revision"]?.int }.max() ?? 0
    let current = history.first { $0.name == name }
    if let current, current["revision"]?.int == newest { return }
    let hash = String(name.dropFirst(workload.name.count + 1))
    var revision =
      current ?? fresh(owner, workload: workload, name: name, hash: hash)
    revision.set(["revision"], .int(newest + 1))
    _ = try? store.modify(type, namespace: namespace, name: name, now: now) { _ in revision }
    let limit = Int(workload.at("spec", "revisionHistoryLimit")?.int ?? 10)
    let older = history.filter { $0.name != name }.sorted {
      ($0["revision"]?.int ?? 0) < ($1["revision"]?.int ?? 0)
    }
    for old in older.dropLast(limit) {
      _ = store.delete(type, namespace: namespace, name: old.name)
    }
  }

  /// Removes a deleted workload's revisions, as the garbage collector does.
  static func removeAll(
    _ store: ClusterStore, _ owner: ResourceType, namespace: String, name: String
  ) {
    guard let type else { return }
    for revision in owned(store, namespace: namespace, owner: owner, name: name) {
      _ = store.delete(type, namespace: namespace, name: revision.name)
    }
  }

  /// The revision as the controllers write it: `data` is the strategic merge patch that puts the
  /// template back (`$patch: replace`), which `kubectl rollout undo` sends as it is.
  private static func fresh(_ owner: ResourceType, workload: Value, name: String, hash: String)
    -> Value
  {
    var template = workload.at("spec", "template") ?? [:]
    template.set(["$patch"], "replace")
    var labels = workload.at("spec", "template", "metadata", "labels") ?? [:]
    labels.set([hashLabel], .string(hash))
    return [
      "apiVersion": "apps/v1", "kind": "ControllerRevision",
      "metadata": [
        "name": .string(name), "namespace": .string(workload.namespace ?? "default"),
        "labels": labels,
        "ownerReferences": [
          [
            "apiVersion": .string(owner.apiVersion), "kind": .string(owner.kind),
            "name": .string(workload.name), "uid": workload.at("metadata", "uid") ?? "",
            "controller": true, "blockOwnerDeletion": true,
          ]
        ],
      ],
      "data": ["spec": ["template": template]],
    ]
  }
}
