// `--set`, `--set-string`, `--set-json` and `--set-file` arguments, parsed the way Helm's strvals
// parser does: dotted keys, list indexes, `\` escapes, `{a,b}` lists, and each flag's values.
import FleetCore

/// Applies one `--set` (or `--set-string`, `--set-json`, `--set-file`) argument to values, in
/// place, as helm would.
///
/// Typing (`--set` only): `true`/`false` in any case are booleans, `null` in any case is null,
/// `0` and decimal integers not starting with `0` that fit 64 bits are integers; everything else,
/// `1.5` and `007` included, stays a string. `--set-string` keeps every value a string.
/// `--set-json` reads each value as one JSON value (an empty value is null) and takes no `{a,b}`
/// lists; `--set-file` reads each value as a path and sets the file's whole content, as a
/// string. Every value set carries a mark into a source named after the flag holding the
/// argument, so origins and errors point into it.
public struct SetArgument {
  public enum Kind: String, Sendable, CaseIterable {
    case typed = "--set"
    case string = "--set-string"
    case json = "--set-json"
    case file = "--set-file"
  }

  /// Reads a `--set-file` path: the file's content, or why it cannot be read.
  public typealias FileReader = (String) throws(Diagnostic) -> String

  /// Helm's own bounds: list indexes up to 65536 and 30 levels of dotted names.
  static let maxIndex = 65536
  static let maxNesting = 30

  private let scalars: [Unicode.Scalar]
  private let kind: Kind
  private let source: SourceFile
  private let readFile: FileReader
  private var position = 0

  /// The result of reading a key: more input follows, or the argument ended.
  private enum Step { case more, end }
  /// Where a scan stopped: at one of its stop characters, or at the end of the argument.
  private typealias Scan = (text: String, stop: Unicode.Scalar?, start: Int)

  /// `readFile` serves `--set-file` only; a path it cannot read fails with the path marked.
  public static func apply(
    _ argument: String, kind: Kind = .typed, to values: inout Mapping,
    readFile: @escaping FileReader = { path throws(Diagnostic) in
      throw Diagnostic.error("cannot read '\(path)'")
    }
  ) throws(Diagnostic) {
    var parser = SetArgument(argument: argument, kind: kind, readFile: readFile)
    while try parser.key(&values, nesting: 0) == .more {}
  }

  private init(argument: String, kind: Kind, readFile: @escaping FileReader) {
    scalars = Array(argument.unicodeScalars)
    self.kind = kind
    self.readFile = readFile
    source = SourceFile(path: kind.rawValue, text: argument)
  }

  private func mark(_ offset: Int) -> SourceMark {
    SourceMark(file: source, line: 1, column: offset + 1)
  }

  private func fail(_ message: String, at offset: Int) -> Diagnostic {
    .error(message, at: mark(min(offset, max(scalars.count - 1, 0))))
  }

  /// Reads up to one of `stop` (consumed) or the end; a backslash takes the next character
  /// literally.
  private mutating func scan(until stop: Set<Unicode.Scalar>) -> Scan {
    let start = position
    var text = String.UnicodeScalarView()
    while position < scalars.count {
      let c = scalars[position]
      position += 1
      if stop.contains(c) { return (String(text), c, start) }
      if c == "\\" {
        guard position < scalars.count else { return (String(text), nil, start) }
        text.append(scalars[position])
        position += 1
      } else {
        text.append(c)
      }
    }
    return (String(text), nil, start)
  }

  private static let keyStops: Set<Unicode.Scalar> = ["=", "[", ",", "."]

