// ResourceQuota admission and usage (k8s.io/apiserver's resourcequota admission plugin and the
// quota evaluators of pkg/quota/v1/evaluator/core): a create that would take a namespace past a
// quota's `spec.hard` is refused with the server's 403, and each quota's `status.used` follows
// the namespace's objects. Tracked: `pods`, `requests.cpu`/`cpu`, `requests.memory`/`memory`,
// `limits.cpu`, `limits.memory`, `count/RESOURCE[.GROUP]` and the legacy object counts
// (`configmaps`, `secrets`, `services`, `persistentvolumeclaims`, `resourcequotas`).
// Scopes and scope selectors are not evaluated: every quota applies to the whole namespace.
import FleetCore
import Foundation

/// A resource.Quantity: its value in thousandths, and the notation it was written in (kept for
/// printing, as the API server keeps it).
struct Quantity: Equatable, Sendable {
  enum Notation: Sendable { case decimal, binary }
  var milli: Int64
  var notation: Notation

  static let zero = Quantity(milli: 0, notation: .decimal)

  private static let binarySuffixes: [(String, Int64)] = [
    ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50),
  ]
  private static let decimalSuffixes: [(String, Int64)] = [
    ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
  ]

  /// Parses `500m`, `2`, `1.5`, `128Mi`, `1G`; nil for anything else.
  init?(_ text: String) {
    var number = text
    var scale: Int64 = 1000
    var notation = Notation.decimal
    if let (suffix, factor) = Self.binarySuffixes.first(where: { text.hasSuffix($0.0) }) {
      number = String(text.dropLast(suffix.count))
      scale = factor * 1000
      notation = .binary
    } else if let (suffix, factor) = Self.decimalSuffixes.first(where: { text.hasSuffix($0.0) }) {
      number = String(text.dropLast(suffix.count))
      scale = factor * 1000
    } else if text.hasSuffix("m") {
      number = String(text.dropLast())
      scale = 1
    }
    guard !number.isEmpty, let value = Decimal(string: number), value >= 0,
      number.allSatisfy({ $0.isNumber || $0 == "." })
    else { return nil }
    let milli = NSDecimalNumber(decimal: value * Decimal(scale)).int64Value
    self.init(milli: milli, notation: notation)
  }

  init(milli: Int64, notation: Notation) {
    self.milli = milli
    self.notation = notation
  }

  init?(_ value: Value?) {
    guard let value else { return nil }
    if let number = value.int {
      self.init(milli: number * 1000, notation: .decimal)
    } else if let text = value.string {
      self.init(text)
    } else {
      return nil
    }
  }

  static func + (a: Quantity, b: Quantity) -> Quantity {
    Quantity(milli: a.milli + b.milli, notation: a.milli == 0 ? b.notation : a.notation)
  }

  /// The canonical text: the largest suffix of its notation that keeps the value whole.
  var text: String {
    guard milli % 1000 == 0 else { return "\(milli)m" }
    let whole = milli / 1000
    guard whole != 0 else { return "0" }
    let suffixes = notation == .binary ? Self.binarySuffixes : Self.decimalSuffixes
    for (suffix, factor) in suffixes.reversed() where whole % factor == 0 {
      return "\(whole / factor)\(suffix)"
    }
    return "\(whole)"
  }
}

enum ResourceQuotas {
  static let computeKeys = [
    "requests.cpu", "cpu", "requests.memory", "memory", "limits.cpu", "limits.memory",
  ]
  /// Legacy object-count names and the core types they count.
  private static let legacyCounts = [
    "configmaps": "ConfigMap", "secrets": "Secret", "services": "Service",
    "persistentvolumeclaims": "PersistentVolumeClaim", "resourcequotas": "ResourceQuota",
  ]

  static var quotaType: ResourceType? {
    ResourceCatalog.find(apiVersion: "v1", kind: "ResourceQuota")
  }

