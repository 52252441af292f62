// YAML text to `Value` trees with marks, under limits that keep hostile input cheap to refuse.
import FleetCore
import Foundation

public enum YAML {
  /// Bounds on what one parse may cost.
  public struct Limits: Sendable {
    /// Largest input accepted, in bytes.
    public var maxBytes: Int
    /// Deepest nesting of sequences and mappings.
    public var maxDepth: Int
    /// Most nodes the document may expand to once every alias is followed: this is what stops
    /// a "billion laughs" document long before it costs memory or time.
    public var maxExpandedNodes: Int

    public init(maxBytes: Int = 64 << 20, maxDepth: Int = 256, maxExpandedNodes: Int = 10_000_000) {
      self.maxBytes = maxBytes
      self.maxDepth = maxDepth
      self.maxExpandedNodes = maxExpandedNodes
    }

    public static let `default` = Limits()
  }

  /// Every document of a stream (`---` separated). An empty stream has no documents.
  public static func parseStream(_ source: SourceFile, limits: Limits = .default) throws(Diagnostic)
    -> [Value]
  {
    var builder = try TreeBuilder(source: source, input: .text(source.bytes), limits: limits)
    return try builder.documents()
  }

  /// Exactly one document; an empty input is `null`. More than one document is an error.
  public static func parse(_ source: SourceFile, limits: Limits = .default) throws(Diagnostic)
    -> Value
  {
    try parse(.text(source.bytes), as: source, limits: limits)
  }

  private static func parse(_ input: ParserInput, as source: SourceFile, limits: Limits)
    throws(Diagnostic) -> Value
  {
    var builder = try TreeBuilder(source: source, input: input, limits: limits)
    let documents = try builder.documents()
    if documents.count > 1, let mark = builder.secondDocumentMark {
      throw .error("expected a single YAML document, found \(documents.count)", at: mark)
    }
    return documents.first ?? Value(.null, mark: SourceMark(file: source, line: 1, column: 1))
  }

  public static func parse(_ text: String, path: String = "<input>", limits: Limits = .default)
    throws(Diagnostic) -> Value
  {
    try parse(SourceFile(path: path, text: text), limits: limits)
  }

  /// Reads and parses a file; a missing or unreadable file is a diagnostic naming it.
  public static func load(path: String, limits: Limits = .default) throws(Diagnostic) -> Value {
    try parse(try read(path: path, limits: limits), limits: limits)
  }

  /// `load(path:)` for a file whose tree is kept and whose text need not be: the file is
  /// parsed as it is read, a block at a time, and a diagnostic quoting a line reads it again
  /// (`SourceFile.onDisk`). A large values file then costs its tree, not its tree and its text.
  public static func load(path: String, limits: Limits = .default, keepingText: Bool)
    throws(Diagnostic) -> Value
  {
    guard !keepingText else { return try load(path: path, limits: limits) }
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else {
      throw problem(
        errno == ENOENT ? .missing : .unreadable(String(cString: strerror(errno))), path, limits)
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else {
      throw problem(.unreadable(String(cString: strerror(errno))), path, limits)
    }
    if Int(info.st_size) > limits.maxBytes {
      throw problem(.tooLarge(Int(info.st_size)), path, limits)
    }
    return try parse(
      .file(descriptor: descriptor, limit: limits.maxBytes), as: .onDisk(path: path),
      limits: limits)
  }

  public static func loadStream(path: String, limits: Limits = .default) throws(Diagnostic)
    -> [Value]
  {
    try parseStream(try read(path: path, limits: limits), limits: limits)
  }

  public static func read(path: String, limits: Limits = .default) throws(Diagnostic) -> SourceFile
  {
    switch FileContents.bytes(atPath: path, limit: limits.maxBytes) {
    case .success(let bytes): return SourceFile(path: path, bytes: bytes)
    case .failure(let failure): throw problem(failure, path, limits)
    }
  }

  private static func problem(_ failure: FileContents.Failure, _ path: String, _ limits: Limits)
    -> Diagnostic
  {
    switch failure {
    case .missing: return .error("\(path): no such file")
    case .unreadable(let why): return .error("\(path): cannot read file: \(why)")
    case .tooLarge(let size):
      return .error("\(path): file is \(size) bytes, more than the limit of \(limits.maxBytes)")
    }
  }

  /// The raw libyaml event pass, building nothing; the baseline for parse benchmarks.
  public static func countEvents(_ source: SourceFile) throws(Diagnostic) -> Int {
    try LibYAMLParser.countEvents(in: source)
  }
}

/// Builds values from parser events with an explicit stack, so deep input cannot overflow the
/// call stack before the depth limit is checked. Frames are mutated in place (never popped and
/// pushed back), so appending a node never copies its siblings.
struct TreeBuilder {
  private struct PendingKey {
    var name: Mapping.Key
    var mark: SourceMark
    var isMerge: Bool
  }

