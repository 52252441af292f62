// Reading and writing nested fields of Kubernetes objects held as `Value`.
import FleetCore
import Foundation

extension Value {
  /// The value at a path of mapping keys.
  func at(_ path: String...) -> Value? { at(path) }

  func at(_ path: [String]) -> Value? {
    var current = self
    for key in path {
      guard let next = current[key] else { return nil }
      current = next
    }
    return current
  }

  /// Sets (or with `nil` removes) the value at a path, creating mappings on the way.
  mutating func set(_ path: [String], _ newValue: Value?) {
    guard let first = path.first else {
      if let newValue { self = newValue }
      return
    }
    var mapping = self.mapping ?? Mapping()
    if path.count == 1 {
      mapping[first] = newValue
    } else {
      var child = mapping[first] ?? .mapping(Mapping())
      if child.mapping == nil { child = .mapping(Mapping()) }
      child.set(Array(path.dropFirst()), newValue)
      mapping[first] = child
    }
    self = .mapping(mapping)
  }

  var name: String { at("metadata", "name")?.string ?? "" }
  var namespace: String? { at("metadata", "namespace")?.string }

  var labels: [String: String] {
    var result: [String: String] = [:]
    for entry in at("metadata", "labels")?.mapping ?? Mapping() {
      result[entry.key] = entry.value.scalarText ?? ""
    }
    return result
  }
}

/// Timestamps as Kubernetes writes them: RFC 3339 in UTC, whole seconds.
enum KubeTime {
  static func format(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }
}