  /// What one object counts for, under every name a quota may track it by.
  static func usage(_ type: ResourceType, _ object: Value) -> [String: Quantity] {
    var usage: [String: Quantity] = [
      "count/" + type.qualifiedName: Quantity(milli: 1000, notation: .decimal)
    ]
    if type.group.isEmpty, let legacy = legacyCounts.first(where: { $0.value == type.kind }) {
      usage[legacy.key] = Quantity(milli: 1000, notation: .decimal)
    }
    guard type.group.isEmpty, type.kind == "Pod" else { return usage }
    // A pod that has ended no longer counts.
    let phase = object.at("status", "phase")?.string
    if phase == "Succeeded" || phase == "Failed" { return [:] }
    usage["pods"] = Quantity(milli: 1000, notation: .decimal)
    for container in object.at("spec", "containers")?.sequence ?? [] {
      for (kind, keys) in [("requests", ["requests.", ""]), ("limits", ["limits."])] {
        for resource in ["cpu", "memory"] {
          // An unset request defaults to the limit, as the API server's defaulting sets it.
          let amount =
            Quantity(container.at("resources", kind, resource))
            ?? (kind == "requests" ? Quantity(container.at("resources", "limits", resource)) : nil)
          guard let amount else { continue }
          for prefix in keys {
            usage[prefix + resource, default: .zero] =
              usage[prefix + resource, default: .zero] + amount
          }
        }
      }
    }
    return usage
  }

  /// The namespace's usage of every key in `hard`.
  private static func used(_ store: ClusterStore, namespace: String, hard: [String]) -> [String:
    Quantity]
  {
    var types: [ResourceType] = []
    for key in hard {
      let type: ResourceType?
      if key == "pods" || computeKeys.contains(key) {
        type = ResourceCatalog.find(apiVersion: "v1", kind: "Pod")
      } else if let kind = legacyCounts[key] {
        type = ResourceCatalog.find(apiVersion: "v1", kind: kind)
      } else if key.hasPrefix("count/") {
        let name = key.dropFirst("count/".count)
        type = ResourceCatalog.all.first { $0.qualifiedName == name }
      } else {
        type = nil
      }
      if let type, !types.contains(type) { types.append(type) }
    }
    var total: [String: Quantity] = [:]
    for key in hard { total[key] = .zero }
    for type in types {
      for object in store.list(WatchFilter(type: type, namespace: namespace)).items {
        for (key, amount) in usage(type, object) where total[key] != nil {
          total[key] = (total[key] ?? .zero) + amount
        }
      }
    }
    return total
  }

  private static func hard(_ quota: Value) -> [String: Quantity] {
    var hard: [String: Quantity] = [:]
    for entry in quota.at("spec", "hard")?.mapping ?? Mapping() {
      if let amount = Quantity(entry.value) { hard[entry.key] = amount }
    }
    return hard
  }

  private static func pretty(_ quantities: [String: Quantity], _ keys: [String]) -> String {
    keys.map { "\($0)=\((quantities[$0] ?? .zero).text)" }.joined(separator: ",")
  }

  /// Refuses creating `object` when a quota of its namespace would be exceeded. `name` is the
  /// name the message uses: the object's name, or its `generateName` prefix when the server has
  /// not generated one yet.
  static func admit(_ store: ClusterStore, _ type: ResourceType, _ object: Value, name: String)
    throws(APIError)
  {
    guard let namespace = object.namespace, let quotaType else { return }
    let requested = usage(type, object)
    for quota in store.list(WatchFilter(type: quotaType, namespace: namespace)).items {
      let hard = hard(quota)
      let tracked = requested.keys.filter { hard[$0] != nil }.sorted()
      // Pods must state the compute resources a quota tracks, container by container.
      if type.kind == "Pod", type.group.isEmpty {
        let required = computeKeys.filter { hard[$0] != nil }
        var missing: [String: [String]] = [:]
        for container in object.at("spec", "containers")?.sequence ?? [] {
          for key in required {
            let resource = key.hasSuffix("cpu") ? "cpu" : "memory"
            let kinds = key.hasPrefix("limits.") ? ["limits"] : ["requests", "limits"]
            if !kinds.contains(where: { container.at("resources", $0, resource) != nil }) {
              missing[key, default: []].append(container["name"]?.string ?? "")
            }
          }
        }
        if !missing.isEmpty {
          let detail = missing.keys.sorted().map {
            "\($0) for: \((missing[$0] ?? []).sorted().joined(separator: ","))"
          }.joined(separator: "; ")
          throw forbidden(type, name, "failed quota: \(quota.name): must specify \(detail)")
        }
      }
      guard !tracked.isEmpty else { continue }
      let used = used(store, namespace: namespace, hard: tracked)
      let exceeded = tracked.filter {
        ((used[$0] ?? .zero) + (requested[$0] ?? .zero)).milli > (hard[$0] ?? .zero).milli
      }
      guard !exceeded.isEmpty else { continue }
      throw forbidden(
        type, name,
        "exceeded quota: \(quota.name), requested: \(pretty(requested, exceeded)), used: "
          + "\(pretty(used, exceeded)), limited: \(pretty(hard, exceeded))")
    }
  }