  private mutating func key(_ data: inout Mapping, nesting: Int) throws(Diagnostic) -> Step {
    let (key, stop, start) = scan(until: Self.keyStops)
    guard let stop else {
      if key.isEmpty { return .end }
      throw fail("key \"\(key)\" has no value", at: start)
    }
    switch stop {
    case "[":
      let index = try self.index()
      var list: [Value] = []
      if let existing = data[key] {
        guard let items = existing.sequence else {
          throw fail(
            "'\(key)' is \(existing.kindName), not a list, so it cannot take an index", at: start)
        }
        list = items
      }
      let step = try listItem(&list, index, nesting: nesting)
      set(&data, key, .sequence(list, mark: mark(start)), at: start)
      return step
    case "=":
      if kind == .json {
        set(&data, key, try jsonValue(), at: start)
        return .more
      }
      switch try valueList() {
      case .list(let items, let at):
        set(&data, key, .sequence(items, mark: mark(at)), at: start)
        return .more
      case .end:
        set(&data, key, .string("", mark: mark(position)), at: start)
        return .end
      case .notList:
        let (text, _, at) = scan(until: [","])
        set(&data, key, try typed(text, at: at), at: start)
        return .more
      }
    case ",":
      set(&data, key, .string("", mark: mark(start)), at: start)
      throw fail("key \"\(key)\" has no value (cannot end with ,)", at: start)
    default:  // "."
      guard nesting + 1 <= Self.maxNesting else {
        throw fail(
          "value name nested level is greater than maximum supported nested level of "
            + "\(Self.maxNesting)", at: start)
      }
      var inner = Mapping()
      if let existing = data[key] {
        guard let map = existing.mapping else {
          throw fail(
            "'\(key)' is \(existing.kindName), not a map, so it cannot take '\(key).…'", at: start)
        }
        inner = map
      }
      let step = try self.key(&inner, nesting: nesting + 1)
      if step == .more && inner.isEmpty {
        throw fail("key map \"\(key)\" has no value", at: start)
      }
      if !inner.isEmpty { set(&data, key, .mapping(inner, mark: mark(start)), at: start) }
      return step
    }
  }

  /// An empty key is skipped, as in Helm.
  private func set(_ data: inout Mapping, _ key: String, _ value: Value, at offset: Int) {
    guard !key.isEmpty else { return }
    data[key, keyMark: mark(offset)] = value
  }

  private mutating func index() throws(Diagnostic) -> Int {
    let (text, stop, start) = scan(until: ["]"])
    guard stop != nil else { throw fail("error parsing index: missing ']'", at: start) }
    guard let index = Int(text) else {
      throw fail("error parsing index: '\(text)' is not a number", at: start)
    }
    return index
  }

  private mutating func listItem(_ list: inout [Value], _ index: Int, nesting: Int)
    throws(Diagnostic) -> Step
  {
    let at = position
    guard index >= 0 else { throw fail("negative \(index) index not allowed", at: at - 1) }
    let (rest, stop, start) = scan(until: ["[", ".", "="])
    if !rest.isEmpty {
      throw fail("unexpected data at end of array index: \"\(rest)\"", at: start)
    }
    guard let stop else { return .end }
    switch stop {
    case "=":
      if kind == .json {
        try setIndex(&list, index, try jsonValue(), at: start)
        return .more
      }
      switch try valueList() {
      case .list(let items, let at):
        try setIndex(&list, index, .sequence(items, mark: mark(at)), at: start)
      case .end:
        try setIndex(&list, index, .string("", mark: mark(position)), at: start)
      case .notList:
        let (text, _, at) = scan(until: [","])
        try setIndex(&list, index, try typed(text, at: at), at: start)
      }
      return .more
    case "[":
      let next = try self.index()
      var inner: [Value] = []
      if index < list.count, !list[index].isNull {
        guard let items = list[index].sequence else {
          throw fail("list item \(index) is \(list[index].kindName), not a list", at: start)
        }
        inner = items
      }
      let step = try listItem(&inner, next, nesting: nesting)
      if step == .end { return .end }
      try setIndex(&list, index, .sequence(inner, mark: mark(start)), at: start)
      return .more
    default:  // "."
      var inner = Mapping()
      if index < list.count {
        // Helm replaces a non-map item (indexes set out of order) with an empty map.
        inner = list[index].mapping ?? Mapping()
        list[index] = .mapping(inner, mark: mark(start))
      }
      let step = try key(&inner, nesting: nesting)
      if step == .end {
        if index < list.count { list[index] = .mapping(inner, mark: mark(start)) }
        return .end
      }
      try setIndex(&list, index, .mapping(inner, mark: mark(start)), at: start)
      return .more
    }
  }

