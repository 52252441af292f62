// Is an applied object ready? Kubernetes' own rules per kind, as `kubectl rollout status`
// applies them, plus Jobs; every other kind is ready once it exists.
import FleetCore

public enum Readiness: Sendable, Equatable {
  case ready(String)
  /// Still converging; the message says what it waits for.
  case progressing(String)
  /// Will not become ready without a change (e.g. ProgressDeadlineExceeded, a failed Job).
  case failed(String)

  public var isReady: Bool {
    if case .ready = self { return true }
    return false
  }

  public var message: String {
    switch self {
    case .ready(let m), .progressing(let m), .failed(let m): return m
    }
  }

  /// Evaluates a live object (its JSON as the API server returns it).
  public static func of(_ object: Value) -> Readiness {
    let kind = object["kind"]?.string ?? ""
    let name = object["metadata"]?["name"]?.string ?? ""
    switch kind {
    case "Deployment": return deployment(object, name: name)
    case "StatefulSet": return statefulSet(object, name: name)
    case "DaemonSet": return daemonSet(object, name: name)
    case "Job": return job(object, name: name)
    default: return .ready("\(kind.lowercased()) \"\(name)\" exists")
    }
  }

  private static func int(_ value: Value?) -> Int { Int(value?.int ?? 0) }

  /// The generation the controller has acted on; until then, status describes the old spec.
  private static func observed(_ object: Value) -> Bool {
    let generation = int(object["metadata"]?["generation"])
    let observed = int(object["status"]?["observedGeneration"])
    return generation <= observed
  }

  private static func condition(_ object: Value, _ type: String) -> Value? {
    object["status"]?["conditions"]?.sequence?.first { $0["type"]?.string == type }
  }

  static func deployment(_ object: Value, name: String) -> Readiness {
    guard observed(object) else {
      return .progressing("Waiting for deployment spec update to be observed...")
    }
    let status = object["status"]
    if let progressing = condition(object, "Progressing"),
      progressing["reason"]?.string == "ProgressDeadlineExceeded"
    {
      return .failed("deployment \"\(name)\" exceeded its progress deadline")
    }
    // spec.replicas defaults to 1 when unset.
    let desired = object["spec"]?["replicas"].flatMap { $0.isNull ? nil : Int($0.int ?? 1) } ?? 1
    let updated = int(status?["updatedReplicas"])
    let replicas = int(status?["replicas"])
    let available = int(status?["availableReplicas"])
    if updated < desired {
      return .progressing(
        "Waiting for deployment \"\(name)\" rollout to finish: \(updated) out of \(desired) new replicas have been updated..."
      )
    }
    if replicas > updated {
      return .progressing(
        "Waiting for deployment \"\(name)\" rollout to finish: \(replicas - updated) old replicas are pending termination..."
      )
    }
    if available < updated {
      return .progressing(
        "Waiting for deployment \"\(name)\" rollout to finish: \(available) of \(updated) updated replicas are available..."
      )
    }
    return .ready("deployment \"\(name)\" successfully rolled out")
  }

  static func statefulSet(_ object: Value, name: String) -> Readiness {
    let strategy = object["spec"]?["updateStrategy"]
    if let type = strategy?["type"]?.string, type != "RollingUpdate" {
      return .ready("statefulset \"\(name)\" uses the \(type) strategy; its rollout is not tracked")
    }
    let observedGeneration = int(object["status"]?["observedGeneration"])
    guard observedGeneration != 0, observed(object) else {
      return .progressing("Waiting for statefulset spec update to be observed...")
    }
    let status = object["status"]
    let desired = object["spec"]?["replicas"].flatMap { Int($0.int ?? 1) } ?? 1
    let ready = int(status?["readyReplicas"])
    if ready < desired {
      return .progressing("Waiting for \(desired - ready) pods to be ready...")
    }
    let updated = int(status?["updatedReplicas"])
    if let partition = strategy?["rollingUpdate"]?["partition"]?.int, partition > 0 {
      let expected = desired - Int(partition)
      if updated < expected {
        return .progressing(
          "Waiting for partitioned roll out to finish: \(updated) out of \(expected) new pods have been updated..."
        )
      }
      return .ready("partitioned roll out complete: \(updated) new pods have been updated...")
    }
    let updateRevision = status?["updateRevision"]?.string ?? ""
    let currentRevision = status?["currentRevision"]?.string ?? ""
    if updateRevision != currentRevision {
      return .progressing(
        "waiting for statefulset rolling update to complete \(updated) pods at revision \(updateRevision)..."
      )
    }
    return .ready(
      "statefulset rolling update complete \(int(status?["currentReplicas"])) pods at revision \(currentRevision)..."
    )
  }

  static func daemonSet(_ object: Value, name: String) -> Readiness {
    if let type = object["spec"]?["updateStrategy"]?["type"]?.string, type != "RollingUpdate" {
      return .ready("daemon set \"\(name)\" uses the \(type) strategy; its rollout is not tracked")
    }
    guard observed(object) else {
      return .progressing("Waiting for daemon set spec update to be observed...")
    }
    let status = object["status"]
    let desired = int(status?["desiredNumberScheduled"])
    let updated = int(status?["updatedNumberScheduled"])
    let available = int(status?["numberAvailable"])
    if updated < desired {
      return .progressing(
        "Waiting for daemon set \"\(name)\" rollout to finish: \(updated) out of \(desired) new pods have been updated..."
      )
    }
    if available < desired {
      return .progressing(
        "Waiting for daemon set \"\(name)\" rollout to finish: \(available) of \(desired) updated pods are available..."
      )
    }
    return .ready("daemon set \"\(name)\" successfully rolled out")
  }

  static func job(_ object: Value, name: String) -> Readiness {
    if let failed = condition(object, "Failed"), failed["status"]?.string == "True" {
      let reason = failed["reason"]?.string.map { " (\($0))" } ?? ""
      return .failed("job \"\(name)\" failed\(reason)")
    }
    if let complete = condition(object, "Complete"), complete["status"]?.string == "True" {
      return .ready("job \"\(name)\" completed")
    }
    let succeeded = int(object["status"]?["succeeded"])
    let completions = object["spec"]?["completions"].flatMap { Int($0.int ?? 1) } ?? 1
    return .progressing("Waiting for job \"\(name)\" to complete: \(succeeded) of \(completions) succeeded...")
  }
}
