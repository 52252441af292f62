// What the apiextensions-apiserver's controllers do to CustomResourceDefinitions, run after each
// write to one: the naming controller (`NamesAccepted`, `status.acceptedNames`), the
// establishing controller (`Established`), and the cleanup that deletes a removed CRD's
// resources. They run synchronously in the writing request, after the write is answered from
// the store, so a client sees the CRD first without conditions, as from a real server.
import FleetCore
import Foundation

enum CRDController {
  private static var definitionType: ResourceType { CustomResources.definitionType }

  /// Checks a CRD about to be stored, as the API server's CRD validation does for the rules a
  /// chart most often breaks.
  static func validate(_ definition: Value) throws(APIError) {
    var errors: [Validation.FieldError] = []
    let group = definition.at("spec", "group")?.string ?? ""
    let plural = definition.at("spec", "names", "plural")?.string ?? ""
    if group.isEmpty {
      errors.append(
        .init(reason: "FieldValueRequired", field: "spec.group", detail: "Required value"))
    }
    if plural.isEmpty {
      errors.append(
        .init(reason: "FieldValueRequired", field: "spec.names.plural", detail: "Required value"))
    }
    if (definition.at("spec", "names", "kind")?.string ?? "").isEmpty {
      errors.append(
        .init(reason: "FieldValueRequired", field: "spec.names.kind", detail: "Required value"))
    }
    if !group.isEmpty, !plural.isEmpty, definition.name != "\(plural).\(group)" {
      errors.append(
        .init(
          reason: "FieldValueInvalid", field: "metadata.name",
          detail:
            "Invalid value: \"\(definition.name)\": must be spec.names.plural+\".\"+spec.group"))
    }
    let versions = definition.at("spec", "versions")?.sequence ?? []
    if versions.isEmpty {
      errors.append(
        .init(
          reason: "FieldValueInvalid", field: "spec.versions",
          detail: "Invalid value: "
            + "[]apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version "
            + "marked as storage version"))
    } else if versions.filter({ $0["storage"]?.bool ?? false }).count != 1 {
      errors.append(
        .init(
          reason: "FieldValueInvalid", field: "spec.versions",
          detail:
            "Invalid value: \(JSONWriter.string(.sequence(versions.compactMap { $0["name"] }))): "
            + "must have exactly one version marked as storage version"))
    }
    guard !errors.isEmpty else { return }
    throw Validation.invalid(definitionType, definition.name, errors)
  }

  /// The names a CRD asks for, with the defaults the API server fills in.
  private static func requestedNames(_ definition: Value) -> Value {
    var names = definition.at("spec", "names") ?? [:]
    let kind = names["kind"]?.string ?? ""
    if names["singular"]?.string?.isEmpty ?? true {
      names.set(["singular"], .string(kind.lowercased()))
    }
    if names["listKind"]?.string?.isEmpty ?? true {
      names.set(["listKind"], .string(kind + "List"))
    }
    return names
  }

  private static func condition(
    _ type: String, _ status: String, _ reason: String, _ message: String, now: String,
    previous: Value?
  ) -> Value {
    let unchanged = previous?["status"]?.string == status
    return [
      "type": .string(type), "status": .string(status),
      "lastTransitionTime": unchanged
        ? (previous?["lastTransitionTime"] ?? .string(now)) : .string(now),
      "reason": .string(reason), "message": .string(message),
    ]
  }

