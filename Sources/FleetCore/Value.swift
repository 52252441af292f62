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
  // The mark, stored in the seven bytes after `kind`'s tag byte and a file reference, so that a
  // value is 32 bytes where `Kind` (17) and a `SourceMark?` (16) would take 40: a values file's
  // tree holds millions of nodes, and its size sets the peak memory of every command that reads
  // one (docs/benchmarks.md). The fields stay separate because a struct of them would be aligned
  // past the tag's padding.
  private var packedLow: UInt8
  private var packedMiddle: UInt16
  private var packedHigh: UInt32
  private var markFile: SourceFile?

  public init(_ kind: Kind, mark: SourceMark? = nil) {
    self.kind = kind
    (packedLow, packedMiddle, packedHigh, markFile) = (0, 0, 0, nil)
    self.mark = mark
  }

  /// Where this node was written, or nil for a value built in code.
  public var mark: SourceMark? {
    get {
      guard let markFile else { return nil }
      let position = PackedPosition(high: packedHigh, middle: packedMiddle, low: packedLow)
      return SourceMark(file: markFile, line: position.line, column: position.column)
    }
    set {
      guard let newValue else {
        (packedLow, packedMiddle, packedHigh, markFile) = (0, 0, 0, nil)
        return
      }
      let position = PackedPosition(newValue)
      (packedLow, packedMiddle, packedHigh) = (position.low, position.middle, position.high)
      markFile = newValue.file
    }
  }

  /// The file of this node's mark, without building the mark.
  fileprivate var markedFile: SourceFile? { markFile }

  public static let null = Value(.null)
  public static func bool(_ b: Bool, mark: SourceMark? = nil) -> Value {
    Value(.bool(b), mark: mark)
  }
  public static func int(_ i: Int64, mark: SourceMark? = nil) -> Value {
    Value(.int(i), mark: mark)
  }
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
    // The key's mark almost always lies in the file of the value's mark, so only its line and
    // column are stored (8 bytes where a `SourceMark?` takes 16): an entry is 56 bytes.
    private var storedValue: Value
    private var storedKeyMark: KeyMark
    public var key: String

    public init(key: String, keyMark: SourceMark? = nil, value: Value) {
      storedValue = value
      storedKeyMark = .none
      self.key = key
      self.keyMark = keyMark
    }

    public var value: Value {
      get { storedValue }
      set {
        // The key's position was relative to the old value's file.
        let keyMark = self.keyMark
        storedValue = newValue
        self.keyMark = keyMark
      }
    }

    public var keyMark: SourceMark? {
      get {
        switch storedKeyMark {
        case .none: return nil
        case .inValueFile(let position):
          return storedValue.markedFile.map {
            SourceMark(file: $0, line: position.line, column: position.column)
          }
        case .elsewhere(let boxed): return boxed.mark
        }
      }
      set {
        guard let newValue else {
          storedKeyMark = .none
          return
        }
        if newValue.file === storedValue.markedFile {
          storedKeyMark = .inValueFile(PackedPosition(newValue))
        } else {
          storedKeyMark = .elsewhere(BoxedMark(newValue))
        }
      }
    }
  }

  /// Where an entry's key was written. The position's spare bits hold the case, so this is 8
  /// bytes; a key whose file differs from its value's (a value replaced from another layer, or
  /// an unmarked value) pays for a box instead.
  private enum KeyMark: Sendable {
    case none
    case inValueFile(PackedPosition)
    case elsewhere(BoxedMark)
  }

  private final class BoxedMark: Sendable {
    let mark: SourceMark
    init(_ mark: SourceMark) { self.mark = mark }
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

/// A mark's line and column in 56 bits (28 each), in fields that pack beside an enum tag.
///
/// Lines and columns past 268,435,455 (four times the largest values file Fleetwave reads, on
/// one line) are clamped to that. The trailing `Bool` is never read: its seven spare bits let
/// an enum with this payload and a class reference stay 8 bytes.
struct PackedPosition: Sendable {
  static let bits = 28
  static let limit = 1 << bits - 1

  let high: UInt32
  let middle: UInt16
  let low: UInt8
  private let spareBits = false

  init(high: UInt32, middle: UInt16, low: UInt8) {
    (self.high, self.middle, self.low) = (high, middle, low)
  }

  init(_ mark: SourceMark) {
    let line = UInt64(min(max(mark.line, 0), Self.limit))
    let column = UInt64(min(max(mark.column, 0), Self.limit))
    let packed = line << Self.bits | column
    high = UInt32(truncatingIfNeeded: packed >> 24)
    middle = UInt16(truncatingIfNeeded: packed >> 8)
    low = UInt8(truncatingIfNeeded: packed)
  }

  private var packed: UInt64 { UInt64(high) << 24 | UInt64(middle) << 8 | UInt64(low) }
  var line: Int { Int(packed >> Self.bits) }
  var column: Int { Int(packed & UInt64(Self.limit)) }
}
