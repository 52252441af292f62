// The defaults the API server fills into new and updated objects, for the types that need them.
import FleetCore
import Foundation

enum Defaults {
  static func apply(_ type: ResourceType, _ input: Value) -> Value {
    var object = input
    func fill(_ path: [String], _ value: Value) {
      if object.at(path) == nil { object.set(path, value) }
    }
    switch (type.group, type.kind) {
    case ("apps", "Deployment"):
      fill(["spec", "replicas"], 1)
      // Field by field: `kubectl create deployment` sends an empty `strategy`.
      fill(["spec", "strategy", "type"], "RollingUpdate")
      if object.at("spec", "strategy", "type") == "RollingUpdate" {
        fill(["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
        fill(["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
      }
      fill(["spec", "revisionHistoryLimit"], 10)
      fill(["spec", "progressDeadlineSeconds"], 600)
    case ("apps", "StatefulSet"):
      fill(["spec", "replicas"], 1)
      fill(
        ["spec", "updateStrategy"], ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]])
      fill(["spec", "podManagementPolicy"], "OrderedReady")
      fill(["spec", "revisionHistoryLimit"], 10)
    case ("apps", "DaemonSet"):
      fill(
        ["spec", "updateStrategy"],
        ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 1, "maxSurge": 0]])
      fill(["spec", "revisionHistoryLimit"], 10)
    case ("apps", "ReplicaSet"):
      fill(["spec", "replicas"], 1)
    case ("batch", "Job"):
      fill(["spec", "completions"], 1)
      fill(["spec", "parallelism"], 1)
      fill(["spec", "backoffLimit"], 6)
    case ("", "Service"):
      fill(["spec", "type"], "ClusterIP")
      fill(["spec", "sessionAffinity"], "None")
      if object.at("spec", "clusterIP") == nil {
        let ip = clusterIP(for: (object.namespace ?? "") + "/" + object.name)
        object.set(["spec", "clusterIP"], .string(ip))
        object.set(["spec", "clusterIPs"], [.string(ip)])
      }
      if let ports = object.at("spec", "ports")?.sequence {
        object.set(
          ["spec", "ports"],
          .sequence(
            ports.map { port in
              var p = port
              if p["protocol"] == nil { p.set(["protocol"], "TCP") }
              if p["targetPort"] == nil, let number = p["port"] { p.set(["targetPort"], number) }
              return p
            }))
      }
    case ("", "Secret"):
      fill(["type"], "Opaque")
      if let stringData = object["stringData"]?.mapping {
        for entry in stringData {
          let encoded = Data((entry.value.scalarText ?? "").utf8).base64EncodedString()
          object.set(["data", entry.key], .string(encoded))
        }
        object.set(["stringData"], nil)
      }
    case ("", "Namespace"):
      fill(["spec", "finalizers"], ["kubernetes"])
      object.set(["status"], ["phase": "Active"])
      fill(["metadata", "labels", "kubernetes.io/metadata.name"], .string(object.name))
    case ("", "Pod"):
      fill(["status"], ["phase": "Pending"])
    case ("autoscaling", "HorizontalPodAutoscaler"):
      object = HorizontalPodAutoscalers.defaulted(object)
    default:
      break
    }
    // Pod templates and pods: container ports default to TCP, as the API server fills them.
    let podSpec = type.kind == "Pod" ? ["spec"] : ["spec", "template", "spec"]
    if type.isWorkload || type.kind == "Pod",
      let containers = object.at(podSpec + ["containers"])?.sequence
    {
      object.set(podSpec + ["containers"], .sequence(containers.map(defaultPorts)))
    }
    return object
  }

  private static func defaultPorts(_ container: Value) -> Value {
    guard let ports = container["ports"]?.sequence else { return container }
    var updated = container
    updated.set(
      ["ports"],
      .sequence(
        ports.map { port in
          var filled = port
          if filled["protocol"] == nil { filled.set(["protocol"], "TCP") }
          return filled
        }))
    return updated
  }

  /// A stable address in 10.96.0.0/16 derived from the service's name.
  private static func clusterIP(for key: String) -> String {
    let hash = TemplateHash.fnv(key)
    return "10.96.\((hash >> 8) & 0xff).\(max(2, hash & 0xff))"
  }
}

/// Short stable hashes, like the pod-template-hash the real controllers add to names.
enum TemplateHash {
  static func fnv(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return hash
  }

  /// The hash of a pod template, blind to what a Go client adds when it sends a template back
  /// (`creationTimestamp: null`, `resources: {}`): `kubectl rollout undo` returns a ReplicaSet's
  /// template that way, and it must come back to the same ReplicaSet, as on a real cluster where
  /// the hash is taken from the decoded object.
  static func ofTemplate(_ template: Value?) -> String { of(template.map(withoutEmpty)) }

  private static func withoutEmpty(_ value: Value) -> Value {
    switch value.kind {
    case .mapping(let mapping):
      var kept = Mapping()
      for entry in mapping {
        let child = withoutEmpty(entry.value)
        if case .null = child.kind { continue }
        if child.mapping?.isEmpty == true { continue }
        kept[entry.key] = child
      }
      return .mapping(kept)
    case .sequence(let items): return .sequence(items.map(withoutEmpty))
    default: return value
    }
  }

  static func of(_ value: Value?) -> String {
    let text = value.map { JSONWriter.string($0.unmarked, options: .init(sortedKeys: true)) } ?? ""
    let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    var hash = fnv(text)
    var out = ""
    for _ in 0..<10 {
      out.append(alphabet[Int(hash % UInt64(alphabet.count))])
      hash /= UInt64(alphabet.count)
    }
    return out
  }
}
