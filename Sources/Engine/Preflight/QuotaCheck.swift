// Preflight: would the release fit in the ResourceQuotas of its namespace? A rollout that
// exceeds one fails mid-wave with pods that are never created (`FailedCreate ... exceeded
// quota`); preflight compares what the rendered release adds against each quota's
// `hard - used` first.
import FleetCore
import Foundation
import Kube

enum QuotaCheck {
  /// One problem per quota and resource the release would take past its limit.
  static func run(_ objects: [Value], namespace: String, client: KubeClient) async
    -> [PreflightProblem]?
  {
    let quotas: [Value]
    do {
      quotas = try await client.list(apiVersion: "v1", kind: "ResourceQuota", namespace: namespace)
    } catch  where error.code == 403 {
      // No right to read quotas: the rollout does not need it, so say nothing of them.
      return nil
    } catch {
      return [
        PreflightProblem(
          .quota, .error, "cannot read the ResourceQuotas: " + IdentityCheck.reachability(error))
      ]
    }
    guard !quotas.isEmpty else { return [] }
    var needed: [String: Decimal] = [:]
    for object in objects where (object["metadata"]?["namespace"]?.string ?? namespace) == namespace
    {
      for (key, amount) in await adds(object, client: client, namespace: namespace) {
        needed[key, default: 0] += amount
      }
    }
    var problems: [PreflightProblem] = []
    for quota in quotas {
      let name = quota["metadata"]?["name"]?.string ?? "?"
      let hard = quota["status"]?["hard"]?.mapping ?? quota["spec"]?["hard"]?.mapping ?? Mapping()
      let used = quota["status"]?["used"]
      for entry in hard {
        guard let need = needed[entry.key], need > 0,
          let limit = ResourceQuantity.parse(entry.value)
        else { continue }
        let inUse = ResourceQuantity.parse(used?[entry.key]) ?? 0
        let free = max(0, limit - inUse)
        if need > free {
          problems.append(
            PreflightProblem(
              .quota, .error,
              "quota \(name): needs \(entry.key) \(ResourceQuantity.text(need, entry.key)), "
                + "\(ResourceQuantity.text(free, entry.key)) free"))
        }
      }
    }
    return problems
  }

  /// What applying `object` adds to the namespace's usage: one more object of its kind when it
  /// does not exist yet, and the pods its workload runs at the peak of a rollout.
  static func adds(_ object: Value, client: KubeClient, namespace: String) async -> [String:
    Decimal]
  {
    let apiVersion = object["apiVersion"]?.string ?? ""
    let kind = object["kind"]?.string ?? ""
    let name = object["metadata"]?["name"]?.string ?? ""
    var usage: [String: Decimal] = [:]
    guard let mapping = try? await client.mapping(apiVersion: apiVersion, kind: kind) else {
      return usage
    }
    let live = try? await client.get(
      apiVersion: apiVersion, kind: kind, namespace: namespace, name: name)
    if live == nil {
      let qualified =
        mapping.group.isEmpty ? mapping.resource : "\(mapping.resource).\(mapping.group)"
      usage["count/" + qualified] = 1
      if mapping.group.isEmpty,
        ["configmaps", "secrets", "services", "persistentvolumeclaims"].contains(mapping.resource)
      {
        usage[mapping.resource] = 1
      }
    }
    guard let pods = peakPods(object, live: live ?? nil), pods > 0,
      let spec = podSpec(object)
    else { return usage }
    usage["pods", default: 0] += Decimal(pods)
    for (key, amount) in podResources(spec) {
      usage[key, default: 0] += amount * Decimal(pods)
    }
    return usage
  }

  /// How many more pods the workload has at the peak of its rollout than now: a Deployment
  /// its replicas beyond those running now plus `maxSurge` (new pods start before old ones
  /// go); other workloads their growth; nil for kinds that run no pods of their own count.
  static func peakPods(_ object: Value, live: Value?) -> Int? {
    let replicas = object["spec"]?["replicas"]?.int.map(Int.init) ?? 1
    let current = live.map { $0["spec"]?["replicas"]?.int.map(Int.init) ?? 1 } ?? 0
    switch object["kind"]?.string {
    case "Deployment":
      let strategy = object["spec"]?["strategy"]
      let surge =
        strategy?["type"]?.string == "Recreate"
        ? 0 : surgePods(strategy?["rollingUpdate"]?["maxSurge"], replicas: replicas)
      return max(0, replicas - current) + surge
    case "StatefulSet", "ReplicaSet", "ReplicationController":
      return max(0, replicas - current)
    case "Pod":
      return live == nil ? 1 : 0
    case "Job":
      return live == nil ? (object["spec"]?["parallelism"]?.int.map(Int.init) ?? 1) : 0
    default:
      return nil
    }
  }

