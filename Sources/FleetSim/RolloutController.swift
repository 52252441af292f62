// The controller loop: rolls changed Deployments, StatefulSets and DaemonSets out replica by
// replica on the injected clock, writing status and conditions as the Kubernetes controllers do,
// and completes Jobs.
import FleetCore
import Foundation

/// Rolls workloads out. One replica becomes ready per `replicaInterval / speed` (slower for
/// images a fault marks slow; never for images that cannot start).
public final class RolloutController: @unchecked Sendable {
  /// Seconds of simulated time one replica takes to become ready at speed 1.
  public static let replicaInterval = 2.0
  /// Pods a DaemonSet runs: the virtual clusters have this many nodes.
  static let nodeCount: Int64 = 3

  struct Progress {
    var template: Value?
    var ready: Int64 = 0
    var oldReady: Int64 = 0
    var lastProgress: Date
    /// When the next new replica may become ready; writes in between do not hurry it.
    var nextReady: Date
    var updateRevision = ""
    var currentRevision = ""
  }

  struct Key: Hashable {
    var cluster: String
    var type: ResourceType
    var namespace: String
    var name: String
  }

  let clock: any RolloutClock
  let speed: Double
  let faults: FaultBook
  private let queue = DispatchQueue(label: "fleet-sim.controller")
  private let lock = NSLock()
  private var progress: [Key: Progress] = [:]
  private var scheduled: [Key: Cancellation] = [:]

  init(clock: any RolloutClock, speed: Double, faults: FaultBook) {
    self.clock = clock
    self.speed = max(0.001, speed)
    self.faults = faults
  }

  /// Called after every write to a workload; schedules its next step at once.
  func changed(_ cluster: VirtualCluster, _ type: ResourceType, _ object: Value) {
    if type.kind == "Namespace", type.group.isEmpty {
      return namespaceDeleted(cluster, object.name)
    }
    if type.kind == "Service", type.group.isEmpty {
      // The endpoints controllers' part: no rollout, just the Service's pods listed again.
      return ServiceEndpoints.refresh(
        cluster.store, namespace: object.namespace ?? "default", now: clock.now())
    }
    let key = Key(
      cluster: cluster.name, type: type, namespace: object.namespace ?? "", name: object.name)
    schedule(key, cluster, at: clock.now())
  }

  /// Waits for the steps already handed to the controller's queue. A step may schedule another
  /// that is due at once (the clock did not move), so drain until nothing new was enqueued.
  func settle() {
    for _ in 0..<8 { queue.sync {} }
  }

  func stop() {
    lock.lock()
    let tokens = Array(scheduled.values)
    scheduled = [:]
    lock.unlock()
    for token in tokens { token.cancel() }
  }

  func schedule(_ key: Key, _ cluster: VirtualCluster, at deadline: Date) {
    lock.lock()
    scheduled[key]?.cancel()
    let token = clock.schedule(at: deadline, on: queue) { [weak self] in self?.step(key, cluster) }
    scheduled[key] = token
    lock.unlock()
  }

  func interval(_ factor: Double) -> TimeInterval { Self.replicaInterval * factor / speed }

