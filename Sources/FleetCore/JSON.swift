// JSON text to and from `Value`, keeping key order; used by the API client, the emulator, reports.

/// Writes values as JSON: compact or indented, keys in document order or sorted.
public enum JSONWriter {
  public struct Options: Sendable {
    public var pretty: Bool
    public var sortedKeys: Bool
    public init(pretty: Bool = false, sortedKeys: Bool = false) {
      self.pretty = pretty
      self.sortedKeys = sortedKeys
    }
  }

  public static func string(_ value: Value, options: Options = Options()) -> String {
    var out = ""
    write(value, into: &out, options: options, depth: 0)
    return out
  }

  public static func bytes(_ value: Value, options: Options = Options()) -> [UInt8] {
    Array(string(value, options: options).utf8)
  }

  /// SHA-256 of `bytes(value, options:)` as hex, hashed while written: the text passes through
  /// a 64 KiB buffer instead of being built whole (a values tree's JSON can be many megabytes).
  public static func sha256(_ value: Value, options: Options = Options()) -> String {
    var hasher = SHA256.Hasher()
    var out = ""
    write(value, into: &out, options: options, depth: 0) { out in
      guard out.utf8.count >= 1 << 16 else { return }
      hasher.update(out.utf8)
      out.removeAll(keepingCapacity: true)
    }
    hasher.update(out.utf8)
    return hasher.hex()
  }

  /// `drain` is handed the text after each element of a collection, to consume it if it likes.
  private static func write(
    _ value: Value, into out: inout String, options: Options, depth: Int,
    drain: (inout String) -> Void = { _ in }
  ) {
    switch value.kind {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d):
      // JSON has no Inf or NaN; like encoding/json we refuse them rather than emit invalid text.
      out += d.isFinite ? Value.format(d) : "null"
    case .string(let s): quote(s, into: &out)
    case .sequence(let items):
      if items.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        newline(&out, options: options, depth: depth + 1)
        write(item, into: &out, options: options, depth: depth + 1, drain: drain)
        drain(&out)
      }
      newline(&out, options: options, depth: depth)
      out += "]"
    case .mapping(let mapping):
      if mapping.isEmpty {
        out += "{}"
        return
      }
      out += "{"
      // Sorting positions by the keys alone: not a copy of the entries (a 72,000-key
      // mapping's are 3.4 MB, and every cluster in flight hashes its values this way), and no
      // entry copied (with its references counted) for each comparison.
      let entries = mapping.entries
      let sorted = options.sortedKeys ? Self.sortedPositions(entries.map(\.key)) : nil
      for i in entries.indices {
        let entry = entries[sorted?[i] ?? i]
        if i > 0 { out += "," }
        newline(&out, options: options, depth: depth + 1)
        quote(entry.key, into: &out)
        out += options.pretty ? ": " : ":"
        write(entry.value, into: &out, options: options, depth: depth + 1, drain: drain)
        drain(&out)
      }
      newline(&out, options: options, depth: depth)
      out += "}"
    }
  }

  private static func sortedPositions(_ keys: [String]) -> [Int] {
    keys.indices.sorted { keys[$0] < keys[$1] }
  }

  private static func newline(_ out: inout String, options: Options, depth: Int) {
    guard options.pretty else { return }
    out += "\n"
    out += String(repeating: "  ", count: depth)
  }

  public static func quote(_ s: String, into out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      case "<", ">", "&":
        // Escaped as encoding/json does, so JSON embedded in HTML cannot close a tag.
        out += "\\u00" + String(scalar.value, radix: 16)
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out += "\""
  }
}

/// Parses JSON text (RFC 8259) into a `Value` with marks; errors carry line and column.
public struct JSONReader {
  private let source: SourceFile
  private let bytes: [UInt8]
  private var offset = 0
  private var line = 1
  private var lineStart = 0
  private var depth = 0
  private var keys = KeyTable()
  public static let maximumDepth = 512

