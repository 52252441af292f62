// Field ownership for server-side apply: which manager owns which field, conflicts, and the
// `metadata.managedFields` entries (FieldsV1) that record it on each object.
import FleetCore
import Foundation

/// A path to one field: `f:spec`, `k:{"name":"app"}` (list item by merge key), `v:"x"` (set item).
typealias FieldPath = [String]

enum FieldSet {
  /// Top-level and metadata fields the server owns; never part of anyone's field set.
  private static let ignoredTop: Set<String> = ["apiVersion", "kind", "status"]
  private static let ignoredMetadata: Set<String> = [
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "deletionTimestamp", "selfLink",
  ]

  /// Every owned path of an object: leaves, and list items (which own themselves and children).
  static func paths(of object: Value) -> Set<FieldPath> {
    var result = Set<FieldPath>()
    for entry in object.mapping ?? Mapping() where !ignoredTop.contains(entry.key) {
      if entry.key == "metadata" {
        for meta in entry.value.mapping ?? Mapping() where !ignoredMetadata.contains(meta.key) {
          walk(meta.value, field: meta.key, path: ["f:metadata", "f:" + meta.key], into: &result)
        }
      } else {
        walk(entry.value, field: entry.key, path: ["f:" + entry.key], into: &result)
      }
    }
    return result
  }

  private static func walk(
    _ value: Value, field: String, path: FieldPath, into result: inout Set<FieldPath>
  ) {
    if let mapping = value.mapping, !mapping.isEmpty {
      for entry in mapping {
        walk(entry.value, field: entry.key, path: path + ["f:" + entry.key], into: &result)
      }
      return
    }
    if let items = value.sequence, !items.isEmpty {
      if StrategicMergePatch.setLists.contains(field), items.allSatisfy({ $0.scalarText != nil }) {
        for item in items { result.insert(path + ["v:" + JSONWriter.string(item.unmarked)]) }
        return
      }
      if let key = StrategicMergePatch.mergeKey(field: field, items: items),
        items.allSatisfy({ $0[key] != nil })
      {
        for item in items {
          let itemPath = path + [itemElement(key, item)]
          result.insert(itemPath)
          for entry in item.mapping ?? Mapping() {
            walk(entry.value, field: entry.key, path: itemPath + ["f:" + entry.key], into: &result)
          }
        }
        return
      }
    }
    result.insert(path)
  }

  static func itemElement(_ key: String, _ item: Value) -> String {
    let keyValue: Value = .mapping(
      Mapping([Mapping.Entry(key: key, value: item[key]?.unmarked ?? .null)]))
    return "k:" + JSONWriter.string(keyValue)
  }

  /// The value a path leads to in an object, if present.
  static func value(at path: FieldPath, in object: Value) -> Value? {
    var current = object
    for element in path {
      if element.hasPrefix("f:") {
        guard let next = current[String(element.dropFirst(2))] else { return nil }
        current = next
      } else if element.hasPrefix("k:") {
        guard let items = current.sequence,
          let wanted = try? JSONReader.parse(String(element.dropFirst(2))),
          let keys = wanted.mapping,
          let item = items.first(where: { item in keys.allSatisfy { item[$0.key] == $0.value } })
        else { return nil }
        current = item
      } else if element.hasPrefix("v:") {
        guard let items = current.sequence,
          let wanted = try? JSONReader.parse(String(element.dropFirst(2))),
          items.contains(wanted)
        else { return nil }
        current = wanted
      } else {
        return nil
      }
    }
    return current
  }

  /// Removes the field or item a path leads to; missing paths are left alone.
  static func remove(_ path: FieldPath, from object: Value) -> Value {
    guard let element = path.first else { return object }
    let rest = Array(path.dropFirst())
    if element.hasPrefix("f:"), var mapping = object.mapping {
      let key = String(element.dropFirst(2))
      guard let child = mapping[key] else { return object }
      if rest.isEmpty {
        mapping[key] = nil
      } else {
        let updated = remove(rest, from: child)
        // Emptied mappings go too, as the real server prunes them.
        if let m = updated.mapping, m.isEmpty, child.mapping?.isEmpty == false {
          mapping[key] = nil
        } else {
          mapping[key] = updated
        }
      }
      return .mapping(mapping)
    }
    if var items = object.sequence {
      guard let index = items.firstIndex(where: { matchesElement($0, element) }) else {
        return object
      }
      if rest.isEmpty {
        items.remove(at: index)
      } else {
        items[index] = remove(rest, from: items[index])
      }
      return .sequence(items)
    }
    return object
  }

