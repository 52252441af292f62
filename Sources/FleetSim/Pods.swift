// The pods a workload has at a point of its rollout, and keeping the store's pods in line with
// them, so `kubectl get pods` shows what the controller simulates (ImagePullBackOff included).
import FleetCore
import Foundation

/// Where a workload's rollout stands, as the pods see it.
struct PodCensus {
  /// New-template pods that are ready.
  var ready: Int64
  /// New-template pods started but not ready (at most one at a time).
  var pending: Int64
  /// Old-template pods still serving.
  var oldReady: Int64
  var updateRevision: String
  var currentRevision: String
  var fault: ImageFault?
  /// A Deployment's ReplicaSets by name, with their uids: its pods are theirs.
  var replicaSets: [String: String] = [:]
}

enum Pods {
  static let nodeName = "sim-node-1"

  /// The pods that should exist for a workload.
  static func desired(_ type: ResourceType, _ workload: Value, _ census: PodCensus, now: Date)
    -> [Value]
  {
    let name = workload.name
    var pods: [Value] = []
    func suffix(_ seed: String) -> String { String(TemplateHash.of(.string(seed)).prefix(5)) }
    let waiting: String? = {
      switch census.fault?.effect {
      case .neverReady?: return "ImagePullBackOff"
      case .crashLoop?: return "CrashLoopBackOff"
      case .unschedulable?: return Self.notScheduled
      case .probeFailing?: return Self.notReady
      default: return nil
      }
    }()
    let hash = String(census.updateRevision.dropFirst(name.count + 1))
    // A Deployment's pods belong to its ReplicaSets; a DaemonSet's to itself.
    func replicaSet(_ name: String) -> Value? {
      guard type.kind == "Deployment" else { return nil }
      return [
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": .string(name),
        "uid": .string(census.replicaSets[name] ?? ""), "controller": true,
        "blockOwnerDeletion": true,
      ]
    }
    let oldHash = String(census.currentRevision.dropFirst(name.count + 1))
    switch type.kind {
    case "Job":
      pods.append(
        pod(
          workload, type, name: "\(name)-\(suffix(name))", hash: nil, phase: "Succeeded",
          waiting: nil, now: now))
    case "StatefulSet":
      let total = census.ready + census.pending + census.oldReady
      for i in 0..<total {
        // StatefulSets replace pods from the highest ordinal down.
        let isNew = i >= total - census.ready - census.pending
        let isPending = isNew && i == total - census.ready - census.pending && census.pending > 0
        pods.append(
          pod(
            workload, type, name: "\(name)-\(i)", hash: isNew ? hash : oldHash,
            phase: isPending ? phase(waiting) : "Running",
            waiting: isPending ? (waiting ?? "ContainerCreating") : nil, now: now))
      }
    default:
      for i in 0..<census.oldReady {
        pods.append(
          pod(
            workload, type, name: "\(census.currentRevision)-\(suffix("\(oldHash)\(i)"))",
            hash: oldHash, phase: "Running", waiting: nil, now: now,
            owner: replicaSet(census.currentRevision)))
      }
      for i in 0..<(census.ready + census.pending) {
        let isPending = i == census.ready
        pods.append(
          pod(
            workload, type, name: "\(census.updateRevision)-\(suffix("\(hash)\(i)"))", hash: hash,
            phase: isPending ? phase(waiting) : "Running",
            waiting: isPending ? (waiting ?? "ContainerCreating") : nil, now: now,
            owner: replicaSet(census.updateRevision)))
      }
    }
    return pods
  }

  /// Stand-ins for `waiting` that are no container waiting reason: a pod the scheduler cannot
  /// place, and one running whose readiness probe fails.
  static let notScheduled = "(unschedulable)"
  static let notReady = "(probe failing)"
  /// The scheduler's message for an `unschedulable` fault, on the pod and its event.
  static let unschedulable =
    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
    + "3 No preemption victims found for incoming pod."
  /// What the kubelet says of a `probe-failing` pod's readiness probe.
  static let probeFailure = "HTTP probe failed with statuscode: 503"

  /// A pending pod's phase: a crash-looping or unready container runs, others wait.
  static func phase(_ waiting: String?) -> String {
    waiting == "CrashLoopBackOff" || waiting == notReady ? "Running" : "Pending"
  }