  public static func parse(_ bytes: [UInt8], path: String = "<json>") throws(Diagnostic) -> Value {
    var reader = JSONReader(source: SourceFile(path: path, bytes: bytes))
    return try reader.document()
  }

  public static func parse(_ text: String, path: String = "<json>") throws(Diagnostic) -> Value {
    try parse(Array(text.utf8), path: path)
  }

  public static func parse(_ source: SourceFile) throws(Diagnostic) -> Value {
    var reader = JSONReader(source: source)
    return try reader.document()
  }

  /// The one JSON value that starts at byte `offset` of a one-line `source` (after blanks), and
  /// the offset just past it; whatever follows is left to the caller, as Go's `json.Decoder`
  /// leaves it (helm's `--set-json key=VALUE,...`).
  public static func parseValue(in source: SourceFile, from offset: Int) throws(Diagnostic)
    -> (value: Value, end: Int)
  {
    var reader = JSONReader(source: source)
    reader.offset = offset
    reader.skipSpace()
    let value = try reader.parseValue()
    return (value, reader.offset)
  }

  private init(source: SourceFile) {
    self.source = source
    self.bytes = source.bytes
  }

  private var mark: SourceMark {
    SourceMark(file: source, line: line, column: offset - lineStart + 1)
  }

  private func fail(_ message: String) -> Diagnostic { .error(message, at: mark) }

  private mutating func document() throws(Diagnostic) -> Value {
    skipSpace()
    let value = try parseValue()
    skipSpace()
    if offset < bytes.count { throw fail("unexpected text after the JSON value") }
    return value
  }

