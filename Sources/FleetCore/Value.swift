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
  /// A key's text, held by reference so that the entries of one parse that have the same
  /// key share it (`KeyTable`): a values file repeats the same dozen keys under each of
  /// thousands of services, and an entry holding 8 bytes instead of a 16-byte `String` is 48
  /// bytes instead of 56.
  public final class Key: Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }
  }

  public struct Entry: Sendable {
    // The key's mark almost always lies in the file of the value's mark, so only its line and
    // column are stored (8 bytes where a `SourceMark?` takes 16).
    private var storedValue: Value
    private var storedKeyMark: KeyMark
    public let sharedKey: Key

    public var key: String { sharedKey.text }

    public init(key: String, keyMark: SourceMark? = nil, value: Value) {
      self.init(key: Key(key), keyMark: keyMark, value: value)
    }

    public init(key: Key, keyMark: SourceMark? = nil, value: Value) {
      storedValue = value
      storedKeyMark = .none
      sharedKey = key
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

  /// A mapping of up to `chunkCapacity` entries keeps them in one buffer of its own size; a
  /// larger one in buffers of `chunkCapacity`. Changing one key of a 72,000-key mapping (each
  /// cluster's overlay on a shared values file) then copies one chunk and the list of chunks,
  /// not every entry, and a growing mapping never holds a doubled buffer of all of them. The
  /// enum packs into the buffers' spare bits: a mapping stays 16 bytes.
  fileprivate enum Storage: Sendable {
    case flat([Entry])
    case chunked([[Entry]])
  }

  private var storage: Storage = .flat([])
  /// Built once a mapping grows past a few keys, so large mappings stay O(1) to look up.
  private var index: [String: Int]?
  private static let indexThreshold = 12
  static let chunkCapacity = 1024

  /// The entries in document order.
  public struct Entries: RandomAccessCollection, Sendable {
    fileprivate let storage: Storage
    public let count: Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Entry {
      switch storage {
      case .flat(let entries): return entries[position]
      case .chunked(let chunks):
        return chunks[position / Mapping.chunkCapacity][position % Mapping.chunkCapacity]
      }
    }

    /// Entries this mapping's buffers have room for, held or not.
    public var capacity: Int {
      switch storage {
      case .flat(let entries): return entries.capacity
      case .chunked(let chunks): return chunks.reduce(0) { $0 + $1.capacity }
      }
    }

    public func withContiguousStorageIfAvailable<R>(
      _ body: (UnsafeBufferPointer<Entry>) throws -> R
    ) rethrows -> R? {
      guard case .flat(let entries) = storage else { return nil }
      return try entries.withUnsafeBufferPointer(body)
    }
  }

  public var entries: Entries { Entries(storage: storage, count: count) }

  public init() {}

  public init(_ entries: [Entry]) {
    for entry in entries {
      if contains(entry.key) {
        self[entry.key, keyMark: entry.keyMark] = entry.value
      } else {
        append(entry)
      }
    }
  }

  public var count: Int {
    switch storage {
    case .flat(let entries): return entries.count
    case .chunked(let chunks):
      return (chunks.count - 1) * Self.chunkCapacity + (chunks.last?.count ?? 0)
    }
  }

  public var isEmpty: Bool { count == 0 }
  public var keys: [String] { entries.map(\.key) }

  public mutating func reserveCapacity(_ n: Int) {
    guard case .flat(var entries) = storage else { return }
    storage = .flat([])
    entries.reserveCapacity(Swift.min(n, Self.chunkCapacity))
    storage = .flat(entries)
  }

  /// Moves the entries into buffers of their own size (the last chunk, for a chunked mapping).
  /// The key index stays as it is: positions do not change, and rebuilding it would hold two
  /// indexes of a large mapping at once.
  public mutating func shrinkToFit() {
    switch storage {
    case .flat(let entries):
      guard entries.capacity > entries.count else { return }
      storage = .flat(Self.exact(entries))
    case .chunked(var chunks):
      guard let last = chunks.last, last.capacity > last.count else { return }
      storage = .flat([])
      chunks[chunks.count - 1] = Self.exact(last)
      storage = .chunked(chunks)
    }
  }

  private static func exact(_ entries: [Entry]) -> [Entry] {
    var exact: [Entry] = []
    exact.reserveCapacity(entries.count)
    exact.append(contentsOf: entries)
    return exact
  }

  public func makeIterator() -> IndexingIterator<Entries> { entries.makeIterator() }

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
    append(Entry(key: Key(key), keyMark: keyMark, value: value))
  }

  /// Appends a key a parse shares between entries (`KeyTable`); unchecked, as above.
  public mutating func append(
    _ key: Key, keyMark: consuming SourceMark? = nil, _ value: consuming Value
  ) {
    append(Entry(key: key, keyMark: keyMark, value: value))
  }

  /// Appends an entry of another mapping, its key still shared; unchecked, as above.
  public mutating func append(_ entry: Entry) {
    let position = count
    if index != nil { index?[entry.key] = position }
    // Each case takes its buffers out of `storage` first, so they are uniquely referenced and
    // grow in place.
    switch storage {
    case .flat(var entries):
      storage = .flat([])
      if entries.count < Self.chunkCapacity {
        entries.append(entry)
        storage = .flat(entries)
      } else {
        storage = .chunked([entries, Self.chunk(startingWith: entry)])
      }
    case .chunked(var chunks):
      storage = .flat([])
      if chunks[chunks.count - 1].count < Self.chunkCapacity {
        chunks[chunks.count - 1].append(entry)
      } else {
        chunks.append(Self.chunk(startingWith: entry))
      }
      storage = .chunked(chunks)
    }
    if index == nil, position + 1 > Self.indexThreshold {
      rebuildIndex()
    }
  }

  private static func chunk(startingWith entry: Entry) -> [Entry] {
    var chunk: [Entry] = []
    chunk.reserveCapacity(chunkCapacity)
    chunk.append(entry)
    return chunk
  }

  private mutating func update(at position: Int, _ change: (inout Entry) -> Void) {
    switch storage {
    case .flat(var entries):
      storage = .flat([])
      change(&entries[position])
      storage = .flat(entries)
    case .chunked(var chunks):
      storage = .flat([])
      change(&chunks[position / Self.chunkCapacity][position % Self.chunkCapacity])
      storage = .chunked(chunks)
    }
  }

  private mutating func remove(at position: Int) {
    switch storage {
    case .flat(var entries):
      storage = .flat([])
      entries.remove(at: position)
      storage = .flat(entries)
      if index != nil { rebuildIndex() }
    case .chunked:
      // Rare (a layer's null deleting a key of a huge mapping): chunked again from the start.
      var remaining = Array(entries)
      remaining.remove(at: position)
      (storage, index) = (.flat([]), nil)
      for entry in remaining { append(entry) }
      shrinkToFit()
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
          update(at: position) { entry in
            entry.value = newValue
            if let keyMark { entry.keyMark = keyMark }
          }
        } else {
          remove(at: position)
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
    if count <= Self.indexThreshold {
      index = nil
      return
    }
    var built = [String: Int](minimumCapacity: count)
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

/// One `Mapping.Key` per distinct key text of a parse, so that its entries share them.
/// Bounded: past `limit` texts (a mapping of 72,000 distinct service names), a new text gets a
/// key of its own, which costs what an unshared key always did.
public struct KeyTable {
  private var keys: [String: Mapping.Key] = [:]
  private static let limit = 4096

  public init() {}

  public mutating func key(_ text: String) -> Mapping.Key {
    if let key = keys[text] { return key }
    let key = Mapping.Key(text)
    if keys.count < Self.limit { keys[text] = key }
    return key
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