  static func pod(
    _ workload: Value, _ type: ResourceType, name: String, hash: String?, phase: String,
    waiting: String?, now: Date, owner: Value? = nil
  ) -> Value {
    var labels = workload.at("spec", "template", "metadata", "labels")?.mapping ?? Mapping()
    if let hash, !hash.isEmpty {
      labels[type.kind == "StatefulSet" ? "controller-revision-hash" : "pod-template-hash"] =
        .string(hash)
    }
    let stamp = KubeTime.format(now)
    let ready = waiting == nil && phase == "Running"
    let scheduled = waiting != notScheduled
    let containers =
      scheduled ? workload.at("spec", "template", "spec", "containers")?.sequence ?? [] : []
    let statuses: [Value] = containers.map { container in
      var status: Value = [
        "name": container["name"] ?? "", "image": container["image"] ?? "",
        "ready": .bool(ready), "started": .bool(phase == "Running" && waiting == nil),
        "restartCount": waiting == "CrashLoopBackOff" ? 5 : 0,
      ]
      if waiting == notReady {
        status.set(["state"], ["running": ["startedAt": .string(stamp)]])
        status.set(["started"], true)
      } else if let waiting {
        status.set(["state"], ["waiting": ["reason": .string(waiting)]])
        // What the kubelet reports of the run that crashed, as crash-looping Job pods end.
        if waiting == "CrashLoopBackOff" {
          status.set(["lastState"], ["terminated": ["exitCode": 1, "reason": "Error"]])
        }
      } else if phase == "Succeeded" {
        status.set(["state"], ["terminated": ["exitCode": 0, "reason": "Completed"]])
      } else {
        status.set(["state"], ["running": ["startedAt": .string(stamp)]])
      }
      return status
    }
    func condition(_ type: String, _ value: Bool) -> Value {
      [
        "type": .string(type), "status": value ? "True" : "False",
        "lastTransitionTime": .string(stamp),
      ]
    }
    var spec = workload.at("spec", "template", "spec") ?? [:]
    if scheduled { spec.set(["nodeName"], .string(nodeName)) }
    return [
      "apiVersion": "v1", "kind": "Pod",
      "metadata": [
        "name": .string(name), "namespace": .string(workload.namespace ?? "default"),
        "labels": .mapping(labels),
        "ownerReferences": [
          owner
            ?? [
              "apiVersion": .string(type.apiVersion), "kind": .string(type.kind),
              "name": .string(workload.name), "uid": workload.at("metadata", "uid") ?? "",
              "controller": true, "blockOwnerDeletion": true,
            ]
        ],
      ],
      "spec": spec,
      "status": [
        "phase": .string(phase),
        "conditions": scheduled
          ? [
            condition("PodScheduled", true), condition("Initialized", true),
            condition("ContainersReady", ready), condition("Ready", ready),
          ]
          : [
            [
              "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
              "message": .string(unschedulable), "lastTransitionTime": .string(stamp),
            ]
          ],
        "containerStatuses": .sequence(statuses), "hostIP": "10.0.0.1", "startTime": .string(stamp),
        "podIP": .string(
          ServiceEndpoints.podIP(namespace: workload.namespace ?? "default", name: name)),
      ],
    ]
  }

  static func isOwned(_ pod: Value, by type: ResourceType, name: String) -> Bool {
    (pod.at("metadata", "ownerReferences")?.sequence ?? []).contains {
      if type.kind == "Deployment", $0["kind"]?.string == "ReplicaSet" {
        return ReplicaSets.isNamed($0["name"]?.string ?? "", for: name)
      }
      return $0["kind"]?.string == type.kind && $0["name"]?.string == name
    }
  }

  /// Creates, updates and deletes pods so the store holds exactly `desired` for this workload.
  static func sync(
    _ store: ClusterStore, _ type: ResourceType, namespace: String, workload: String,
    desired: [Value],
    now: Date
  ) {
    guard let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod") else { return }
    let existing = store.list(WatchFilter(type: podType, namespace: namespace)).items
      .filter { isOwned($0, by: type, name: workload) }
    let wanted = Set(desired.map(\.name))
    for pod in existing where !wanted.contains(pod.name) {
      _ = store.delete(podType, namespace: namespace, name: pod.name)
    }
    for pod in desired {
      _ = try? store.modify(podType, namespace: namespace, name: pod.name, now: now) {
        (current: Value?) throws(APIError) -> Value? in
        guard let current else { return pod }
        var updated = current
        updated.set(["status"], pod["status"])
        updated.set(["metadata", "labels"], pod.at("metadata", "labels"))
        // Keep status timestamps of pods whose state did not change, so no event is sent.
        if Self.sameState(current, pod) { return nil }
        return updated
      }
    }
    ResourceQuotas.refresh(store, namespace: namespace, now: now)
    ServiceEndpoints.refresh(store, namespace: namespace, now: now)
  }

  private static func sameState(_ a: Value, _ b: Value) -> Bool {
    a.at("status", "phase") == b.at("status", "phase")
      && a.at("status", "containerStatuses")?.sequence?.map { $0["ready"] }
        == b.at("status", "containerStatuses")?.sequence?.map { $0["ready"] }
      && a.at("status", "containerStatuses")?.sequence?.map { $0.at("state", "waiting", "reason") }
        == b.at("status", "containerStatuses")?.sequence?.map {
          $0.at("state", "waiting", "reason")
        }
      && a.at("metadata", "labels") == b.at("metadata", "labels")
  }
}
