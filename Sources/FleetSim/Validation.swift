// Validation as the API server does it, for the rules fleet-sim checks: Go-decoder type errors
// (400) and field errors (422 Invalid with one cause per error), worded as
// k8s.io/apimachinery's field.Error and the apps validation in k8s.io/kubernetes word them.
import FleetCore

enum Validation {
  /// One field error: `spec.replicas: Required value`.
  struct FieldError {
    var reason: String
    var field: String
    var detail: String

    var message: String { "\(field): \(detail)" }
  }

  /// Checks an object about to be stored; `old` is the stored object on updates.
  static func check(_ type: ResourceType, _ object: Value, old: Value?) throws(APIError) {
    let hasPods = type.isWorkload || type.kind == "ReplicaSet" || type.kind == "Pod"
    if hasPods { try checkTypes(type, object) }
    // ObjectMeta is validated first, for every kind.
    var errors = NameSyntax.labels(object.at("metadata", "labels"), at: "metadata.labels")
    if hasPods { errors += podOwnerErrors(type, object, old: old) }
    if type == HorizontalPodAutoscalers.storageType {
      errors += HorizontalPodAutoscalers.errors(object)
    }
    guard !errors.isEmpty else { return }
    throw invalid(type, object.name, errors)
  }

  /// The rules of Pods and of the kinds with a pod template.
  private static func podOwnerErrors(_ type: ResourceType, _ object: Value, old: Value?)
    -> [FieldError]
  {
    var errors: [FieldError] = []
    if type.kind != "Pod" {
      errors += NameSyntax.labels(
        object.at("spec", "template", "metadata", "labels"), at: "spec.template.metadata.labels")
    }
    let podSpec = type.kind == "Pod" ? ["spec"] : ["spec", "template", "spec"]
    errors += containers(object.at(podSpec), at: podSpec.joined(separator: "."))
    if type.group == "apps" {
      errors += selectorMatchesTemplate(object)
      // https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
      // "spec.selector ... It must match the pod template's labels" and is immutable in apps/v1.
      if let old, let selector = object.at("spec", "selector"),
        selector != old.at("spec", "selector")
      {
        errors.append(
          FieldError(
            reason: "FieldValueInvalid", field: "spec.selector",
            detail: "Invalid value: \(goLabelSelector(selector)): field is immutable"))
      }
    }
    return errors
  }

  /// Integer fields holding something else: the Go JSON decoder's 400, before any rule runs.
  private static func checkTypes(_ type: ResourceType, _ object: Value) throws(APIError) {
    // https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
    // replicas, minReadySeconds, revisionHistoryLimit, progressDeadlineSeconds are int32.
    let integers: [(String, String)] = [
      ("replicas", "int32"), ("minReadySeconds", "int32"), ("revisionHistoryLimit", "int32"),
      ("progressDeadlineSeconds", "int32"),
    ]
    for (field, goType) in integers {
      guard let value = object.at("spec", field), value.int == nil, !value.isNull else { continue }
      let jsonType: String
      switch value.kind {
      case .string: jsonType = "string"
      case .bool: jsonType = "bool"
      case .sequence: jsonType = "array"
      case .mapping: jsonType = "object"
      default: jsonType = "number"
      }
      throw APIError.badRequest(
        "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): json: "
          + "cannot unmarshal \(jsonType) into Go struct field \(type.kind)Spec.spec.\(field) "
          + "of type \(goType)")
    }
  }

  /// https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Container
  /// `image` is required for workload templates; `imagePullPolicy` is one of Always, Never,
  /// IfNotPresent.
  private static func containers(_ podSpec: Value?, at path: String) -> [FieldError] {
    var errors: [FieldError] = []
    for (index, container) in (podSpec?["containers"]?.sequence ?? []).enumerated() {
      let here = "\(path).containers[\(index)]"
      if (container["image"]?.string ?? "").isEmpty {
        errors.append(
          FieldError(reason: "FieldValueRequired", field: "\(here).image", detail: "Required value")
        )
      }
      if let policy = container["imagePullPolicy"]?.scalarText,
        !["Always", "IfNotPresent", "Never"].contains(policy)
      {
        errors.append(
          FieldError(
            reason: "FieldValueNotSupported", field: "\(here).imagePullPolicy",
            detail: "Unsupported value: \"\(policy)\": supported values: \"Always\", "
              + "\"IfNotPresent\", \"Never\""))
      }
    }
    return errors
  }

  /// https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
  /// "selector ... must match the pod template's labels".
  private static func selectorMatchesTemplate(_ object: Value) -> [FieldError] {
    let matchLabels = object.at("spec", "selector", "matchLabels")?.mapping ?? Mapping()
    let labels = object.at("spec", "template", "metadata", "labels")?.mapping ?? Mapping()
    let matches = matchLabels.allSatisfy { labels[$0.key]?.scalarText == $0.value.scalarText }
    guard !matches else { return [] }
    return [
      FieldError(
        reason: "FieldValueInvalid", field: "spec.template.metadata.labels",
        detail: "Invalid value: \(goMap(labels)): `selector` does not match template `labels`")
    ]
  }

  /// Go's `%#v` of a map[string]string, as the server prints a bad value.
  private static func goMap(_ mapping: Mapping) -> String {
    let entries = mapping.map { "\"\($0.key)\":\"\($0.value.scalarText ?? "")\"" }.sorted()
    return "map[string]string{\(entries.joined(separator: ", "))}"
  }

  private static func goLabelSelector(_ selector: Value) -> String {
    let labels = selector["matchLabels"]?.mapping ?? Mapping()
    return
      "v1.LabelSelector{MatchLabels:\(goMap(labels)), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
  }

  /// The 422 Invalid Status: one cause per error, the message listing them as the server does.
  static func invalid(_ type: ResourceType, _ name: String, _ errors: [FieldError]) -> APIError {
    let qualified = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
    let list =
      errors.count == 1
      ? errors[0].message : "[" + errors.map(\.message).joined(separator: ", ") + "]"
    return APIError(
      code: 422, reason: "Invalid", message: "\(qualified) \"\(name)\" is invalid: \(list)",
      details: [
        "name": .string(name), "group": .string(type.group), "kind": .string(type.kind),
        "causes": .sequence(
          errors.map {
            [
              "reason": .string($0.reason), "message": .string($0.detail),
              "field": .string($0.field),
            ]
          }),
      ])
  }
}