  /// Advances one workload by one replica and writes its status; schedules the next step.
  private func step(_ key: Key, _ cluster: VirtualCluster) {
    // Jobs, CronJobs and bare Pods run to an end rather than rolling out (BatchControllers.swift).
    switch key.type.kind {
    case "Job": return stepJob(key, cluster)
    case "CronJob": return stepCronJob(key, cluster)
    case "Pod": return stepBarePod(key, cluster)
    default: break
    }
    let now = clock.now()
    var next: Date?
    var workload: Value?
    let namespace = key.namespace.isEmpty ? nil : key.namespace
    lock.lock()
    let before = progress[key]
    lock.unlock()
    // Read before the workload's write: the store's lock is not reentrant.
    let quota =
      ["Deployment", "StatefulSet"].contains(key.type.kind) ? podQuota(key, cluster) : nil
    let isDeployment = key.type.kind == "Deployment"
    let history =
      isDeployment
      ? ReplicaSets.owned(cluster.store, namespace: key.namespace, deployment: key.name) : []
    _ = try? cluster.store.modify(key.type, namespace: namespace, name: key.name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      guard let object = current else {
        self.forget(key)
        return nil
      }
      let (updated, wake) = self.advance(
        key, cluster, object, now: now, quota: quota, history: history)
      next = wake
      workload = updated
      return updated
    }
    // Pods follow outside the workload's write: the store's lock is not reentrant.
    var desired: [Value] = []
    if let workload {
      lock.lock()
      let state = progress[key]
      lock.unlock()
      let desiredCount =
        key.type.kind == "DaemonSet" ? Self.nodeCount : (workload.at("spec", "replicas")?.int ?? 1)
      let fits = quota.map { (state?.ready ?? 0) + (state?.oldReady ?? 0) < $0.room } ?? true
      var census = PodCensus(
        ready: state?.ready ?? 0, pending: (state?.ready ?? 0) < desiredCount && fits ? 1 : 0,
        oldReady: state?.oldReady ?? 0, updateRevision: state?.updateRevision ?? "",
        currentRevision: state?.currentRevision ?? "", fault: behaviour(cluster, workload))
      if isDeployment {
        census.replicaSets = ReplicaSets.sync(
          cluster.store, deployment: workload, census: census, now: now)
      }
      desired = Pods.desired(key.type, workload, census, now: now)
    } else if isDeployment {
      ReplicaSets.removeAll(cluster.store, namespace: key.namespace, deployment: key.name)
    }
    if ["StatefulSet", "DaemonSet"].contains(key.type.kind) {
      if let workload {
        let revision = progress(key)?.updateRevision ?? ""
        ControllerRevisions.record(
          cluster.store, key.type, workload: workload, revision: revision, now: now)
      } else {
        ControllerRevisions.removeAll(
          cluster.store, key.type, namespace: key.namespace, name: key.name)
      }
    }
    Pods.sync(
      cluster.store, key.type, namespace: key.namespace, workload: key.name, desired: desired,
      now: now)
    if let workload {
      lock.lock()
      let after = progress[key]
      lock.unlock()
      recordEvents(
        cluster.store, key, workload, before: before, after: after, pods: desired, now: now)
      let replicas = workload.at("spec", "replicas")?.int ?? 1
      if let quota, let after, after.ready < replicas,
        after.ready + after.oldReady >= quota.room
      {
        // The pod that did not fit, reported as each controller reports it.
        if key.type.kind == "StatefulSet" {
          let pod = "\(key.name)-\(after.ready + after.oldReady)"
          ClusterEvents.record(
            cluster.store, about: ClusterEvents.involved(workload, key.type), type: "Warning",
            reason: "FailedCreate",
            message: "create Pod \(pod) in StatefulSet \(key.name) failed error: \(quota.refusal)",
            component: "statefulset-controller", now: now)
        } else {
          ClusterEvents.record(
            cluster.store,
            about: ClusterEvents.Involved(
              apiVersion: "apps/v1", kind: "ReplicaSet", name: after.updateRevision,
              namespace: key.namespace, uid: ""),
            type: "Warning", reason: "FailedCreate", message: "Error creating: " + quota.refusal,
            component: "replicaset-controller", now: now)
        }
      }
    }
    if let next { schedule(key, cluster, at: next) }
  }

