// The three classic patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7386), and
// Kubernetes strategic merge patch with the merge keys of the built-in types served here.
import FleetCore

enum PatchError: Error {
  case invalid(String)
}

enum JSONPatch {
  static func apply(_ patch: Value, to document: Value) throws(PatchError) -> Value {
    guard let operations = patch.sequence else {
      throw .invalid("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    }
    var result = document
    for operation in operations {
      guard let op = operation["op"]?.string, let path = operation["path"]?.string else {
        throw .invalid("missing 'op' or 'path' in JSON patch operation")
      }
      let pointer = try parsePointer(path)
      switch op {
      case "add": result = try add(result, pointer, try required(operation, "value"))
      case "remove": result = try remove(result, pointer).document
      case "replace":
        _ = try get(result, pointer)
        result = try remove(result, pointer).document
        result = try add(result, pointer, try required(operation, "value"))
      case "move", "copy":
        guard let fromText = operation["from"]?.string else {
          throw .invalid("missing 'from' in JSON patch \(op) operation")
        }
        let from = try parsePointer(fromText)
        let value = try get(result, from)
        if op == "move" { result = try remove(result, from).document }
        result = try add(result, pointer, value)
      case "test":
        let expected = try required(operation, "value")
        guard try get(result, pointer) == expected else {
          throw .invalid("testing value \(path) failed: test failed")
        }
      default: throw .invalid("Unexpected kind: \(op)")
      }
    }
    return result
  }

  private static func required(_ operation: Value, _ key: String) throws(PatchError) -> Value {
    guard let value = operation[key] else {
      throw .invalid("missing '\(key)' in JSON patch operation")
    }
    return value
  }

  static func parsePointer(_ text: String) throws(PatchError) -> [String] {
    if text.isEmpty { return [] }
    guard text.hasPrefix("/") else { throw .invalid("JSON pointer must start with '/': \(text)") }
    return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
      $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
    }
  }

  private static func get(_ document: Value, _ pointer: [String]) throws(PatchError) -> Value {
    var current = document
    for token in pointer {
      if let mapping = current.mapping, let next = mapping[token] {
        current = next
      } else if let items = current.sequence, let index = Int(token), items.indices.contains(index)
      {
        current = items[index]
      } else {
        throw .invalid("path /\(pointer.joined(separator: "/")) does not exist")
      }
    }
    return current
  }

  private static func add(_ document: Value, _ pointer: [String], _ value: Value) throws(PatchError)
    -> Value
  {
    guard let token = pointer.first else { return value }
    let rest = Array(pointer.dropFirst())
    if var mapping = document.mapping {
      if rest.isEmpty {
        mapping[token] = value
      } else {
        guard let child = mapping[token] else {
          throw .invalid(
            "add operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
        }
        mapping[token] = try add(child, rest, value)
      }
      return .mapping(mapping)
    }
    if var items = document.sequence {
      if rest.isEmpty {
        if token == "-" {
          items.append(value)
        } else if let index = Int(token), index >= 0, index <= items.count {
          items.insert(value, at: index)
        } else {
          throw .invalid("add operation does not apply: index out of range: \(token)")
        }
      } else {
        guard let index = Int(token), items.indices.contains(index) else {
          throw .invalid("add operation does not apply: index out of range: \(token)")
        }
        items[index] = try add(items[index], rest, value)
      }
      return .sequence(items)
    }
    throw .invalid(
      "add operation does not apply: doc is missing path: /\(pointer.joined(separator: "/"))")
  }

  private static func remove(_ document: Value, _ pointer: [String]) throws(PatchError)
    -> (document: Value, removed: Value)
  {
    guard let token = pointer.first else { throw .invalid("cannot remove the whole document") }
    let rest = Array(pointer.dropFirst())
    if var mapping = document.mapping, let child = mapping[token] {
      if rest.isEmpty {
        mapping[token] = nil
        return (.mapping(mapping), child)
      }
      let (updated, removed) = try remove(child, rest)
      mapping[token] = updated
      return (.mapping(mapping), removed)
    }
    if var items = document.sequence, let index = Int(token), items.indices.contains(index) {
      if rest.isEmpty {
        let removed = items.remove(at: index)
        return (.sequence(items), removed)
      }
      let (updated, removed) = try remove(items[index], rest)
      items[index] = updated
      return (.sequence(items), removed)
    }
    throw .invalid(
      "remove operation does not apply: doc is missing path: \"/\(pointer.joined(separator: "/"))\""
    )
  }
}

enum MergePatch {
  static func apply(_ patch: Value, to document: Value) -> Value {
    guard let patchMapping = patch.mapping else { return patch }
    var result = document.mapping ?? Mapping()
    for entry in patchMapping {
      if entry.value.isNull {
        result[entry.key] = nil
      } else {
        result[entry.key] = apply(entry.value, to: result[entry.key] ?? .null)
      }
    }
    return .mapping(result)
  }
}

/// Strategic merge patch: a merge patch whose lists of named things merge item by item.
enum StrategicMergePatch {
  /// The merge key of a list field, by field name; good for the built-in types served here.
  static func mergeKey(field: String, items: [Value]) -> String? {
    switch field {
    case "containers", "initContainers", "ephemeralContainers", "env", "volumes",
      "imagePullSecrets":
      return "name"
    case "volumeMounts", "volumeDevices": return "mountPath"
    case "ports":
      // Container ports merge on containerPort, Service ports on port.
      if items.contains(where: { $0["containerPort"] != nil }) { return "containerPort" }
      return "port"
    case "conditions": return "type"
    case "hostAliases": return "ip"
    case "ownerReferences": return "uid"
    default: return nil
    }
  }

  /// Lists of scalars that merge as sets rather than being replaced.
  static let setLists: Set<String> = ["finalizers"]

  static func apply(_ patch: Value, to document: Value) throws(PatchError) -> Value {
    guard let patchMapping = patch.mapping else { return patch }
    var result = document.mapping ?? Mapping()
    if patchMapping["$patch"]?.string == "replace" {
      var replaced = patchMapping
      replaced["$patch"] = nil
      return .mapping(try stripDirectives(replaced))
    }
    if patchMapping["$patch"]?.string == "delete" { return .null }
    var orders: [String: [Value]] = [:]
    for entry in patchMapping {
      let key = entry.key
      if key == "$patch" || key == "$retainKeys" { continue }
      if key.hasPrefix("$setElementOrder/") {
        orders[String(key.dropFirst("$setElementOrder/".count))] = entry.value.sequence ?? []
        continue
      }
      if key.hasPrefix("$deleteFromPrimitiveList/") {
        let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
        let removals = entry.value.sequence ?? []
        if let items = result[field]?.sequence {
          result[field] = .sequence(items.filter { !removals.contains($0) })
        }
        continue
      }
      if entry.value.isNull {
        result[key] = nil
        continue
      }
      let current = result[key] ?? .null
      if let patchItems = entry.value.sequence {
        result[key] = try mergeList(field: key, patchItems, current.sequence ?? [])
      } else if entry.value.mapping != nil, current.mapping != nil || current.isNull {
        let merged = try apply(entry.value, to: current)
        result[key] = merged.isNull ? Value?.none : merged
      } else {
        result[key] = try stripped(entry.value)
      }
    }
    if let retain = patchMapping["$retainKeys"]?.sequence?.compactMap(\.string) {
      for key in result.keys where !retain.contains(key) { result[key] = nil }
    }
    for (field, order) in orders {
      if let items = result[field]?.sequence {
        result[field] = .sequence(reorder(items, field: field, order: order))
      }
    }
    return .mapping(result)
  }

  private static func mergeList(field: String, _ patch: [Value], _ current: [Value])
    throws(PatchError) -> Value
  {
    if setLists.contains(field) {
      var merged = current
      for item in patch where !merged.contains(item) { merged.append(item) }
      return .sequence(merged)
    }
    guard let key = mergeKey(field: field, items: patch + current),
      patch.allSatisfy({ $0.mapping != nil })
    else {
      return .sequence(
        try patch.map { (item: Value) throws(PatchError) -> Value in try stripped(item) })
    }
    if patch.contains(where: { $0["$patch"]?.string == "replace" }) {
      return .sequence(
        try patch.filter { $0["$patch"] == nil }.map {
          (item: Value) throws(PatchError) -> Value in try stripped(item)
        })
    }
    var merged = current
    for item in patch {
      let keyValue = item[key]
      let position = merged.firstIndex { $0[key] == keyValue }
      if item["$patch"]?.string == "delete" {
        if let position { merged.remove(at: position) }
        continue
      }
      if let position {
        merged[position] = try apply(item, to: merged[position])
      } else {
        merged.append(try stripped(item))
      }
    }
    return .sequence(merged)
  }

  private static func reorder(_ items: [Value], field: String, order: [Value]) -> [Value] {
    guard let key = mergeKey(field: field, items: items) else {
      let ordered = order.filter { items.contains($0) }
      return ordered + items.filter { !ordered.contains($0) }
    }
    var result: [Value] = []
    for wanted in order {
      let keyValue = wanted.mapping != nil ? wanted[key] : wanted
      if let item = items.first(where: { $0[key] == keyValue }) { result.append(item) }
    }
    for item in items where !result.contains(where: { $0[key] == item[key] }) {
      result.append(item)
    }
    return result
  }

  private static func stripped(_ value: Value) throws(PatchError) -> Value {
    if let mapping = value.mapping { return .mapping(try stripDirectives(mapping)) }
    if let items = value.sequence {
      return .sequence(
        try items.map { (item: Value) throws(PatchError) -> Value in try stripped(item) })
    }
    return value
  }

  private static func stripDirectives(_ mapping: Mapping) throws(PatchError) -> Mapping {
    var result = Mapping()
    for entry in mapping where !entry.key.hasPrefix("$") {
      result.append(entry.key, try stripped(entry.value))
    }
    return result
  }
}