  private func setIndex(_ list: inout [Value], _ index: Int, _ value: Value, at offset: Int)
    throws(Diagnostic)
  {
    guard index >= 0 else { throw fail("negative \(index) index not allowed", at: offset) }
    guard index <= Self.maxIndex else {
      throw fail(
        "index of \(index) is greater than maximum supported index of \(Self.maxIndex)", at: offset)
    }
    while list.count <= index { list.append(.null) }
    list[index] = value
  }

  private enum ListRead {
    case list([Value], at: Int)
    case end
    case notList
  }

  /// `{a,b,c}` after `=`; an empty `{}` is a list of one empty string, as in Helm.
  private mutating func valueList() throws(Diagnostic) -> ListRead {
    guard position < scalars.count else { return .end }
    guard scalars[position] == "{" else { return .notList }
    let open = position
    position += 1
    var items: [Value] = []
    while true {
      let (text, stop, start) = scan(until: [",", "}"])
      guard let stop else { throw fail("list must terminate with '}'", at: open) }
      items.append(try typed(text, at: start))
      if stop == "}" {
        if position < scalars.count, scalars[position] == "," { position += 1 }
        return .list(items, at: open)
      }
    }
  }

  /// One JSON value after `=` (helm decodes it with Go's JSON decoder); nothing before the next
  /// comma, or the end, is null. Blanks and one comma after the value are consumed.
  private mutating func jsonValue() throws(Diagnostic) -> Value {
    if skipBlanksAndComma() { return Value(.null, mark: mark(position)) }
    let from = String(String.UnicodeScalarView(scalars[..<position])).utf8.count
    let (value, end) = try JSONReader.parseValue(in: source, from: from)
    position += String(decoding: source.bytes[from..<end], as: UTF8.self).unicodeScalars.count
    _ = skipBlanksAndComma()
    return Self.asDecodedByGo(value)
  }

  /// JSON numbers as helm holds them: Go decodes every number to a float64, whose YAML is an
  /// integer when it has no fraction (`1.0` reaches the chart as `1`, and an integer beyond
  /// 2^53 loses its last digits).
  static func asDecodedByGo(_ value: Value) -> Value {
    switch value.kind {
    case .int(let i):
      let rounded = Double(i)
      guard let exact = Int64(exactly: rounded) else { return .double(rounded, mark: value.mark) }
      return .int(exact, mark: value.mark)
    case .double(let d):
      guard d.rounded() == d, let exact = Int64(exactly: d) else { return value }
      return .int(exact, mark: value.mark)
    case .sequence(let items): return .sequence(items.map(asDecodedByGo), mark: value.mark)
    case .mapping(let mapping):
      var out = Mapping()
      for entry in mapping {
        out.append(entry.key, keyMark: entry.keyMark, asDecodedByGo(entry.value))
      }
      return .mapping(out, mark: value.mark)
    default: return value
    }
  }

  /// Helm's `emptyVal`: skips blanks; true at the end or after a comma (consumed).
  private mutating func skipBlanksAndComma() -> Bool {
    while position < scalars.count {
      let c = scalars[position]
      if c == "," {
        position += 1
        return true
      }
      guard c.properties.isWhitespace else { return false }
      position += 1
    }
    return true
  }

  private func typed(_ text: String, at offset: Int) throws(Diagnostic) -> Value {
    let mark = mark(offset)
    if kind == .file {
      do {
        return .string(try readFile(text), mark: mark)
      } catch {
        throw Diagnostic.error(error.message, at: mark)
      }
    }
    if kind == .string { return .string(text, mark: mark) }
    switch text.lowercased() {
    case "true": return .bool(true, mark: mark)
    case "false": return .bool(false, mark: mark)
    case "null": return Value(.null, mark: mark)
    case "0": return .int(0, mark: mark)
    default: break
    }
    if let first = text.first, first != "0", let i = Int64(text) { return .int(i, mark: mark) }
    return .string(text, mark: mark)
  }
}
