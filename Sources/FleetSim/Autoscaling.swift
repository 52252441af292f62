// HorizontalPodAutoscalers in both served versions. As in the API server, there is one storage
// (autoscaling/v2) and autoscaling/v1 is converted to and from it on every read and write, the
// way k8s.io/kubernetes pkg/apis/autoscaling/v1/conversion.go converts: v1's
// `targetCPUUtilizationPercentage` is a CPU Utilization metric, and whatever v1 cannot express
// travels in `autoscaling.alpha.kubernetes.io/*` annotations so a v1 round trip loses nothing.
// Nothing acts on HorizontalPodAutoscalers: they are stored, validated, printed and converted.
import FleetCore

enum HorizontalPodAutoscalers {
  /// The storage version, and the preferred one in discovery.
  static let storageType = ResourceType(
    group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers", namespaced: true, shortNames: ["hpa"], hasSpec: true,
    subresources: ["status"])
  /// What `kubectl autoscale` writes.
  static let v1Type = ResourceType(
    group: "autoscaling", version: "v1", kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers", namespaced: true, shortNames: ["hpa"], hasSpec: true,
    subresources: ["status"])

  // pkg/apis/autoscaling/annotations.go: the round-trip annotations of a v1 object.
  static let metricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics"
  static let currentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
  static let conditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"
  static let behaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior"
  private static let roundTripAnnotations = [
    metricsAnnotation, currentMetricsAnnotation, conditionsAnnotation, behaviorAnnotation,
  ]
  /// autoscaling.DefaultCPUUtilization: the target of an HPA that names none.
  static let defaultCPUUtilization: Int64 = 80

  /// The conversion a served type needs, nil for a type that is its own storage.
  static func conversion(for type: ResourceType) -> VersionConversion? {
    guard type == v1Type else { return nil }
    return VersionConversion(
      served: v1Type, storage: storageType, toStorage: fromV1, toServed: toV1)
  }

  // MARK: defaults and validation

  /// pkg/apis/autoscaling/v2/defaults.go: minReplicas 1, a CPU target of 80% when no metric is
  /// named, every unset scaling rule of a given `behavior` filled. A new object's status is the
  /// empty status as the v2 JSON encoding writes it (`currentMetrics` has no omitempty).
  static func defaulted(_ input: Value) -> Value {
    var object = input
    if object.at("spec", "minReplicas") == nil { object.set(["spec", "minReplicas"], 1) }
    if (object.at("spec", "metrics")?.sequence ?? []).isEmpty {
      object.set(["spec", "metrics"], [cpuUtilization(defaultCPUUtilization)])
    }
    if object.at("spec", "behavior")?.mapping != nil {
      object.set(
        ["spec", "behavior", "scaleUp"],
        rules(object.at("spec", "behavior", "scaleUp"), defaults: scaleUpRules))
      object.set(
        ["spec", "behavior", "scaleDown"],
        rules(object.at("spec", "behavior", "scaleDown"), defaults: scaleDownRules))
    }
    if object["status"] == nil {
      object.set(["status"], ["currentMetrics": .null, "desiredReplicas": 0])
    }
    return object
  }

  private static let scaleUpRules: Value = [
    "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
    "policies": [
      ["type": "Pods", "value": 4, "periodSeconds": 15],
      ["type": "Percent", "value": 100, "periodSeconds": 15],
    ],
  ]
  // The scale-down window stays unset: the controller's command line decides it.
  private static let scaleDownRules: Value = [
    "selectPolicy": "Max", "policies": [["type": "Percent", "value": 100, "periodSeconds": 15]],
  ]

  private static func rules(_ given: Value?, defaults: Value) -> Value {
    var filled = defaults
    for entry in given?.mapping ?? Mapping() where !entry.value.isNull {
      filled.set([entry.key], entry.value)
    }
    return filled
  }