  private static func matchesElement(_ item: Value, _ element: String) -> Bool {
    guard let wanted = try? JSONReader.parse(String(element.dropFirst(2))) else { return false }
    if element.hasPrefix("k:"), let keys = wanted.mapping {
      return keys.allSatisfy { item[$0.key] == $0.value }
    }
    return element.hasPrefix("v:") && item == wanted
  }

  /// `.spec.template.spec.containers[name="app"].image`, as the API server prints conflicts.
  static func render(_ path: FieldPath) -> String {
    var out = ""
    for element in path {
      if element.hasPrefix("f:") {
        out += "." + element.dropFirst(2)
      } else if element.hasPrefix("k:"),
        let keys = try? JSONReader.parse(String(element.dropFirst(2))).mapping
      {
        out +=
          "["
          + keys.map { "\($0.key)=\(JSONWriter.string($0.value.unmarked))" }.joined(separator: ",")
          + "]"
      } else {
        out += "[=" + element.dropFirst(2) + "]"
      }
    }
    return out
  }

  // MARK: FieldsV1 encoding

  static func encode(_ paths: Set<FieldPath>) -> Value {
    final class Node {
      var children: [String: Node] = [:]
      var order: [String] = []
      var isMember = false
      func child(_ key: String) -> Node {
        if let node = children[key] { return node }
        let node = Node()
        children[key] = node
        order.append(key)
        return node
      }
      func value() -> Value {
        var mapping = Mapping()
        if isMember && !children.isEmpty { mapping["."] = .mapping(Mapping()) }
        for key in order.sorted() { mapping[key] = children[key]?.value() }
        return .mapping(mapping)
      }
    }
    let root = Node()
    for path in paths {
      var node = root
      for element in path { node = node.child(element) }
      node.isMember = true
    }
    return root.value()
  }

  static func decode(_ fields: Value) -> Set<FieldPath> {
    var result = Set<FieldPath>()
    func visit(_ value: Value, _ path: FieldPath) {
      guard let mapping = value.mapping else { return }
      if mapping.isEmpty, !path.isEmpty {
        result.insert(path)
        return
      }
      for entry in mapping {
        if entry.key == "." {
          result.insert(path)
        } else {
          visit(entry.value, path + [entry.key])
        }
      }
    }
    visit(fields, [])
    return result
  }
}

/// One `metadata.managedFields` entry.
struct ManagerEntry {
  var manager: String
  var operation: String
  var apiVersion: String
  var time: String
  var subresource: String?
  var fields: Set<FieldPath>

  static func entries(of object: Value) -> [ManagerEntry] {
    (object.at("metadata", "managedFields")?.sequence ?? []).compactMap { entry in
      guard let manager = entry["manager"]?.string else { return nil }
      return ManagerEntry(
        manager: manager, operation: entry["operation"]?.string ?? "Update",
        apiVersion: entry["apiVersion"]?.string ?? "", time: entry["time"]?.string ?? "",
        subresource: entry["subresource"]?.string,
        fields: FieldSet.decode(entry["fieldsV1"] ?? .null))
    }
  }

  var value: Value {
    var mapping = Mapping()
    mapping["manager"] = .string(manager)
    mapping["operation"] = .string(operation)
    mapping["apiVersion"] = .string(apiVersion)
    mapping["time"] = .string(time)
    mapping["fieldsType"] = "FieldsV1"
    mapping["fieldsV1"] = FieldSet.encode(fields)
    if let subresource { mapping["subresource"] = .string(subresource) }
    return .mapping(mapping)
  }

  static func store(_ entries: [ManagerEntry], in object: inout Value) {
    let kept = entries.filter { !$0.fields.isEmpty }
    object.set(
      ["metadata", "managedFields"], kept.isEmpty ? Value?.none : .sequence(kept.map(\.value)))
  }
}

/// Server-side apply and the ownership bookkeeping of ordinary writes.
enum FieldOwnership {
  struct Conflict: Error {
    var message: String
    var causes: [Value]
  }