  /// Runs the naming and establishing controllers over every CRD of the cluster; oldest first,
  /// so a name already accepted stays with the CRD that has it.
  static func reconcile(_ store: ClusterStore, now: Date) {
    let filter = WatchFilter(type: definitionType, namespace: nil, selector: nil, name: nil)
    let definitions = store.list(filter).items.sorted {
      let a = $0.at("metadata", "creationTimestamp")?.string ?? ""
      let b = $1.at("metadata", "creationTimestamp")?.string ?? ""
      return a == b ? $0.name < $1.name : a < b
    }
    // Names accepted per group: resource names (plural, singular, short) and kinds.
    var accepted: [String: [String: (resources: Set<String>, kinds: Set<String>)]] = [:]
    for definition in definitions {
      let names = definition.at("status", "acceptedNames") ?? [:]
      let group = definition.at("spec", "group")?.string ?? ""
      var resources = Set([names["plural"], names["singular"]].compactMap { $0?.string })
      resources.formUnion(names["shortNames"]?.sequence?.compactMap(\.string) ?? [])
      let kinds = Set([names["kind"], names["listKind"]].compactMap { $0?.string })
      accepted[group, default: [:]][definition.name] = (
        resources.subtracting([""]), kinds.subtracting([""])
      )
    }
    let stamp = KubeTime.format(now)
    for definition in definitions {
      let group = definition.at("spec", "group")?.string ?? ""
      var taken: (resources: Set<String>, kinds: Set<String>) = ([], [])
      for (name, claim) in accepted[group] ?? [:] where name != definition.name {
        taken.resources.formUnion(claim.resources)
        taken.kinds.formUnion(claim.kinds)
      }
      let requested = requestedNames(definition)
      // apiextensions-apiserver's naming controller: the last conflict found is reported.
      var conflict: (reason: String, message: String)?
      for (key, reason) in [("plural", "PluralConflict"), ("singular", "SingularConflict")] {
        if let name = requested[key]?.string, taken.resources.contains(name) {
          conflict = (reason, "\"\(name)\" is already in use")
        }
      }
      for name in requested["shortNames"]?.sequence?.compactMap(\.string) ?? []
      where taken.resources.contains(name) {
        conflict = ("ShortNamesConflict", "\"\(name)\" is already in use")
      }
      for (key, reason) in [("kind", "KindConflict"), ("listKind", "ListKindConflict")] {
        if let name = requested[key]?.string, taken.kinds.contains(name) {
          conflict = (reason, "\"\(name)\" is already in use")
        }
      }
      let conditions = definition.at("status", "conditions")?.sequence ?? []
      func previous(_ type: String) -> Value? { conditions.first { $0["type"]?.string == type } }
      var status = definition["status"] ?? [:]
      let namesAccepted: Value
      let established: Value
      if let conflict {
        namesAccepted = condition(
          "NamesAccepted", "False", conflict.reason, conflict.message, now: stamp,
          previous: previous("NamesAccepted"))
        established =
          previous("Established")
          ?? condition(
            "Established", "False", "NotAccepted", "not all names are accepted", now: stamp,
            previous: nil)
      } else {
        namesAccepted = condition(
          "NamesAccepted", "True", "NoConflicts", "no conflicts found", now: stamp,
          previous: previous("NamesAccepted"))
        established =
          previous("Established")?["status"]?.string == "True"
          ? (previous("Established") ?? .null)
          : condition(
            "Established", "True", "InitialNamesAccepted", "the initial names have been accepted",
            now: stamp, previous: previous("Established"))
        status.set(["acceptedNames"], requested)
        var resources = Set([requested["plural"], requested["singular"]].compactMap { $0?.string })
        resources.formUnion(requested["shortNames"]?.sequence?.compactMap(\.string) ?? [])
        accepted[group, default: [:]][definition.name] = (
          resources, Set([requested["kind"], requested["listKind"]].compactMap { $0?.string })
        )
      }
      status.set(["conditions"], [namesAccepted, established])
      let storage = (definition.at("spec", "versions")?.sequence ?? []).first {
        $0["storage"]?.bool ?? false
      }?["name"]
      var stored = status["storedVersions"]?.sequence ?? []
      if let storage, !stored.contains(storage) { stored.append(storage) }
      status.set(["storedVersions"], .sequence(stored))
      if status.at("acceptedNames") == nil {
        status.set(["acceptedNames"], ["plural": "", "kind": ""])
      }
      guard status != definition["status"] else { continue }
      _ = try? store.modify(definitionType, namespace: nil, name: definition.name, now: now) {
        (current: Value?) throws(APIError) -> Value? in
        guard var current else { return nil }
        current.set(["status"], status)
        return current
      }
    }
  }

  /// Deletes every resource of a deleted CRD, in every version it served, as the API server's
  /// `customresourcecleanup` finalizer does before the CRD goes.
  static func removeInstances(of definition: Value, _ store: ClusterStore) {
    for version in definition.at("spec", "versions")?.sequence ?? [] {
      guard let type = CustomResources.type(definition, version) else { continue }
      for object in store.all(type) {
        _ = store.delete(type, namespace: object.namespace, name: object.name)
      }
    }
  }
}
