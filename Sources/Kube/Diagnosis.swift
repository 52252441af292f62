// Why a workload did not become ready: its pods, ReplicaSets and events read once, after the
// failure, and the cause named as `kubectl describe` would let a person find it.
import FleetCore

/// The cause of a readiness failure and the event lines that show it.
public struct Diagnosis: Sendable, Equatable {
  /// One line: `ImagePullBackOff: pod P cannot pull image "I": MESSAGE`.
  public var cause: String
  /// `Warning Failed pod/P: MESSAGE (x3)`, oldest first, at most `Diagnosis.evidenceLimit`.
  public var evidence: [String]

  public static let evidenceLimit = 5

  public init(cause: String, evidence: [String]) {
    self.cause = cause
    self.evidence = evidence
  }

  /// `MESSAGE: CAUSE`, then the evidence one line each, indented: the failure message a
  /// cluster carries into the journal and every report.
  public func explaining(_ message: String) -> String {
    ([message + ": " + cause] + evidence.map { "  " + $0 }).joined(separator: "\n")
  }

  /// Reads the namespace of `workloads` (the ones not ready, first first) once: one list of
  /// pods, one of ReplicaSets where the API serves them, one of events. Nil when the cluster
  /// cannot be read or nothing there explains the failure; diagnosis never adds a failure.
  public static func read(_ workloads: [Value], client: KubeClient, podsMayBeGone: Bool = false)
    async -> Diagnosis?
  {
    guard let first = workloads.first else { return nil }
    let namespace = first["metadata"]?["namespace"]?.string ?? "default"
    let inNamespace = workloads.filter {
      ($0["metadata"]?["namespace"]?.string ?? "default") == namespace
    }
    do {
      let pods = try await client.list(apiVersion: "v1", kind: "Pod", namespace: namespace)
      // Oldest first, so the evidence ends with what happened last.
      let events = try await client.list(apiVersion: "v1", kind: "Event", namespace: namespace)
        .sorted { when($0) < when($1) }
      // Older API servers and emulators may not serve ReplicaSets; their FailedCreate
      // events still name the ReplicaSet by the Deployment's name prefix.
      let replicaSets =
        (try? await client.list(apiVersion: "apps/v1", kind: "ReplicaSet", namespace: namespace))
        ?? []
      for workload in inNamespace {
        if let found = of(
          workload, pods: pods, replicaSets: replicaSets, events: events,
          podsMayBeGone: podsMayBeGone)
        {
          return found
        }
      }
      return nil
    } catch {
      return nil
    }
  }

