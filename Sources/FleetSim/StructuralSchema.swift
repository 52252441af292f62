// A custom resource checked against its CRD version's `openAPIV3Schema` as the API server does:
// unknown fields pruned (or refused under `fieldValidation=Strict`), then types, required
// fields, enums and bounds validated, with the messages of k8s.io/kube-openapi's validator as
// k8s.io/apiextensions-apiserver turns them into field errors.
import FleetCore

enum StructuralSchema {
  typealias FieldError = Validation.FieldError

  /// The object without the fields its schema does not declare, and those fields' paths.
  /// `apiVersion`, `kind` and `metadata` are the server's, never pruned.
  static func pruned(_ object: Value, _ schema: Value) -> (object: Value, unknown: [String]) {
    guard var mapping = object.mapping else { return (object, []) }
    var unknown: [String] = []
    for entry in mapping where !["apiVersion", "kind", "metadata"].contains(entry.key) {
      if let property = schema.at("properties", entry.key) {
        mapping[entry.key] = prune(entry.value, property, entry.key, &unknown)
      } else if !preservesUnknown(schema) {
        mapping[entry.key] = nil
        unknown.append(entry.key)
      }
    }
    return (.mapping(mapping), unknown)
  }

  private static func preservesUnknown(_ schema: Value) -> Bool {
    schema["x-kubernetes-preserve-unknown-fields"]?.bool ?? false
  }

  private static func prune(
    _ value: Value, _ schema: Value, _ path: String, _ unknown: inout [String]
  )
    -> Value
  {
    switch value.kind {
    case .mapping(var mapping):
      if let additional = schema["additionalProperties"], additional.mapping != nil {
        for entry in mapping {
          mapping[entry.key] = prune(entry.value, additional, "\(path).\(entry.key)", &unknown)
        }
        return .mapping(mapping)
      }
      for entry in mapping {
        if let property = schema.at("properties", entry.key) {
          mapping[entry.key] = prune(entry.value, property, "\(path).\(entry.key)", &unknown)
        } else if !preservesUnknown(schema) {
          mapping[entry.key] = nil
          unknown.append("\(path).\(entry.key)")
        }
      }
      return .mapping(mapping)
    case .sequence(let items):
      guard let itemSchema = schema["items"] else { return value }
      return .sequence(
        items.enumerated().map { prune($1, itemSchema, "\(path)[\($0)]", &unknown) })
    default:
      return value
    }
  }

  /// Every field error of the object against the schema, in field order.
  static func errors(_ object: Value, _ schema: Value) -> [FieldError] {
    var errors: [FieldError] = []
    for name in schema["required"]?.sequence?.compactMap(\.string) ?? []
    where object[name] == nil {
      errors.append(FieldError(reason: "FieldValueRequired", field: name, detail: "Required value"))
    }
    for entry in object.mapping ?? Mapping()
    where !["apiVersion", "kind", "metadata"].contains(entry.key) {
      if let property = schema.at("properties", entry.key) {
        errors += check(entry.value, property, entry.key)
      }
    }
    return errors
  }

  /// The JSON type name of a value, as the validator names what it found.
  private static func typeName(_ value: Value) -> String {
    switch value.kind {
    case .null: return "null"
    case .bool: return "boolean"
    case .int: return "integer"
    case .double(let d): return d.rounded() == d ? "integer" : "number"
    case .string: return "string"
    case .sequence: return "array"
    case .mapping: return "object"
    }
  }

  private static func matches(_ value: Value, type: String) -> Bool {
    let found = typeName(value)
    return found == type || (type == "number" && found == "integer")
  }

  /// A value as Go's `%#v`-like printing of field.Invalid shows it: strings quoted.
  private static func shown(_ value: Value) -> String {
    if let string = value.string { return "\"\(string)\"" }
    return value.scalarText ?? JSONWriter.string(value)
  }

  private static func check(_ value: Value, _ schema: Value, _ path: String) -> [FieldError] {
    if value.isNull, schema["nullable"]?.bool ?? false { return [] }
    let intOrString = schema["x-kubernetes-int-or-string"]?.bool ?? false
    if intOrString {
      guard value.string != nil || typeName(value) == "integer" else {
        return [
          FieldError(
            reason: "FieldValueTypeInvalid", field: path,
            detail: "Invalid value: \"\(typeName(value))\": \(path) in body must be of type "
              + "integer,string: \"\(typeName(value))\"")
        ]
      }
    } else if let type = schema["type"]?.string, !matches(value, type: type) {
      // kube-openapi: "%s in body must be of type %s: %q", the value being the type found.
      return [
        FieldError(
          reason: "FieldValueTypeInvalid", field: path,
          detail: "Invalid value: \"\(typeName(value))\": \(path) in body must be of type "
            + "\(type): \"\(typeName(value))\"")
      ]
    }
    var errors: [FieldError] = []
    if let allowed = schema["enum"]?.sequence, !allowed.contains(value) {
      errors.append(
        FieldError(
          reason: "FieldValueNotSupported", field: path,
          detail: "Unsupported value: \(shown(value)): supported values: "
            + allowed.map(shown).joined(separator: ", ")))
    }
    if let number = value.double {
      if let minimum = schema["minimum"]?.double, number < minimum {
        errors.append(
          FieldError(
            reason: "FieldValueInvalid", field: path,
            detail: "Invalid value: \(shown(value)): \(path) in body should be greater than or "
              + "equal to \(shown(schema["minimum"] ?? .null))"))
      }
      if let maximum = schema["maximum"]?.double, number > maximum {
        errors.append(
          FieldError(
            reason: "FieldValueInvalid", field: path,
            detail: "Invalid value: \(shown(value)): \(path) in body should be less than or "
              + "equal to \(shown(schema["maximum"] ?? .null))"))
      }
    }
    if let text = value.string, let limit = schema["maxLength"]?.int, text.count > Int(limit) {
      errors.append(
        FieldError(
          reason: "FieldValueTooLong", field: path,
          detail: "Too long: may not be more than \(limit) bytes"))
    }
    switch value.kind {
    case .mapping(let mapping):
      for name in schema["required"]?.sequence?.compactMap(\.string) ?? []
      where mapping[name] == nil {
        errors.append(
          FieldError(
            reason: "FieldValueRequired", field: "\(path).\(name)", detail: "Required value"))
      }
      let additional = schema["additionalProperties"].flatMap { $0.mapping != nil ? $0 : nil }
      for entry in mapping {
        if let property = schema.at("properties", entry.key) ?? additional {
          errors += check(entry.value, property, "\(path).\(entry.key)")
        }
      }
    case .sequence(let items):
      if let itemSchema = schema["items"] {
        for (index, item) in items.enumerated() {
          errors += check(item, itemSchema, "\(path)[\(index)]")
        }
      }
    default: break
    }
    return errors
  }
}