  /// The events the real controllers and kubelet would record for this step.
  func recordEvents(
    _ store: ClusterStore, _ key: Key, _ workload: Value, before: Progress?, after: Progress?,
    pods: [Value], now: Date
  ) {
    if key.type.kind == "Deployment", let after {
      let desired = workload.at("spec", "replicas")?.int ?? 1
      let newRollout = before?.updateRevision != after.updateRevision
      let from = newRollout ? 0 : (before.map { $0.ready + pending($0, desired) } ?? 0)
      let to = after.ready + pending(after, desired)
      let deployment = ClusterEvents.involved(workload, key.type)
      if to > from {
        ClusterEvents.record(
          store, about: deployment, type: "Normal", reason: "ScalingReplicaSet",
          message: "Scaled up replica set \(after.updateRevision) from \(from) to \(to)",
          component: "deployment-controller", now: now)
      }
      if let before, !newRollout, after.oldReady < before.oldReady {
        ClusterEvents.record(
          store, about: deployment, type: "Normal", reason: "ScalingReplicaSet",
          message:
            "Scaled down replica set \(after.currentRevision) from \(before.oldReady) to "
            + "\(after.oldReady)",
          component: "deployment-controller", now: now)
      }
    }
    guard let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod") else { return }
    for pod in pods {
      let scheduled = pod.at("status", "conditions")?.sequence?.first {
        $0["type"]?.string == "PodScheduled"
      }
      if scheduled?["status"]?.string == "False",
        let stored = store.get(podType, namespace: pod.namespace, name: pod.name)
      {
        ClusterEvents.record(
          store, about: ClusterEvents.involved(stored, podType), type: "Warning",
          reason: "FailedScheduling", message: Pods.unschedulable, component: "default-scheduler",
          now: now)
      }
      for status in pod.at("status", "containerStatuses")?.sequence ?? [] {
        let image = status["image"]?.string ?? ""
        let container = status["name"]?.string ?? ""
        // The stored pod carries the uid the server gave it, which `kubectl describe pod`
        // selects its events by.
        let stored = store.get(podType, namespace: pod.namespace, name: pod.name) ?? pod
        let about = ClusterEvents.involved(stored, podType)
        switch status.at("state", "waiting", "reason")?.string {
        case "ImagePullBackOff":
          ClusterEvents.record(
            store, about: about, type: "Warning", reason: "Failed",
            message: "Failed to pull image \"\(image)\": rpc error: code = NotFound desc = "
              + "failed to pull and unpack image \"\(image)\": not found",
            component: "kubelet", now: now)
          ClusterEvents.record(
            store, about: about, type: "Normal", reason: "BackOff",
            message: "Back-off pulling image \"\(image)\"", component: "kubelet", now: now)
        case "CrashLoopBackOff":
          ClusterEvents.record(
            store, about: about, type: "Warning", reason: "BackOff",
            message: "Back-off restarting failed container \(container) in pod \(pod.name)",
            component: "kubelet", now: now)
        case nil where status.at("state", "running") != nil && status["ready"]?.bool == false:
          ClusterEvents.record(
            store, about: about, type: "Warning", reason: "Unhealthy",
            message: "Readiness probe failed: \(Pods.probeFailure)", component: "kubelet",
            now: now)
        default:
          break
        }
      }
    }
  }

  /// Drops every workload's progress and pending step in a deleted namespace, so one of the
  /// same name in a re-created namespace starts from nothing, as the real controllers do once
  /// the namespace's objects are gone.
  func namespaceDeleted(_ cluster: VirtualCluster, _ namespace: String) {
    lock.lock()
    let gone = Set(progress.keys).union(scheduled.keys).filter {
      $0.cluster == cluster.name && $0.namespace == namespace
    }
    let tokens = gone.compactMap { scheduled[$0] }
    for key in gone {
      progress[key] = nil
      scheduled[key] = nil
    }
    lock.unlock()
    for token in tokens { token.cancel() }
  }

  private func progress(_ key: Key) -> Progress? {
    lock.lock()
    defer { lock.unlock() }
    return progress[key]
  }

  func forget(_ key: Key) {
    lock.lock()
    progress[key] = nil
    scheduled[key] = nil
    lock.unlock()
  }

  private func behaviour(_ cluster: VirtualCluster, _ object: Value) -> ImageFault? {
    runFault(cluster, object.at("spec", "template", "spec", "containers"))
  }