  /// The cause for a helm release that failed: its workloads found by the annotation helm
  /// puts on every object it manages (one list per workload kind), those not ready first,
  /// then `read`. helm may already have rolled the release back, taking the failing pods
  /// with it, so the events of pods that are gone count too.
  public static func release(_ name: String, namespace: String, client: KubeClient) async
    -> Diagnosis?
  {
    var notReady: [Value] = []
    var ready: [Value] = []
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
      guard
        let listed = try? await client.list(
          apiVersion: "apps/v1", kind: kind, namespace: namespace)
      else { continue }
      for item in listed
      where item["metadata"]?["annotations"]?["meta.helm.sh/release-name"]?.string == name {
        // List items carry no kind; readiness is judged by it.
        var object = item.mapping ?? Mapping()
        object["kind"] = .string(kind)
        let workload = Value.mapping(object)
        if Readiness.of(workload).isReady {
          ready.append(workload)
        } else {
          notReady.append(workload)
        }
      }
    }
    return await read(notReady + ready, client: client, podsMayBeGone: true)
  }

  /// The cause for one workload from what was read, checked in the order a person would:
  /// pods that cannot start (image, crash, scheduling), pods running but not ready (probe),
  /// then pods never created (quota, admission).
  public static func of(
    _ workload: Value, pods: [Value], replicaSets: [Value], events: [Value],
    podsMayBeGone: Bool = false
  ) -> Diagnosis? {
    let name = workload["metadata"]?["name"]?.string ?? ""
    let selector = workload["spec"]?["selector"]?["matchLabels"]?.mapping
    let owned = pods.filter { pod in
      guard let selector, !selector.isEmpty else { return false }
      let labels = pod["metadata"]?["labels"]
      return selector.allSatisfy { labels?[$0.key] == $0.value }
    }
    for pod in owned {
      if let found = podCause(pod, events: events) { return found }
    }
    // What creates the pods: the workload itself, or (Deployments) its ReplicaSets.
    let creators =
      Set([name])
      .union(
        replicaSets.compactMap { set in
          let owners = set["metadata"]?["ownerReferences"]?.sequence ?? []
          return owners.contains { $0["name"]?.string == name }
            ? set["metadata"]?["name"]?.string : nil
        })
    let refused = events.filter { event in
      guard event["reason"]?.string == "FailedCreate" else { return false }
      let involved = event["involvedObject"]?["name"]?.string ?? ""
      return creators.contains(involved)
        || (event["involvedObject"]?["kind"]?.string == "ReplicaSet"
          && involved.hasPrefix(name + "-"))
    }
    if let last = refused.last {
      let object = objectName(last)
      return Diagnosis(
        cause: "FailedCreate: \(object): \(last["message"]?.string ?? "")",
        evidence: lines(refused))
    }
    return podsMayBeGone ? goneCause(name, events: events) : nil
  }

  /// The cause from the last warning about a pod of `workload` that no longer exists: its
  /// events outlive it. Only where pods may be gone (helm rolled back), because on a live
  /// rollout an old warning would name an earlier failure.
  private static func goneCause(_ workload: String, events: [Value]) -> Diagnosis? {
    let causes: [(reason: String, text: String, cause: String)] = [
      ("Failed", "pull image", "ImagePullBackOff"),
      ("BackOff", "Back-off restarting", "CrashLoopBackOff"),
      ("FailedScheduling", "", "Unschedulable"),
      ("Unhealthy", "Readiness probe", "readiness probe failing"),
    ]
    var named: (event: Value, cause: String)?
    for event in events
    where event["involvedObject"]?["kind"]?.string == "Pod"
      && (event["involvedObject"]?["name"]?.string ?? "").hasPrefix(workload + "-")
    {
      let message = event["message"]?.string ?? ""
      if let match = causes.first(where: {
        event["reason"]?.string == $0.reason && (message.contains($0.text))
      }) {
        named = (event, match.cause)
      }
    }
    guard let named else { return nil }
    let pod = named.event["involvedObject"]?["name"]?.string ?? ""
    let about = events.filter {
      $0["involvedObject"]?["kind"]?.string == "Pod"
        && $0["involvedObject"]?["name"]?.string == pod
    }
    return Diagnosis(
      cause: "\(named.cause): pod \(pod): \(named.event["message"]?.string ?? "")",
      evidence: lines(about))
  }

  private static func podCause(_ pod: Value, events: [Value]) -> Diagnosis? {
    let podName = pod["metadata"]?["name"]?.string ?? ""
    let about = events.filter {
      $0["involvedObject"]?["kind"]?.string == "Pod"
        && $0["involvedObject"]?["name"]?.string == podName
    }
    func latest(_ reason: String, containing text: String = "") -> Value? {
      about.last {
        $0["reason"]?.string == reason
          && (text.isEmpty || ($0["message"]?.string ?? "").contains(text))
      }
    }
    let statuses =
      (pod["status"]?["initContainerStatuses"]?.sequence ?? [])
      + (pod["status"]?["containerStatuses"]?.sequence ?? [])
    for status in statuses {
      let container = status["name"]?.string ?? ""
      let waiting = status["state"]?["waiting"]
      switch waiting?["reason"]?.string {
      case "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
        let image = status["image"]?.string ?? ""
        let message =
          waiting?["message"]?.string ?? latest("Failed", containing: "image")?["message"]?.string
        return Diagnosis(
          cause: "\(waiting?["reason"]?.string ?? ""): pod \(podName) cannot pull image "
            + "\"\(image)\"" + (message.map { ": " + $0 } ?? ""),
          evidence: lines(about))
      case "CrashLoopBackOff":
        let restarts = status["restartCount"]?.int ?? 0
        let terminated = status["lastState"]?["terminated"]
        let last =
          terminated.map { state in
            let reason = state["reason"]?.string ?? "terminated"
            let code = state["exitCode"]?.int.map { " (exit code \($0))" } ?? ""
            return ", last terminated: \(reason)\(code)"
          } ?? ", last termination not reported"
        return Diagnosis(
          cause: "CrashLoopBackOff: container \(container) of pod \(podName) restarted "
            + "\(restarts) time\(restarts == 1 ? "" : "s")\(last)",
          evidence: lines(about))
      default:
        break
      }
    }
    let conditions = pod["status"]?["conditions"]?.sequence ?? []
    if let scheduled = conditions.first(where: { $0["type"]?.string == "PodScheduled" }),
      scheduled["status"]?.string == "False"
    {
      let message =
        scheduled["message"]?.string ?? latest("FailedScheduling")?["message"]?.string ?? ""
      return Diagnosis(
        cause: "Unschedulable: pod \(podName): \(message)", evidence: lines(about))
    }
    let running = statuses.filter { $0["state"]?["running"] != nil }
    if let notReady = running.first(where: { $0["ready"]?.bool == false }) {
      let probe = latest("Unhealthy", containing: "Readiness probe")?["message"]?.string
      return Diagnosis(
        cause: "readiness probe failing: container \(notReady["name"]?.string ?? "") of pod "
          + "\(podName) is running but not ready" + (probe.map { ": " + $0 } ?? ""),
        evidence: lines(about))
    }
    return nil
  }

  /// When an event last happened; RFC 3339 times in UTC order as strings do.
  private static func when(_ event: Value) -> String {
    event["lastTimestamp"]?.string ?? event["eventTime"]?.string
      ?? event["metadata"]?["creationTimestamp"]?.string ?? ""
  }

  /// `replicaset/checkout-5d8f` from an event's involved object.
  private static func objectName(_ event: Value) -> String {
    let involved = event["involvedObject"]
    return "\((involved?["kind"]?.string ?? "").lowercased())/\(involved?["name"]?.string ?? "")"
  }

  /// The events as `kubectl get events` shows them, the last few, repeats counted.
  private static func lines(_ events: [Value]) -> [String] {
    events.suffix(evidenceLimit).map { event in
      let count = event["count"]?.int ?? 1
      return "\(event["type"]?.string ?? "Normal") \(event["reason"]?.string ?? "") "
        + "\(objectName(event)): \(event["message"]?.string ?? "")"
        + (count > 1 ? " (x\(count))" : "")
    }
  }
}