  private struct Frame {
    var isMapping: Bool
    var mark: SourceMark
    var anchor: String?
    /// Nodes in this subtree with aliases expanded, for the expansion limit.
    var nodes = 1
    var items: [Value] = []
    var mapping = Mapping()
    var pendingKey: PendingKey?
    /// Mappings named by `<<`, in order; earlier ones win, explicit keys win over all.
    var mergeSources: [Mapping] = []
    var mergePosition: Int?
  }

  private let parser: LibYAMLParser
  private let source: SourceFile
  private let limits: YAML.Limits
  private var stack: [Frame] = []
  private var anchors: [String: (value: Value, nodes: Int)] = [:]
  private var expandedNodes = 0
  private(set) var secondDocumentMark: SourceMark?
  private var keys = KeyTable()

  init(source: SourceFile, input: ParserInput, limits: YAML.Limits) throws(Diagnostic) {
    if case .text(let text) = input, text.count > limits.maxBytes {
      throw .error(
        "input is \(text.count) bytes, more than the limit of \(limits.maxBytes)",
        at: SourceMark(file: source, line: 1, column: 1))
    }
    self.source = source
    self.limits = limits
    parser = try LibYAMLParser(source: source, input: input)
  }

  mutating func documents() throws(Diagnostic) -> [Value] {
    var documents: [Value] = []
    while true {
      var finished: Value?
      switch try parser.next() {
      case .streamStart, .documentEnd: continue
      case .streamEnd: return documents
      case .documentStart(let mark):
        if documents.count == 1, secondDocumentMark == nil { secondDocumentMark = mark }
        anchors.removeAll(keepingCapacity: true)
      case .alias(let anchor, let mark):
        guard let target = anchors[anchor] else {
          throw .error("alias '*\(anchor)' refers to an unknown anchor", at: mark)
        }
        expandedNodes += target.nodes
        if expandedNodes > limits.maxExpandedNodes {
          throw .error(
            "document expands to more than \(limits.maxExpandedNodes) nodes through aliases"
              + " (limit on alias expansion)", at: mark)
        }
        finished = try add(target.value, nodes: target.nodes, keyText: nil, keyPlain: false)
      case .scalar(let text, let anchor, let tag, let plain, let mark):
        if anchor == nil, tag == nil, let top = stack.indices.last, stack[top].isMapping,
          stack[top].pendingKey == nil
        {
          // A mapping key: resolve it once, as a key, without building a value for it.
          expandedNodes += 1
          stack[top].nodes += 1
          stack[top].pendingKey = PendingKey(
            name: keys.key(ScalarResolution.key(text, plain: plain)), mark: mark,
            isMerge: plain && text == "<<")
          continue
        }
        let value = try scalar(text, tag: tag, plain: plain, mark: mark)
        if let anchor { anchors[anchor] = (value, 1) }
        expandedNodes += 1
        finished = try add(value, nodes: 1, keyText: text, keyPlain: plain)
      case .sequenceStart(let anchor, let tag, let mark):
        try checkCollectionTag(tag, expected: "tag:yaml.org,2002:seq", mark: mark)
        try push(Frame(isMapping: false, mark: mark, anchor: anchor))
      case .mappingStart(let anchor, let tag, let mark):
        try checkCollectionTag(tag, expected: "tag:yaml.org,2002:map", mark: mark)
        try push(Frame(isMapping: true, mark: mark, anchor: anchor))
      case .sequenceEnd, .mappingEnd:
        guard let frame = stack.popLast() else { throw .error("unbalanced collection end") }
        let value =
          frame.isMapping
          ? Value.mapping(Self.exact(merged(frame)), mark: frame.mark)
          : Value.sequence(Self.exact(frame.items), mark: frame.mark)
        if let anchor = frame.anchor { anchors[anchor] = (value, frame.nodes) }
        expandedNodes += 1
        finished = try add(value, nodes: frame.nodes, keyText: nil, keyPlain: false)
      }
      // An empty document produces no node at all, and so adds nothing here.
      if let finished { documents.append(finished) }
    }
  }

  /// The items in an array of their own size. Arrays grow by doubling, and a tree keeps
  /// every collection it holds: a two-key mapping in a four-entry buffer, or eleven keys in
  /// sixteen, made a third of a large values file's tree unused capacity.
  private static func exact(_ items: [Value]) -> [Value] {
    guard items.capacity > items.count else { return items }
    var copy: [Value] = []
    copy.reserveCapacity(items.count)
    copy.append(contentsOf: items)
    return copy
  }

  private static func exact(_ mapping: Mapping) -> Mapping {
    var mapping = mapping
    mapping.shrinkToFit()
    return mapping
  }

  private mutating func push(_ frame: consuming Frame) throws(Diagnostic) {
    // Most collections in values files and manifests hold a handful of entries: one
    // allocation of four avoids growing through one, two and four.
    if frame.isMapping { frame.mapping.reserveCapacity(4) } else { frame.items.reserveCapacity(4) }
    if stack.count >= limits.maxDepth {
      throw .error("nesting deeper than \(limits.maxDepth) levels", at: frame.mark)
    }
    if let parent = stack.last, parent.isMapping, parent.pendingKey == nil {
      throw .error("a mapping or sequence cannot be used as a mapping key", at: frame.mark)
    }
    stack.append(frame)
  }