  /// How many pods a ResourceQuota leaves room for, and what creating one more is refused
  /// with; nil when no quota limits the workload's pods.
  private func podQuota(_ key: Key, _ cluster: VirtualCluster) -> (room: Int64, refusal: String)? {
    guard
      let workload = cluster.store.get(key.type, namespace: key.namespace, name: key.name),
      let template = workload.at("spec", "template"),
      let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod")
    else { return nil }
    let pod = ResourceQuotas.pod(namespace: key.namespace, template: template)
    guard
      let room = ResourceQuotas.podRoom(
        cluster.store, pod: pod, owned: { Pods.isOwned($0, by: key.type, name: key.name) })
    else { return nil }
    // A replica set's pods are created with generateName, which admission sees; a stateful
    // set's by name, the next ordinal.
    let name: String
    if key.type.kind == "StatefulSet" {
      let pods = cluster.store.list(WatchFilter(type: podType, namespace: key.namespace)).items
      name =
        "\(workload.name)-\(pods.filter { Pods.isOwned($0, by: key.type, name: key.name) }.count)"
    } else {
      name = "\(workload.name)-\(TemplateHash.ofTemplate(template))-"
    }
    do {
      try ResourceQuotas.admit(cluster.store, podType, pod, name: name)
      return (room, "")
    } catch {
      return (room, error.message)
    }
  }

  private func advance(
    _ key: Key, _ cluster: VirtualCluster, _ object: Value, now: Date,
    quota: (room: Int64, refusal: String)? = nil, history: [Value] = []
  ) -> (Value, Date?) {
    lock.lock()
    var state = progress[key] ?? Progress(lastProgress: now, nextReady: now)
    lock.unlock()
    let template = object.at("spec", "template")
    let desired =
      key.type.kind == "DaemonSet" ? Self.nodeCount : (object.at("spec", "replicas")?.int ?? 1)
    let revision = "\(object.name)-\(TemplateHash.ofTemplate(template))"
    let fault = behaviour(cluster, object)
    let blocked = [.neverReady, .crashLoop, .unschedulable, .probeFailing].contains(fault?.effect)
    let step = interval(fault?.effect == .slow ? fault?.slowFactor ?? 1 : 1)
    if state.template == nil || state.updateRevision != revision {
      // A new template: pods of the old one keep serving until new ones are ready. (Compared by
      // hash: a template sent back by `rollout undo` differs only in empty fields.)
      state.oldReady = state.template == nil ? 0 : min(state.ready, desired)
      state.currentRevision = state.template == nil ? revision : state.updateRevision
      state.template = template
      state.updateRevision = revision
      state.ready = 0
      state.lastProgress = now
      state.nextReady = now.addingTimeInterval(step)
    }

    // Simulated seconds, like every other timing: at speed 10 a 600 s deadline passes in 60 s.
    let deadline = interval(
      Double(object.at("spec", "progressDeadlineSeconds")?.int ?? 600) / Self.replicaInterval)
    let observed =
      object.at("status", "observedGeneration")?.int == object.at("metadata", "generation")?.int
    var wake: Date?
    // Every pod of the workload, old and new, counts against the quota.
    func fits() -> Bool { quota.map { state.ready + state.oldReady < $0.room } ?? true }
    if state.ready > desired {
      state.ready = desired
    } else if state.ready < desired, !blocked, fits(), observed, now >= state.nextReady {
      state.ready += 1
      state.lastProgress = now
      state.nextReady = now.addingTimeInterval(step)
      state.oldReady = max(0, min(state.oldReady, desired - state.ready))
    }
    if state.ready >= desired { state.oldReady = 0 }
    let refused = state.ready < desired && !fits()
    if state.ready < desired {
      if refused {
        // Room may come back when other pods go: look again a replica's interval later.
        wake = now.addingTimeInterval(interval(1))
      } else if blocked {
        let limit = state.lastProgress.addingTimeInterval(deadline)
        wake = limit > now ? limit : nil
      } else {
        wake = max(state.nextReady, now)
      }
    } else {
      state.currentRevision = state.updateRevision
    }
    let exceeded = state.ready < desired && now.timeIntervalSince(state.lastProgress) >= deadline
    lock.lock()
    progress[key] = state
    lock.unlock()
    var updated = object
    if key.type.kind == "Deployment" {
      // The deployment controller numbers the ReplicaSet it rolls to on the Deployment too.
      updated.set(
        ["metadata", "annotations", ReplicaSets.revisionKey],
        .string(String(ReplicaSets.revision(of: state.updateRevision, among: history))))
    }
    let status: Value
    switch key.type.kind {
    case "StatefulSet":
      status = statefulSetStatus(object, state, desired: desired, blocked: blocked)
    case "DaemonSet": status = daemonSetStatus(object, state, desired: desired)
    default:
      status = deploymentStatus(
        object, state, desired: desired, exceeded: exceeded,
        refusal: refused ? quota?.refusal : nil, now: now)
    }
    updated.set(["status"], status)
    return (updated, wake)
  }

