// The ordered value tree that YAML and JSON documents become, each node with where it came from.

/// A YAML or JSON value. Mappings keep document order; every node may carry its source mark.
///
/// Equality ignores marks and mapping order: two values are equal when they mean the same data.
public struct Value: Sendable, CustomStringConvertible {
  public enum Kind: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case sequence([Value])
    case mapping(Mapping)
  }

  public var kind: Kind
  public var mark: SourceMark?

  public init(_ kind: Kind, mark: SourceMark? = nil) {
    self.kind = kind
    self.mark = mark
  }

  public static let null = Value(.null)
  public static func bool(_ b: Bool, mark: SourceMark? = nil) -> Value { Value(.bool(b), mark: mark) }
  public static func int(_ i: Int64, mark: SourceMark? = nil) -> Value { Value(.int(i), mark: mark) }
  public static func double(_ d: Double, mark: SourceMark? = nil) -> Value {
    Value(.double(d), mark: mark)
  }
  public static func string(_ s: String, mark: SourceMark? = nil) -> Value {
    Value(.string(s), mark: mark)
  }
  public static func sequence(_ items: [Value], mark: SourceMark? = nil) -> Value {
    Value(.sequence(items), mark: mark)
  }
  public static func mapping(_ mapping: Mapping, mark: SourceMark? = nil) -> Value {
    Value(.mapping(mapping), mark: mark)
  }

  public var isNull: Bool {
    if case .null = kind { return true }
    return false
  }
  public var bool: Bool? {
    if case .bool(let b) = kind { return b }
    return nil
  }
  public var int: Int64? {
    switch kind {
    case .int(let i): return i
    case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
    default: return nil
    }
  }
  public var double: Double? {
    switch kind {
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
  }
  public var string: String? {
    if case .string(let s) = kind { return s }
    return nil
  }
  public var sequence: [Value]? {
    if case .sequence(let items) = kind { return items }
    return nil
  }
  public var mapping: Mapping? {
    if case .mapping(let m) = kind { return m }
    return nil
  }

  /// The value at `key` when this is a mapping.
  public subscript(key: String) -> Value? {
    mapping?[key]
  }

  /// A scalar as text, the way it would be written unquoted ("3", "true", "eu-west-1").
  public var scalarText: String? {
    switch kind {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return Value.format(d)
    case .string(let s): return s
    case .sequence, .mapping: return nil
    }
  }

  /// What kind of node this is, in the words a user sees in an error ("a mapping", "a string").
  public var kindName: String {
    switch kind {
    case .null: return "null"
    case .bool: return "a boolean"
    case .int, .double: return "a number"
    case .string: return "a string"
    case .sequence: return "a list"
    case .mapping: return "a mapping"
    }
  }

  /// Numbers print as Go's encoding/json prints float64 (Helm holds every number as float64):
  /// integral values below 1e21 without a fraction, others in the shortest exact form.
  public static func format(_ d: Double) -> String {
    if d.isNaN { return ".nan" }
    if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
    if d.rounded() == d, abs(d) < 1e21 {
      if abs(d) < 9.2e18 { return String(Int64(d)) }
      var digits = String(format: "%.0f", d)
      if digits == "-0" { digits = "0" }
      return digits
    }
    return "\(d)"
  }

  public var description: String { JSONWriter.string(self) }

  /// The same value with every mark removed (deep), for comparisons and caching.
  public var unmarked: Value {
    switch kind {
    case .sequence(let items): return .sequence(items.map(\.unmarked))
    case .mapping(let m):
      var copy = Mapping()
      copy.reserveCapacity(m.count)
      for entry in m.entries { copy.append(entry.key, entry.value.unmarked) }
      return .mapping(copy)
    default: return Value(kind)
    }
  }
}

extension Value: Equatable {
  public static func == (lhs: Value, rhs: Value) -> Bool {
    switch (lhs.kind, rhs.kind) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.int(let a), .int(let b)): return a == b
    case (.double(let a), .double(let b)): return a == b
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
    case (.string(let a), .string(let b)): return a == b
    case (.sequence(let a), .sequence(let b)): return a == b
    case (.mapping(let a), .mapping(let b)): return a == b
    default: return false
    }
  }
}

extension Value: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral
{
  public init(nilLiteral: ()) { self.init(.null) }
  public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
  public init(integerLiteral value: Int64) { self.init(.int(value)) }
  public init(floatLiteral value: Double) { self.init(.double(value)) }
  public init(stringLiteral value: String) { self.init(.string(value)) }
  public init(arrayLiteral elements: Value...) { self.init(.sequence(elements)) }
  public init(dictionaryLiteral elements: (String, Value)...) {
    var mapping = Mapping()
    for (key, value) in elements { mapping[key] = value }
    self.init(.mapping(mapping))
  }
}

/// An insertion-ordered mapping from string keys to values; keys carry their own marks.
public struct Mapping: Sendable, Equatable, Sequence {
  public struct Entry: Sendable {
    public var key: String
    public var keyMark: SourceMark?
    public var value: Value

    public init(key: String, keyMark: SourceMark? = nil, value: Value) {
      self.key = key
      self.keyMark = keyMark
      self.value = value
    }
  }

  public private(set) var entries: [Entry] = []
  /// Built once a mapping grows past a few keys, so large mappings stay O(1) to look up.
  private var index: [String: Int]?
  private static let indexThreshold = 12

  public init() {}

  public init(_ entries: [Entry]) {
    for entry in entries { self[entry.key, keyMark: entry.keyMark] = entry.value }
  }

  public var count: Int { entries.count }
  public var isEmpty: Bool { entries.isEmpty }
  public var keys: [String] { entries.map(\.key) }

  public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

  public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

  public func position(of key: String) -> Int? {
    if let index { return index[key] }
    return entries.firstIndex { $0.key == key }
  }

  public func contains(_ key: String) -> Bool { position(of: key) != nil }

  public func entry(_ key: String) -> Entry? {
    position(of: key).map { entries[$0] }
  }

  /// Appends without checking for an existing key; callers guarantee uniqueness (parsers do).
  public mutating func append(
    _ key: consuming String, keyMark: consuming SourceMark? = nil, _ value: consuming Value
  ) {
    if index != nil { index?[copy key] = entries.count }
    entries.append(Entry(key: key, keyMark: keyMark, value: value))
    if index == nil, entries.count > Self.indexThreshold {
      rebuildIndex()
    }
  }

  public subscript(key: String) -> Value? {
    get { position(of: key).map { entries[$0].value } }
    set { self[key, keyMark: nil] = newValue }
  }

  /// Sets (keeping the key's position when it exists) or removes a key.
  public subscript(key: String, keyMark keyMark: SourceMark?) -> Value? {
    get { self[key] }
    set {
      if let position = position(of: key) {
        if let newValue {
          entries[position].value = newValue
          if let keyMark { entries[position].keyMark = keyMark }
        } else {
          entries.remove(at: position)
          if index != nil { rebuildIndex() }
        }
      } else if let newValue {
        append(key, keyMark: keyMark, newValue)
      }
    }
  }

  public mutating func removeValue(forKey key: String) -> Value? {
    let old = self[key]
    self[key] = nil
    return old
  }

  private mutating func rebuildIndex() {
    if entries.count <= Self.indexThreshold {
      index = nil
      return
    }
    var built = [String: Int](minimumCapacity: entries.count)
    for (i, entry) in entries.enumerated() { built[entry.key] = i }
    index = built
  }

  public static func == (lhs: Mapping, rhs: Mapping) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for entry in lhs.entries {
      guard let other = rhs[entry.key], other == entry.value else { return false }
    }
    return true
  }
}