  /// `maxSurge`: a count, or a percentage of replicas rounded up; 25% when unset.
  static func surgePods(_ value: Value?, replicas: Int) -> Int {
    if let count = value?.int { return Int(count) }
    let text = value?.string ?? "25%"
    if text.hasSuffix("%"), let percent = Int(text.dropLast()) {
      return (replicas * percent + 99) / 100
    }
    return Int(text) ?? 0
  }

  static func podSpec(_ object: Value) -> Value? {
    if object["kind"]?.string == "Pod" { return object["spec"] }
    return object["spec"]?["template"]?["spec"]
  }

  /// A pod's requests and limits under every name a quota tracks them by, as the API server
  /// computes them: the containers' sum, or the largest init container's if that is more;
  /// an unset request defaults to its limit.
  static func podResources(_ spec: Value) -> [String: Decimal] {
    func amounts(_ container: Value) -> [String: Decimal] {
      var result: [String: Decimal] = [:]
      for resource in ["cpu", "memory"] {
        let limit = ResourceQuantity.parse(container["resources"]?["limits"]?[resource])
        let request =
          ResourceQuantity.parse(container["resources"]?["requests"]?[resource]) ?? limit
        if let request {
          result["requests." + resource] = request
          result[resource] = request
        }
        if let limit { result["limits." + resource] = limit }
      }
      return result
    }
    var total: [String: Decimal] = [:]
    for container in spec["containers"]?.sequence ?? [] {
      for (key, amount) in amounts(container) { total[key, default: 0] += amount }
    }
    for container in spec["initContainers"]?.sequence ?? [] {
      for (key, amount) in amounts(container) { total[key] = max(total[key] ?? 0, amount) }
    }
    return total
  }
}

/// Kubernetes resource quantities (`resource.Quantity`): `500m`, `1.5`, `2k`, `128Mi`, `1e3`,
/// `1G`; decimal suffixes k M G T P E, binary Ki Mi Gi Ti Pi Ei, exponents e/E.
public enum ResourceQuantity {
  private static let suffixes: [(String, Decimal)] = [
    ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
    ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
    ("m", Decimal(string: "0.001") ?? 0), ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000),
    ("T", 1_000_000_000_000), ("P", 1_000_000_000_000_000), ("E", 1_000_000_000_000_000_000),
  ]

  /// The amount in base units (cores, bytes, objects); nil when it is not a quantity.
  public static func parse(_ text: String) -> Decimal? {
    var number = Substring(text.trimmingCharacters(in: .whitespaces))
    var factor: Decimal = 1
    if let (suffix, scale) = suffixes.first(where: { number.hasSuffix($0.0) }),
      number.count > suffix.count
    {
      number = number.dropLast(suffix.count)
      factor = scale
    } else if let e = number.firstIndex(where: { $0 == "e" || $0 == "E" }),
      let exponent = Int(number[number.index(after: e)...]), abs(exponent) <= 30
    {
      factor = exponent >= 0 ? pow(10, exponent) : 1 / pow(10, -exponent)
      number = number[..<e]
    }
    guard !number.isEmpty,
      number.allSatisfy({ $0.isNumber || $0 == "." || $0 == "+" || $0 == "-" }),
      let value = Decimal(string: String(number))
    else { return nil }
    return value * factor
  }

  static func parse(_ value: Value?) -> Decimal? {
    if let number = value?.int { return Decimal(number) }
    return value?.string.flatMap(parse)
  }

  /// `1500m`, `2`, `768Mi`: thousandths below one unit, binary suffixes for memory that
  /// divides evenly.
  public static func text(_ amount: Decimal, _ key: String) -> String {
    let whole = NSDecimalNumber(decimal: amount).int64Value
    if Decimal(whole) != amount {
      let milli = NSDecimalNumber(decimal: amount * 1000).int64Value
      return "\(milli)m"
    }
    if key.hasSuffix("memory") || key.hasSuffix("storage") {
      for (suffix, unit) in [
        ("Gi", Int64(1) << 30), ("Mi", Int64(1) << 20), ("Ki", Int64(1) << 10),
      ]
      where whole != 0 && whole % unit == 0 {
        return "\(whole / unit)\(suffix)"
      }
    }
    return "\(whole)"
  }
}