  private mutating func skipSpace() {
    while offset < bytes.count {
      switch bytes[offset] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): offset += 1
      case UInt8(ascii: "\n"):
        offset += 1
        line += 1
        lineStart = offset
      default: return
      }
    }
  }

  private mutating func parseValue() throws(Diagnostic) -> Value {
    guard offset < bytes.count else { throw fail("unexpected end of JSON input") }
    let start = mark
    switch bytes[offset] {
    case UInt8(ascii: "{"): return try parseObject(start)
    case UInt8(ascii: "["): return try parseArray(start)
    case UInt8(ascii: "\""): return .string(try parseString(), mark: start)
    case UInt8(ascii: "t"):
      try literal("true")
      return .bool(true, mark: start)
    case UInt8(ascii: "f"):
      try literal("false")
      return .bool(false, mark: start)
    case UInt8(ascii: "n"):
      try literal("null")
      return Value(.null, mark: start)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber(start)
    default:
      throw fail(
        "unexpected character '\(String(decoding: [bytes[offset]], as: UTF8.self))' in JSON")
    }
  }

  private mutating func literal(_ word: String) throws(Diagnostic) {
    let expected = Array(word.utf8)
    let count = expected.count
    guard offset + count <= bytes.count, bytes[offset..<offset + count].elementsEqual(expected)
    else {
      throw fail("invalid literal, expected '\(word)'")
    }
    offset += count
  }

  private mutating func enter() throws(Diagnostic) {
    depth += 1
    if depth > Self.maximumDepth {
      throw fail("JSON nested deeper than \(Self.maximumDepth) levels")
    }
  }

  private mutating func parseObject(_ start: SourceMark) throws(Diagnostic) -> Value {
    try enter()
    offset += 1
    var mapping = Mapping()
    skipSpace()
    if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
      offset += 1
      depth -= 1
      return .mapping(mapping, mark: start)
    }
    while true {
      skipSpace()
      guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
        throw fail("expected a string key in JSON object")
      }
      let keyMark = mark
      let key = keys.key(try parseString())
      if mapping.contains(key.text) {
        throw Diagnostic.error("duplicate key '\(key.text)'", at: keyMark)
      }
      skipSpace()
      guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else {
        throw fail("expected ':' after key in JSON object")
      }
      offset += 1
      skipSpace()
      let value = try parseValue()
      mapping.append(key, keyMark: keyMark, value)
      skipSpace()
      guard offset < bytes.count else { throw fail("unterminated JSON object") }
      if bytes[offset] == UInt8(ascii: ",") {
        offset += 1
        continue
      }
      if bytes[offset] == UInt8(ascii: "}") {
        offset += 1
        depth -= 1
        return .mapping(mapping, mark: start)
      }
      throw fail("expected ',' or '}' in JSON object")
    }
  }

  private mutating func parseArray(_ start: SourceMark) throws(Diagnostic) -> Value {
    try enter()
    offset += 1
    var items: [Value] = []
    skipSpace()
    if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
      offset += 1
      depth -= 1
      return .sequence(items, mark: start)
    }
    while true {
      skipSpace()
      items.append(try parseValue())
      skipSpace()
      guard offset < bytes.count else { throw fail("unterminated JSON array") }
      if bytes[offset] == UInt8(ascii: ",") {
        offset += 1
        continue
      }
      if bytes[offset] == UInt8(ascii: "]") {
        offset += 1
        depth -= 1
        return .sequence(items, mark: start)
      }
      throw fail("expected ',' or ']' in JSON array")
    }
  }

  private mutating func parseString() throws(Diagnostic) -> String {
    offset += 1
    var scalars = String.UnicodeScalarView()
    var runStart = offset
    func flush(_ end: Int, into scalars: inout String.UnicodeScalarView) {
      if end > runStart {
        scalars.append(
          contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars)
      }
    }
    while offset < bytes.count {
      let byte = bytes[offset]
      if byte == UInt8(ascii: "\"") {
        flush(offset, into: &scalars)
        offset += 1
        return String(scalars)
      }
      if byte < 0x20 { throw fail("control character in JSON string") }
      if byte == UInt8(ascii: "\\") {
        flush(offset, into: &scalars)
        offset += 1
        guard offset < bytes.count else { break }
        let escape = bytes[offset]
        offset += 1
        switch escape {
        case UInt8(ascii: "\""): scalars.append("\"")
        case UInt8(ascii: "\\"): scalars.append("\\")
        case UInt8(ascii: "/"): scalars.append("/")
        case UInt8(ascii: "b"): scalars.append("\u{08}")
        case UInt8(ascii: "f"): scalars.append("\u{0C}")
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "u"):
          var code = try hex4()
          if (0xD800..<0xDC00).contains(code), offset + 1 < bytes.count,
            bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
          {
            offset += 2
            let low = try hex4()
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          }
          scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
        default: throw fail("invalid escape in JSON string")
        }
        runStart = offset
        continue
      }
      offset += 1
    }
    throw fail("unterminated JSON string")
  }

  private mutating func hex4() throws(Diagnostic) -> UInt32 {
    guard offset + 4 <= bytes.count else { throw fail("truncated \\u escape") }
    var code: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[offset]
      let digit: UInt32
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
      default: throw fail("invalid hex digit in \\u escape")
      }
      code = code * 16 + digit
      offset += 1
    }
    return code
  }

  private mutating func parseNumber(_ start: SourceMark) throws(Diagnostic) -> Value {
    let begin = offset
    var isInteger = true
    if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
    func digits(_ reader: inout JSONReader) -> Int {
      let from = reader.offset
      while reader.offset < reader.bytes.count,
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.bytes[reader.offset])
      {
        reader.offset += 1
      }
      return reader.offset - from
    }
    if digits(&self) == 0 { throw fail("invalid number") }
    if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
      isInteger = false
      offset += 1
      if digits(&self) == 0 { throw fail("invalid number: digits expected after '.'") }
    }
    if offset < bytes.count,
      bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E")
    {
      isInteger = false
      offset += 1
      if offset < bytes.count,
        bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-")
      {
        offset += 1
      }
      if digits(&self) == 0 { throw fail("invalid number: digits expected in exponent") }
    }
    let text = String(decoding: bytes[begin..<offset], as: UTF8.self)
    if isInteger, let i = Int64(text) { return .int(i, mark: start) }
    guard let d = Double(text) else {
      throw Diagnostic.error("invalid number '\(text)'", at: start)
    }
    return .double(d, mark: start)
  }
}