  /// pkg/apis/autoscaling/validation ValidateHorizontalPodAutoscalerSpec, in its order, for the
  /// rules fleet-sim checks (https://kubernetes.io/docs/reference/kubernetes-api/
  /// workload-resources/horizontal-pod-autoscaler-v2/: minReplicas >= 1 without the alpha
  /// HPAScaleToZero gate; maxReplicas >= minReplicas; scaleTargetRef kind and name required).
  static func errors(_ object: Value) -> [Validation.FieldError] {
    var errors: [Validation.FieldError] = []
    func invalid(_ field: String, _ value: Int64, _ detail: String) {
      errors.append(
        Validation.FieldError(
          reason: "FieldValueInvalid", field: field, detail: "Invalid value: \(value): \(detail)"))
    }
    let minimum = object.at("spec", "minReplicas")?.int
    let maximum = object.at("spec", "maxReplicas")?.int ?? 0
    if let minimum, minimum < 1 {
      invalid("spec.minReplicas", minimum, "must be greater than or equal to 1")
    }
    if maximum < 1 { invalid("spec.maxReplicas", maximum, "must be greater than 0") }
    if let minimum, maximum < minimum {
      invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`")
    }
    for key in ["kind", "name"]
    where (object.at("spec", "scaleTargetRef", key)?.string ?? "").isEmpty {
      errors.append(
        Validation.FieldError(
          reason: "FieldValueRequired", field: "spec.scaleTargetRef.\(key)",
          detail: "Required value"))
    }
    // validateMetricTarget: a utilization target is a positive percentage.
    for (index, metric) in (object.at("spec", "metrics")?.sequence ?? []).enumerated() {
      guard let source = metric["type"]?.string.flatMap(sourceKey),
        let utilization = metric.at(source, "target", "averageUtilization")?.int, utilization < 1
      else { continue }
      invalid(
        "spec.metrics[\(index)].\(source).target.averageUtilization", utilization,
        "must be greater than 0")
    }
    return errors
  }

  // MARK: printing

  /// The TARGETS cell, as formatHPAMetrics in pkg/printers/internalversion/printers.go writes it:
  /// `cpu: <unknown>/80%`, at most two metrics then `+ N more...`.
  static func targets(_ object: Value) -> String {
    let specs = object.at("spec", "metrics")?.sequence ?? []
    guard !specs.isEmpty else { return "<none>" }
    let statuses = object.at("status", "currentMetrics")?.sequence ?? []
    let texts: [String] = specs.enumerated().map { index, spec in
      let status: Value? = index < statuses.count ? statuses[index] : nil
      func current(_ path: String...) -> String? {
        guard let source = spec["type"]?.string.flatMap(sourceKey) else { return nil }
        return status?.at([source, "current"] + path)?.scalarText
      }
      let unknown = "<unknown>"
      switch spec["type"]?.string {
      case "External", "Object":
        let source = spec["type"] == "External" ? "external" : "object"
        if let average = spec.at(source, "target", "averageValue")?.scalarText {
          return "\(current("averageValue") ?? unknown)/\(average) (avg)"
        }
        let value = spec.at(source, "target", "value")?.scalarText ?? ""
        return "\(current("value") ?? unknown)/\(value)"
      case "Pods":
        let average = spec.at("pods", "target", "averageValue")?.scalarText ?? ""
        return "\(current("averageValue") ?? unknown)/\(average)"
      case "Resource", "ContainerResource":
        let source = spec["type"] == "Resource" ? "resource" : "containerResource"
        let name = spec.at(source, "name")?.string ?? ""
        if let average = spec.at(source, "target", "averageValue")?.scalarText {
          return "\(name): \(current("averageValue") ?? unknown)/\(average)"
        }
        let now = current("averageUtilization").map { "\($0)%" } ?? unknown
        let target =
          spec.at(source, "target", "averageUtilization")?.scalarText.map { "\($0)%" } ?? "<auto>"
        return "\(name): \(now)/\(target)"
      default:
        return "<unknown type>"
      }
    }
    guard texts.count > 2 else { return texts.joined(separator: ", ") }
    return texts.prefix(2).joined(separator: ", ") + " + \(texts.count - 2) more..."
  }

  /// The key of a v2 metric's source for its `type`: `Resource` -> `resource`.
  private static func sourceKey(_ type: String) -> String? {
    switch type {
    case "Resource": "resource"
    case "ContainerResource": "containerResource"
    case "Pods": "pods"
    case "Object": "object"
    case "External": "external"
    default: nil
    }
  }

  private static func cpuUtilization(_ percent: Int64) -> Value {
    [
      "type": "Resource",
      "resource": [
        "name": "cpu", "target": ["type": "Utilization", "averageUtilization": .int(percent)],
      ],
    ]
  }

  // MARK: v2 -> v1

  /// A stored (v2) object as autoscaling/v1 serves it.
  static func toV1(_ stored: Value) -> Value {
    var out: Value = ["kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1"]
    var metadata = stored["metadata"] ?? [:]
    var annotations = withoutRoundTrip(metadata["annotations"]?.mapping ?? Mapping())
    let metrics = stored.at("spec", "metrics")?.sequence ?? []
    let other = metrics.filter { !isCPUUtilization($0) }
    if !other.isEmpty {
      annotations[metricsAnnotation] = .string(
        JSONWriter.string(.sequence(other.map { v1Metric($0, "target") })))
    }
    let currentMetrics = stored.at("status", "currentMetrics")?.sequence ?? []
    if !currentMetrics.isEmpty {
      annotations[currentMetricsAnnotation] = .string(
        JSONWriter.string(.sequence(currentMetrics.map { v1Metric($0, "current") })))
    }
    if let behavior = stored.at("spec", "behavior"), behavior.mapping != nil {
      annotations[behaviorAnnotation] = .string(JSONWriter.string(goBehavior(behavior)))
    }
    if let conditions = stored.at("status", "conditions")?.sequence, !conditions.isEmpty {
      annotations[conditionsAnnotation] = .string(JSONWriter.string(.sequence(conditions)))
    }
    metadata.set(["annotations"], annotations.isEmpty ? nil : .mapping(annotations))
    out.set(["metadata"], metadata)

    var spec: Value = [:]
    spec.set(["scaleTargetRef"], stored.at("spec", "scaleTargetRef") ?? [:])
    spec.set(["minReplicas"], stored.at("spec", "minReplicas"))
    spec.set(["maxReplicas"], stored.at("spec", "maxReplicas") ?? 0)
    // The first CPU Resource metric decides, with or without a utilization target.
    if let cpu = metrics.first(where: {
      $0["type"] == "Resource" && $0.at("resource", "name") == "cpu"
    }) {
      spec.set(
        ["targetCPUUtilizationPercentage"], cpu.at("resource", "target", "averageUtilization"))
    }
    out.set(["spec"], spec)

    var status: Value = [:]
    for key in ["observedGeneration", "lastScaleTime"] {
      status.set([key], stored.at("status", key))
    }
    status.set(["currentReplicas"], stored.at("status", "currentReplicas") ?? 0)
    status.set(["desiredReplicas"], stored.at("status", "desiredReplicas") ?? 0)
    for metric in currentMetrics
    where metric["type"] == "Resource" && metric.at("resource", "name") == "cpu" {
      if let now = metric.at("resource", "current", "averageUtilization") {
        status.set(["currentCPUUtilizationPercentage"], now)
      }
    }
    out.set(["status"], status)
    return out
  }

  private static func isCPUUtilization(_ metric: Value) -> Bool {
    metric["type"] == "Resource" && metric.at("resource", "name") == "cpu"
      && metric.at("resource", "target", "averageUtilization") != nil
  }

  private static func withoutRoundTrip(_ annotations: Mapping) -> Mapping {
    var kept = annotations
    for key in roundTripAnnotations { kept[key] = nil }
    return kept
  }

  /// A v2 MetricSpec (`part` "target") or MetricStatus (`part` "current") in v1's shape, the
  /// v2beta1 one: the target or current values flattened into the source with `part` prefixed.
  private static func v1Metric(_ metric: Value, _ part: String) -> Value {
    let type = metric["type"]?.string ?? ""
    var out: Value = ["type": .string(type)]
    guard let key = sourceKey(type), let source = metric[key] else { return out }
    let values = source[part]
    var flat: Value = [:]
    switch type {
    case "Object":
      flat.set(["target"], source["describedObject"])
      flat.set(["metricName"], source.at("metric", "name"))
      flat.set([part + "Value"], values?["value"])
      flat.set(["selector"], source.at("metric", "selector"))
      flat.set(["averageValue"], values?["averageValue"])
    case "Pods":
      flat.set(["metricName"], source.at("metric", "name"))
      flat.set([part + "AverageValue"], values?["averageValue"])
      flat.set(["selector"], source.at("metric", "selector"))
    case "External":
      flat.set(["metricName"], source.at("metric", "name"))
      flat.set(["metricSelector"], source.at("metric", "selector"))
      flat.set([part + "Value"], values?["value"])
      flat.set([part + "AverageValue"], values?["averageValue"])
    default:
      flat.set(["name"], source["name"])
      flat.set([part + "AverageUtilization"], values?["averageUtilization"])
      // v1's currentAverageValue is a required Quantity; its target is optional.
      let average = values?["averageValue"] ?? (part == "current" ? "0" : nil)
      flat.set([part + "AverageValue"], average)
      flat.set(["container"], source["container"])
    }
    out.set([key], flat)
    return out
  }

  // MARK: v1 -> v2

  /// An autoscaling/v1 object as the storage keeps it. `metadata` and identity are carried
  /// over unchecked: the write path checks them against the v1 request as for any type.
  static func fromV1(_ served: Value) throws(APIError) -> Value {
    var out = served
    if served["apiVersion"]?.string == v1Type.apiVersion {
      out.set(["apiVersion"], .string(storageType.apiVersion))
    }
    let annotations = served.at("metadata", "annotations")?.mapping ?? Mapping()
    if !annotations.isEmpty {
      let kept = withoutRoundTrip(annotations)
      out.set(["metadata", "annotations"], kept.isEmpty ? nil : .mapping(kept))
    }
    // A body without a status (a create, an apply configuration) stays without one: the
    // storage's defaults fill it, and an applier does not come to own it.
    var status = served["status"].map(v2Status)
    if let text = annotations[currentMetricsAnnotation]?.string {
      // The annotation has more than currentCPUUtilizationPercentage: it wins.
      status = status ?? v2Status([:])
      status?.set(
        ["currentMetrics"],
        .sequence(try decoded(text, currentMetricsAnnotation).map { v2Metric($0, "current") }))
    }
    if let text = annotations[conditionsAnnotation]?.string {
      status = status ?? v2Status([:])
      status?.set(["conditions"], .sequence(try decoded(text, conditionsAnnotation)))
    }
    out.set(["status"], status)
    // An apply configuration or patch without a spec stays without one.
    guard let spec = served["spec"] else { return out }
    var v2: Value = [:]
    v2.set(["scaleTargetRef"], spec["scaleTargetRef"])
    v2.set(["minReplicas"], spec["minReplicas"])
    v2.set(["maxReplicas"], spec["maxReplicas"])
    var metrics: [Value] = []
    if let percent = spec["targetCPUUtilizationPercentage"], !percent.isNull {
      var metric = cpuUtilization(0)
      metric.set(["resource", "target", "averageUtilization"], percent)
      metrics.append(metric)
    }
    if let text = annotations[metricsAnnotation]?.string {
      metrics += try decoded(text, metricsAnnotation).map { v2Metric($0, "target") }
    }
    // v1 once defaulted the CPU target in the controller; the conversion makes it explicit.
    if metrics.isEmpty { metrics.append(cpuUtilization(defaultCPUUtilization)) }
    v2.set(["metrics"], .sequence(metrics))
    if let text = annotations[behaviorAnnotation]?.string {
      v2.set(["behavior"], jsonFieldNames(try decodedValue(text, behaviorAnnotation)))
    }
    out.set(["spec"], v2)
    return out
  }

  private static func v2Status(_ v1: Value) -> Value {
    var status: Value = [:]
    for key in ["observedGeneration", "lastScaleTime", "currentReplicas"] {
      status.set([key], v1[key])
    }
    status.set(["desiredReplicas"], v1["desiredReplicas"] ?? 0)
    if let percent = v1["currentCPUUtilizationPercentage"], !percent.isNull {
      status.set(
        ["currentMetrics"],
        [
          [
            "type": "Resource",
            "resource": ["name": "cpu", "current": ["averageUtilization": percent]],
          ]
        ])
    } else {
      status.set(["currentMetrics"], .null)
    }
    return status
  }

  private static func decodedValue(_ text: String, _ annotation: String) throws(APIError) -> Value {
    do {
      return try JSONReader.parse(text, path: annotation)
    } catch {
      throw APIError.badRequest(
        "HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
          + "HorizontalPodAutoscaler: annotation \(annotation): \(error.headline)")
    }
  }

  private static func decoded(_ text: String, _ annotation: String) throws(APIError) -> [Value] {
    guard let items = try decodedValue(text, annotation).sequence else {
      throw APIError.badRequest(
        "HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
          + "HorizontalPodAutoscaler: annotation \(annotation): not a JSON array")
    }
    return items
  }

  /// A v1 (v2beta1-shaped) MetricSpec (`part` "target") or MetricStatus (`part` "current") as
  /// v2 writes it. A target gets the type the v1 conversion infers from which value is set.
  private static func v2Metric(_ metric: Value, _ part: String) -> Value {
    let type = metric["type"]?.string ?? ""
    var out: Value = ["type": .string(type)]
    guard let key = sourceKey(type), let flat = metric[key] else { return out }
    let value = flat[part + "Value"]
    let average = flat[type == "Object" ? "averageValue" : part + "AverageValue"]
    let utilization = flat[part + "AverageUtilization"]
    var values: Value = [:]
    if part == "target" {
      let inferred: String
      switch type {
      case "Object": inferred = average == nil ? "Value" : "AverageValue"
      case "External": inferred = value == nil ? "AverageValue" : "Value"
      case "Pods": inferred = "AverageValue"
      default: inferred = utilization == nil ? "AverageValue" : "Utilization"
      }
      values.set(["type"], .string(inferred))
    }
    values.set(["value"], value)
    values.set(["averageValue"], average)
    values.set(["averageUtilization"], utilization)
    var source: Value = [:]
    switch type {
    case "Object":
      source.set(["describedObject"], flat["target"])
      source.set([part], values)
      source.set(["metric"], identifier(flat["metricName"], flat["selector"]))
    case "Pods", "External":
      let selector = type == "Pods" ? "selector" : "metricSelector"
      source.set(["metric"], identifier(flat["metricName"], flat[selector]))
      source.set([part], values)
    default:
      source.set(["name"], flat["name"])
      source.set([part], values)
      source.set(["container"], flat["container"])
    }
    out.set([key], source)
    return out
  }

  private static func identifier(_ name: Value?, _ selector: Value?) -> Value {
    var metric: Value = ["name": name ?? ""]
    metric.set(["selector"], selector)
    return metric
  }

  /// The v1 conversion marshals the internal behavior type, which has no JSON tags: Go field
  /// names, and `null` for every unset pointer.
  private static func goBehavior(_ behavior: Value) -> Value {
    var out: Value = [:]
    for (field, goField) in [("scaleUp", "ScaleUp"), ("scaleDown", "ScaleDown")] {
      guard let rules = behavior[field], rules.mapping != nil else {
        out.set([goField], .null)
        continue
      }
      let policies = rules["policies"]?.sequence.map { policies -> Value in
        .sequence(
          policies.map {
            [
              "Type": $0["type"] ?? "", "Value": $0["value"] ?? 0,
              "PeriodSeconds": $0["periodSeconds"] ?? 0,
            ]
          })
      }
      out.set(
        [goField],
        [
          "StabilizationWindowSeconds": rules["stabilizationWindowSeconds"] ?? .null,
          "SelectPolicy": rules["selectPolicy"] ?? .null, "Policies": policies ?? .null,
        ])
    }
    return out
  }

  /// Go's decoder matches field names case-insensitively, and a `null` leaves a pointer unset:
  /// `ScaleUp` -> `scaleUp`, nulls dropped, all the way down.
  private static func jsonFieldNames(_ value: Value) -> Value {
    if let items = value.sequence { return .sequence(items.map(jsonFieldNames)) }
    guard let mapping = value.mapping else { return value }
    var renamed = Mapping()
    for entry in mapping where !entry.value.isNull {
      renamed[entry.key.prefix(1).lowercased() + entry.key.dropFirst()] = jsonFieldNames(
        entry.value)
    }
    return .mapping(renamed)
  }
}
/// How a served version maps onto the version the store keeps, both ways.
struct VersionConversion: Sendable {
  let served: ResourceType
  let storage: ResourceType
  let toStorage: @Sendable (Value) throws(APIError) -> Value
  let toServed: @Sendable (Value) -> Value

  /// A request body in the served version, in the storage version; a body naming another
  /// version is refused with the served version in the message, as for any type.
  func stored(_ body: Value) throws(APIError) -> Value {
    if let apiVersion = body["apiVersion"]?.string, apiVersion != served.apiVersion {
      throw APIError.badRequest(
        "the API version in the data (\(apiVersion)) does not match the expected API version "
          + "(\(served.apiVersion))")
    }
    return try toStorage(body)
  }

  /// An answer in the served version: objects, lists, the objects a Table carries, watch
  /// events. Tables are printed from the storage version, as the API server prints from its
  /// internal version. The write paths serialize as they answer, so the body is read back
  /// here rather than threading the conversion through every one of them.
  func answer(_ result: APIResult) -> APIResult {
    switch result {
    case .response(let status, let headers, let body) where (200..<300).contains(status):
      guard let value = try? JSONReader.parse(body) else { return result }
      return .response(status: status, headers: headers, body: JSONWriter.bytes(converted(value)))
    case .watch(var plan):
      let render = plan.render
      plan.render = { [self] object in render.map { converted($0(object)) } ?? converted(object) }
      return .watch(plan)
    default:
      return result
    }
  }

  private func converted(_ value: Value) -> Value {
    switch value["kind"]?.string {
    case storage.kind where value["apiVersion"]?.string == storage.apiVersion:
      return toServed(value)
    case storage.kind + "List":
      var list = value
      list.set(["apiVersion"], .string(served.apiVersion))
      list.set(["items"], .sequence((value["items"]?.sequence ?? []).map(toServed)))
      return list
    case "Table":
      var table = value
      let rows = (value["rows"]?.sequence ?? []).map { row in
        var converted = row
        if let object = row["object"], object["kind"]?.string == storage.kind {
          converted.set(["object"], toServed(object))
        }
        return converted
      }
      table.set(["rows"], .sequence(rows))
      return table
    default:
      return value
    }
  }
}