  /// Merges an applied configuration into the live object (nil when creating) for `manager`.
  static func apply(
    _ applied: Value, to live: Value?, manager: String, force: Bool, apiVersion: String, now: String
  ) throws(Conflict) -> Value {
    let appliedPaths = FieldSet.paths(of: applied)
    var entries = live.map(ManagerEntry.entries) ?? []
    var conflicts: [(manager: String, path: FieldPath)] = []
    if let live {
      for (i, entry) in entries.enumerated()
      where !(entry.manager == manager && entry.operation == "Apply") {
        for path in entry.fields.intersection(appliedPaths).sorted(by: {
          $0.lexicographicallyPrecedes($1)
        }) {
          let current = FieldSet.value(at: path, in: live)
          let wanted = FieldSet.value(at: path, in: applied)
          let isItem = path.last?.hasPrefix("k:") ?? false
          guard !isItem, current != wanted else { continue }
          if force {
            entries[i].fields.remove(path)
          } else {
            conflicts.append((entry.manager, path))
          }
        }
      }
    }
    if !conflicts.isEmpty {
      throw Conflict(
        message: conflictMessage(conflicts, apiVersion: apiVersion),
        causes: conflicts.map {
          [
            "reason": "FieldManagerConflict",
            "message": .string("conflict with \"\($0.manager)\" using \(apiVersion)"),
            "field": .string(FieldSet.render($0.path)),
          ]
        })
    }
    let previous = entries.first { $0.manager == manager && $0.operation == "Apply" }?.fields ?? []
    let othersOwn = entries.filter { !($0.manager == manager && $0.operation == "Apply") }
      .reduce(into: Set<FieldPath>()) { $0.formUnion($1.fields) }
    var merged = live ?? .mapping(Mapping())
    let dropped = previous.subtracting(appliedPaths).subtracting(othersOwn)
    for path in dropped.sorted(by: { $0.count > $1.count }) {
      merged = FieldSet.remove(path, from: merged)
    }
    let preserved = merged.at("metadata", "managedFields")
    merged = (try? StrategicMergePatch.apply(applied, to: merged)) ?? merged
    merged.set(["metadata", "managedFields"], preserved)
    entries.removeAll { $0.manager == manager && $0.operation == "Apply" }
    entries.append(
      ManagerEntry(
        manager: manager, operation: "Apply", apiVersion: apiVersion, time: now, subresource: nil,
        fields: appliedPaths))
    ManagerEntry.store(entries, in: &merged)
    return merged
  }

  private static func conflictMessage(
    _ conflicts: [(manager: String, path: FieldPath)], apiVersion: String
  )
    -> String
  {
    let managers = Set(conflicts.map(\.manager))
    let noun = conflicts.count == 1 ? "conflict" : "conflicts"
    if conflicts.count == 1, let only = conflicts.first {
      return "Apply failed with 1 conflict: conflict with \"\(only.manager)\" using \(apiVersion): "
        + FieldSet.render(only.path)
    }
    // The first manager's heading shares the summary line; later ones start their own.
    var text = "Apply failed with \(conflicts.count) \(noun):"
    for (index, name) in managers.sorted().enumerated() {
      text += (index == 0 ? " " : "\n") + "conflicts with \"\(name)\" using \(apiVersion):"
      for conflict in conflicts where conflict.manager == name {
        text += "\n- " + FieldSet.render(conflict.path)
      }
    }
    return text
  }

  /// Records an ordinary write (create, update, non-apply patch) by `manager`: it takes the
  /// fields it changed; fields that disappeared leave every manager.
  static func recordUpdate(
    old: Value?, new: inout Value, manager: String, apiVersion: String, now: String,
    subresource: String? = nil
  ) {
    let newPaths = FieldSet.paths(of: new)
    var entries = old.map(ManagerEntry.entries) ?? []
    // A client may rewrite managedFields itself (kubectl does when it moves an object from
    // client-side to server-side apply); what it sent then becomes the starting point.
    if let sent = new.at("metadata", "managedFields"), sent != old?.at("metadata", "managedFields")
    {
      entries = ManagerEntry.entries(of: new)
    }
    let changed: Set<FieldPath>
    if let old {
      let oldPaths = FieldSet.paths(of: old)
      changed = newPaths.filter {
        !oldPaths.contains($0) || FieldSet.value(at: $0, in: old) != FieldSet.value(at: $0, in: new)
      }
    } else {
      changed = newPaths
    }
    for i in entries.indices {
      entries[i].fields = entries[i].fields.intersection(newPaths)
      if !(entries[i].manager == manager && entries[i].operation == "Update") {
        entries[i].fields.subtract(changed)
      }
    }
    if !changed.isEmpty {
      if let i = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" }) {
        entries[i].fields.formUnion(changed)
        entries[i].time = now
      } else {
        entries.append(
          ManagerEntry(
            manager: manager, operation: "Update", apiVersion: apiVersion, time: now,
            subresource: subresource, fields: changed))
      }
    }
    ManagerEntry.store(entries, in: &new)
  }
}