  /// admission.NewForbidden: `pods "web-" is forbidden: ...`.
  private static func forbidden(_ type: ResourceType, _ name: String, _ detail: String) -> APIError
  {
    APIError(
      code: 403, reason: "Forbidden",
      message: "\(type.qualifiedName) \"\(name)\" is forbidden: \(detail)",
      details: ["name": .string(name), "kind": .string(type.plural)])
  }

  /// Writes each quota's `status` (`hard` as asked, `used` as counted now) in `namespace`, where
  /// it changed. Cheap when the namespace has no quota: one lookup.
  static func refresh(_ store: ClusterStore, namespace: String, now: Date) {
    guard let quotaType else { return }
    let quotas = store.list(WatchFilter(type: quotaType, namespace: namespace)).items
    for quota in quotas {
      let hard = hard(quota)
      let used = used(store, namespace: namespace, hard: Array(hard.keys))
      var hardStatus = Mapping()
      var usedStatus = Mapping()
      for key in hard.keys.sorted() {
        hardStatus[key] = .string(hard[key]?.text ?? "0")
        usedStatus[key] = .string(used[key]?.text ?? "0")
      }
      let status: Value = ["hard": .mapping(hardStatus), "used": .mapping(usedStatus)]
      _ = try? store.modify(quotaType, namespace: namespace, name: quota.name, now: now) {
        (current: Value?) throws(APIError) -> Value? in
        guard var current, current["status"] != status else { return nil }
        current.set(["status"], status)
        return current
      }
    }
  }

  /// A pod as a workload's controller would create it from `template`, for admission.
  static func pod(namespace: String, template: Value) -> Value {
    var pod: Value = [
      "apiVersion": "v1", "kind": "Pod", "metadata": ["namespace": .string(namespace)],
      "spec": template["spec"] ?? [:],
    ]
    pod.set(["metadata", "labels"], template.at("metadata", "labels"))
    return pod
  }

  /// How many pods like `pod` a workload may have in its namespace beside the pods that are not
  /// its own (`owned` tells them apart); nil when no quota limits them.
  static func podRoom(_ store: ClusterStore, pod: Value, owned: (Value) -> Bool) -> Int64? {
    guard let quotaType, let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod"),
      let namespace = pod.namespace
    else { return nil }
    let quotas = store.list(WatchFilter(type: quotaType, namespace: namespace)).items
    guard !quotas.isEmpty else { return nil }
    let each = usage(podType, pod)
    let others = store.list(WatchFilter(type: podType, namespace: namespace)).items.filter {
      !owned($0)
    }
    var room: Int64?
    for quota in quotas {
      for (key, limit) in hard(quota) {
        guard let per = each[key], per.milli > 0 else { continue }
        let used = others.reduce(Int64(0)) { $0 + (usage(podType, $1)[key]?.milli ?? 0) }
        room = min(room ?? Int64.max, max(0, (limit.milli - used) / per.milli))
      }
    }
    return room
  }
}