  private func checkCollectionTag(_ tag: String?, expected: String, mark: SourceMark)
    throws(Diagnostic)
  {
    guard let tag, tag != expected else { return }
    throw .error("unsupported tag '\(Self.shortTag(tag))' on a collection", at: mark)
  }

  private static func shortTag(_ tag: String) -> String {
    tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) : tag
  }

  /// Adds a finished node to its parent; returns it when it is a document's root.
  private mutating func add(_ value: Value, nodes: Int, keyText: String?, keyPlain: Bool)
    throws(Diagnostic) -> Value?
  {
    let top = stack.count - 1
    guard top >= 0 else { return value }
    stack[top].nodes += nodes
    guard stack[top].isMapping else {
      stack[top].items.append(value)
      return nil
    }
    if let key = stack[top].pendingKey {
      stack[top].pendingKey = nil
      if key.isMerge {
        try Self.collectMerge(value, into: &stack[top], at: key.mark)
      } else {
        try Self.insert(key.name, mark: key.mark, value: value, into: &stack[top])
      }
      return nil
    }
    guard let keyText, let mark = value.mark else {
      throw .error("a mapping key must be a scalar", at: value.mark)
    }
    stack[top].pendingKey = PendingKey(
      name: keys.key(ScalarResolution.key(keyText, plain: keyPlain)), mark: mark,
      isMerge: keyPlain && keyText == "<<")
    return nil
  }

  private static func insert(
    _ key: Mapping.Key, mark: SourceMark, value: Value, into frame: inout Frame
  ) throws(Diagnostic) {
    // A large mapping indexes its keys itself, so this check stays O(1) per key.
    if let first = frame.mapping.entry(key.text) {
      let name = key.text
      throw .error(
        "duplicate key '\(name)' in mapping", at: mark,
        notes: first.keyMark.map { [.note("'\(name)' was first defined here", at: $0)] } ?? [])
    }
    frame.mapping.append(key, keyMark: mark, value)
  }

  private static func collectMerge(_ value: Value, into frame: inout Frame, at mark: SourceMark)
    throws(Diagnostic)
  {
    if frame.mergePosition == nil { frame.mergePosition = frame.mapping.count }
    switch value.kind {
    case .mapping(let m): frame.mergeSources.append(m)
    case .sequence(let items):
      for item in items {
        guard case .mapping(let m) = item.kind else {
          throw .error(
            "merge key '<<' takes a mapping or a list of mappings", at: item.mark ?? mark)
        }
        frame.mergeSources.append(m)
      }
    default:
      throw .error("merge key '<<' takes a mapping or a list of mappings", at: value.mark ?? mark)
    }
  }

  /// Applies `<<` merges: explicit keys win, then earlier merge sources over later ones; merged
  /// keys sit where the `<<` was written.
  private func merged(_ frame: Frame) -> Mapping {
    guard let position = frame.mergePosition, !frame.mergeSources.isEmpty else {
      return frame.mapping
    }
    var fromMerges = Mapping()
    for source in frame.mergeSources {
      for entry in source
      where !frame.mapping.contains(entry.key) && !fromMerges.contains(entry.key) {
        fromMerges.append(entry)
      }
    }
    var result = Mapping()
    result.reserveCapacity(frame.mapping.count + fromMerges.count)
    let own = frame.mapping.entries
    for entry in own[..<position] { result.append(entry) }
    for entry in fromMerges.entries {
      result.append(entry)
    }
    for entry in own[position...] { result.append(entry) }
    return result
  }

  private func scalar(_ text: String, tag: String?, plain: Bool, mark: SourceMark)
    throws(Diagnostic)
    -> Value
  {
    guard let tag, tag != "!" else {
      return Value(plain ? ScalarResolution.resolve(text) : .string(text), mark: mark)
    }
    switch tag {
    case "tag:yaml.org,2002:str", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp":
      return .string(text, mark: mark)
    case "tag:yaml.org,2002:null":
      guard case .null = ScalarResolution.resolve(text) else {
        throw .error("'\(text)' is not a null for tag !!null", at: mark)
      }
      return Value(.null, mark: mark)
    case "tag:yaml.org,2002:bool":
      guard let b = ScalarResolution.boolean(text) else {
        throw .error("'\(text)' is not a boolean for tag !!bool", at: mark)
      }
      return .bool(b, mark: mark)
    case "tag:yaml.org,2002:int":
      guard let kind = ScalarResolution.number(text), case .int = kind else {
        throw .error("'\(text)' is not an integer for tag !!int", at: mark)
      }
      return Value(kind, mark: mark)
    case "tag:yaml.org,2002:float":
      guard let kind = ScalarResolution.number(text) else {
        throw .error("'\(text)' is not a number for tag !!float", at: mark)
      }
      if case .int(let i) = kind { return .double(Double(i), mark: mark) }
      return Value(kind, mark: mark)
    case "tag:yaml.org,2002:merge":
      return .string(text, mark: mark)
    default:
      throw .error("unsupported tag '\(Self.shortTag(tag))'", at: mark)
    }
  }
}
