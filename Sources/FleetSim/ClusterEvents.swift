// Kubernetes Events the controller records (`kubectl describe` and `kubectl get events` show
// them): replica sets scaling, images failing to pull, containers crashing.
import FleetCore
import Foundation

enum ClusterEvents {
  struct Involved {
    var apiVersion: String
    var kind: String
    var name: String
    var namespace: String
    var uid: Value
  }

  /// Records an event; the same reason and message for the same object bumps `count`, as the
  /// real event recorder aggregates repeats.
  static func record(
    _ store: ClusterStore, about involved: Involved, type: String, reason: String,
    message: String, component: String, now: Date
  ) {
    guard let eventType = ResourceCatalog.find(apiVersion: "v1", kind: "Event") else { return }
    let hash = TemplateHash.fnv(involved.kind + reason + message)
    let name = "\(involved.name).\(String(hash, radix: 16))"
    let stamp = KubeTime.format(now)
    _ = try? store.modify(eventType, namespace: involved.namespace, name: name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      if var current {
        current.set(["count"], .int((current["count"]?.int ?? 1) + 1))
        current.set(["lastTimestamp"], .string(stamp))
        return current
      }
      return [
        "apiVersion": "v1", "kind": "Event",
        "metadata": ["name": .string(name), "namespace": .string(involved.namespace)],
        "involvedObject": [
          "apiVersion": .string(involved.apiVersion), "kind": .string(involved.kind),
          "name": .string(involved.name), "namespace": .string(involved.namespace),
          "uid": involved.uid,
        ],
        "reason": .string(reason), "message": .string(message), "type": .string(type),
        "source": ["component": .string(component)], "reportingComponent": .string(component),
        "reportingInstance": "", "firstTimestamp": .string(stamp), "lastTimestamp": .string(stamp),
        "count": 1,
      ]
    }
  }

  static func involved(_ object: Value, _ type: ResourceType) -> Involved {
    Involved(
      apiVersion: type.apiVersion, kind: type.kind, name: object.name,
      namespace: object.namespace ?? "default", uid: object.at("metadata", "uid") ?? "")
  }
}