  private func pending(_ state: Progress, _ desired: Int64) -> Int64 {
    state.ready < desired ? 1 : 0
  }

  /// `refusal`: why the next pod could not be created (a quota), if it could not.
  private func deploymentStatus(
    _ object: Value, _ state: Progress, desired: Int64, exceeded: Bool, refusal: String? = nil,
    now: Date
  )
    -> Value
  {
    let pending = refusal == nil ? self.pending(state, desired) : 0
    let available = state.ready + state.oldReady
    let replicas = state.ready + pending + state.oldReady
    let maxUnavailable = desired / 4
    let old = object["status"]?["conditions"]?.sequence ?? []
    let stamp = KubeTime.format(now)
    func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> Value {
      let previous = old.first { $0["type"]?.string == type }
      let same = previous?["status"]?.string == status
      let transition = same ? (previous?["lastTransitionTime"] ?? .string(stamp)) : .string(stamp)
      let sameReason = same && previous?["reason"]?.string == reason
      return [
        "type": .string(type), "status": .string(status),
        "lastUpdateTime": sameReason
          ? (previous?["lastUpdateTime"] ?? .string(stamp)) : .string(stamp),
        "lastTransitionTime": transition, "reason": .string(reason), "message": .string(message),
      ]
    }
    let replicaSet = "ReplicaSet \"\(state.updateRevision)\""
    let availableCondition =
      available >= desired - maxUnavailable
      ? condition(
        "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
      : condition(
        "Available", "False", "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.")
    let progressing: Value
    if exceeded {
      progressing = condition(
        "Progressing", "False", "ProgressDeadlineExceeded",
        "\(replicaSet) has timed out progressing.")
    } else if state.ready >= desired {
      progressing = condition(
        "Progressing", "True", "NewReplicaSetAvailable",
        "\(replicaSet) has successfully progressed.")
    } else {
      progressing = condition(
        "Progressing", "True", "ReplicaSetUpdated", "\(replicaSet) is progressing.")
    }
    var status: Value = [
      "observedGeneration": object.at("metadata", "generation") ?? 1,
      "replicas": .int(replicas), "updatedReplicas": .int(state.ready + pending),
      "readyReplicas": .int(available), "availableReplicas": .int(available),
    ]
    if replicas - available > 0 { status.set(["unavailableReplicas"], .int(replicas - available)) }
    var conditions = [availableCondition, progressing]
    if let refusal {
      conditions.append(condition("ReplicaFailure", "True", "FailedCreate", refusal))
    }
    status.set(["conditions"], .sequence(conditions))
    return status
  }

  private func statefulSetStatus(_ object: Value, _ state: Progress, desired: Int64, blocked: Bool)
    -> Value
  {
    let done = state.ready >= desired
    return [
      "observedGeneration": object.at("metadata", "generation") ?? 1,
      "replicas": .int(desired), "readyReplicas": .int(state.ready + state.oldReady),
      "currentReplicas": .int(done ? desired : state.oldReady),
      "updatedReplicas": .int(state.ready), "availableReplicas": .int(state.ready + state.oldReady),
      "currentRevision": .string(state.currentRevision),
      "updateRevision": .string(state.updateRevision),
      "collisionCount": 0,
    ]
  }

  private func daemonSetStatus(_ object: Value, _ state: Progress, desired: Int64) -> Value {
    let pending = self.pending(state, desired)
    let available = state.ready + state.oldReady
    return [
      "observedGeneration": object.at("metadata", "generation") ?? 1,
      "desiredNumberScheduled": .int(desired), "currentNumberScheduled": .int(desired),
      "numberMisscheduled": 0, "numberReady": .int(available), "numberAvailable": .int(available),
      "updatedNumberScheduled": .int(state.ready + pending),
      "numberUnavailable": .int(max(0, desired - available)),
    ]
  }
}
