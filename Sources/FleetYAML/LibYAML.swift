// The only file that touches libyaml: its parser as a stream of Swift events, and its emitter.
import CYAML
import FleetCore
import Foundation

/// One parser event, with libyaml's C data already copied into Swift values.
enum YAMLEvent {
  case streamStart
  case streamEnd
  case documentStart(SourceMark)
  case documentEnd
  case alias(anchor: String, mark: SourceMark)
  case scalar(value: String, anchor: String?, tag: String?, plain: Bool, mark: SourceMark)
  case sequenceStart(anchor: String?, tag: String?, mark: SourceMark)
  case sequenceEnd
  case mappingStart(anchor: String?, tag: String?, mark: SourceMark)
  case mappingEnd
}

/// What a parser reads: text in memory, or an open file read a block at a time, so that a
/// large file never exists whole in memory beside the tree made from it.
enum ParserInput {
  case text([UInt8])
  /// A descriptor the caller keeps open while the parser lives, read to at most `limit` bytes.
  case file(descriptor: Int32, limit: Int)
}

/// Owns a `yaml_parser_t` reading one source; freed on deinit.
final class LibYAMLParser {
  /// Heap-allocated so libyaml's state is reached through a pointer, not a class property:
  /// no dynamic exclusivity check on each of the million events of a large file.
  private let parser: UnsafeMutablePointer<yaml_parser_t>
  private let source: SourceFile
  /// libyaml pulls its input through a read handler, a block at a time: no copy of the text
  /// is made for it.
  private let input: Input

  private final class Input {
    let from: ParserInput
    var offset = 0
    /// Why reading the file failed; libyaml only learns that it did.
    var failure: String?
    init(_ from: ParserInput) { self.from = from }

    func read(into buffer: UnsafeMutablePointer<UInt8>, size: Int) -> Int? {
      switch from {
      case .text(let text):
        let count = text.withUnsafeBufferPointer { bytes in
          let count = min(size, bytes.count - offset)
          if count > 0, let base = bytes.baseAddress {
            buffer.update(from: base + offset, count: count)
          }
          return count
        }
        offset += count
        return count
      case .file(let descriptor, let limit):
        while true {
          let count = Foundation.read(descriptor, buffer, size)
          if count < 0, errno == EINTR { continue }
          guard count >= 0 else {
            failure = String(cString: strerror(errno))
            return nil
          }
          offset += count
          if offset > limit {
            failure = "the file grew past the limit of \(limit) bytes while read"
            return nil
          }
          return count
        }
      }
    }
  }

  /// Parses `input`, marking events in `source` (which need not hold the text itself).
  init(source: SourceFile, input from: ParserInput) throws(Diagnostic) {
    self.source = source
    input = Input(from)
    parser = UnsafeMutablePointer.allocate(capacity: 1)
    parser.initialize(to: yaml_parser_t())
    guard yaml_parser_initialize(parser) == 1 else {
      parser.deallocate()
      throw Diagnostic.error("cannot initialize the YAML parser (out of memory)")
    }
    yaml_parser_set_input(
      parser,
      { context, buffer, size, sizeRead in
        guard let context, let buffer, let sizeRead else { return 0 }
        let input = Unmanaged<Input>.fromOpaque(context).takeUnretainedValue()
        guard let count = input.read(into: buffer, size: size) else { return 0 }
        sizeRead.pointee = count
        return 1
      }, Unmanaged.passUnretained(input).toOpaque())
  }

  deinit {
    yaml_parser_delete(parser)
    parser.deallocate()
  }

  private func mark(_ m: yaml_mark_t) -> SourceMark {
    SourceMark(file: source, line: Int(m.line) + 1, column: Int(m.column) + 1)
  }

  private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    guard let pointer else { return nil }
    return String(cString: pointer)
  }

  /// The next event; throws libyaml's error located at its problem mark.
  func next() throws(Diagnostic) -> YAMLEvent {
    var event = yaml_event_t()
    guard yaml_parser_parse(parser, &event) == 1 else { throw error() }
    defer { yaml_event_delete(&event) }
    let start = mark(event.start_mark)
    switch event.type {
    case YAML_STREAM_START_EVENT: return .streamStart
    case YAML_STREAM_END_EVENT: return .streamEnd
    case YAML_DOCUMENT_START_EVENT: return .documentStart(start)
    case YAML_DOCUMENT_END_EVENT: return .documentEnd
    case YAML_ALIAS_EVENT:
      return .alias(anchor: Self.string(event.data.alias.anchor) ?? "", mark: start)
    case YAML_SCALAR_EVENT:
      let scalar = event.data.scalar
      let value = String(
        decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
      return .scalar(
        value: value, anchor: Self.string(scalar.anchor), tag: Self.string(scalar.tag),
        plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, mark: start)
    case YAML_SEQUENCE_START_EVENT:
      let s = event.data.sequence_start
      return .sequenceStart(anchor: Self.string(s.anchor), tag: Self.string(s.tag), mark: start)
    case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
    case YAML_MAPPING_START_EVENT:
      let m = event.data.mapping_start
      return .mappingStart(anchor: Self.string(m.anchor), tag: Self.string(m.tag), mark: start)
    case YAML_MAPPING_END_EVENT: return .mappingEnd
    default: throw Diagnostic.error("unexpected YAML event", at: start)
    }
  }

  /// libyaml's failure as a located diagnostic, with hints for the common mistakes.
  private func error() -> Diagnostic {
    if let failure = input.failure {
      return .error("\(source.path): cannot read file: \(failure)")
    }
    let problem = parser.pointee.problem.map { String(cString: $0) } ?? "invalid YAML"
    if parser.pointee.error == YAML_READER_ERROR {
      // Reader errors (bad encoding) carry a byte offset, not a mark.
      let at = location(ofByte: parser.pointee.problem_offset)
      var message = problem
      if parser.pointee.problem_value != -1 {
        message += String(format: " (byte 0x%02X)", parser.pointee.problem_value)
      }
      if problem.contains("UTF-8") { message = "invalid UTF-8: " + message }
      return .error(message, at: at)
    }
    let at = mark(parser.pointee.problem_mark)
    var message = problem
    if problem == "found character that cannot start any token",
      let line = source.line(at.line),
      let character = Array(line).dropFirst(at.column - 1).first, character == "\t"
    {
      message = "found a tab character where indentation is expected; YAML allows only spaces"
    } else if let context = parser.pointee.context.map({ String(cString: $0) }) {
      let contextMark = mark(parser.pointee.context_mark)
      message += " (\(context) at line \(contextMark.line), column \(contextMark.column))"
    }
    return .error(message, at: at)
  }

  private func location(ofByte offset: Int) -> SourceMark {
    var line = 1
    var lineStart = 0
    let bytes: [UInt8]
    switch input.from {
    case .text(let text): bytes = text
    // Only a failed parse gets here: reading the file again costs nothing the tree needs.
    case .file: bytes = (try? FileContents.bytes(atPath: source.path, limit: .max).get()) ?? []
    }
    var i = 0
    while i < min(offset, bytes.count) {
      if bytes[i] == UInt8(ascii: "\n") {
        line += 1
        lineStart = i + 1
      }
      i += 1
    }
    let prefix = bytes[lineStart..<min(offset, bytes.count)]
    let column = String(decoding: prefix, as: UTF8.self).count + 1
    return SourceMark(file: source, line: line, column: column)
  }

  /// The raw event pass with nothing built: the baseline the tree builder is measured against.
  static func countEvents(in source: SourceFile) throws(Diagnostic) -> Int {
    let reader = try LibYAMLParser(source: source, input: .text(source.bytes))
    var count = 0
    while true {
      var event = yaml_event_t()
      guard yaml_parser_parse(reader.parser, &event) == 1 else { throw reader.error() }
      let done = event.type == YAML_STREAM_END_EVENT
      yaml_event_delete(&event)
      count += 1
      if done { return count }
    }
  }
}

/// Owns a `yaml_emitter_t` handing its text, a buffer at a time, to a write function.
final class LibYAMLEmitter {
  enum ScalarStyle {
    case plain, singleQuoted, doubleQuoted, literal
  }

  private var emitter = yaml_emitter_t()
  private let output: Output

  /// Where libyaml's output goes; false from `write` stops the emitter.
  final class Output {
    let write: (UnsafeBufferPointer<UInt8>) -> Bool
    init(write: @escaping (UnsafeBufferPointer<UInt8>) -> Bool) { self.write = write }
  }

  init(write: @escaping (UnsafeBufferPointer<UInt8>) -> Bool) throws(Diagnostic) {
    output = Output(write: write)
    guard yaml_emitter_initialize(&emitter) == 1 else {
      throw Diagnostic.error("cannot initialize the YAML emitter (out of memory)")
    }
    yaml_emitter_set_unicode(&emitter, 1)
    yaml_emitter_set_width(&emitter, -1)
    yaml_emitter_set_indent(&emitter, 2)
    yaml_emitter_set_output(
      &emitter,
      { context, buffer, size in
        guard let context, let buffer else { return 0 }
        let output = Unmanaged<Output>.fromOpaque(context).takeUnretainedValue()
        return output.write(UnsafeBufferPointer(start: buffer, count: size)) ? 1 : 0
      }, Unmanaged.passUnretained(output).toOpaque())
  }

  deinit { yaml_emitter_delete(&emitter) }

  private func emit(_ event: inout yaml_event_t) throws(Diagnostic) {
    guard yaml_emitter_emit(&emitter, &event) == 1 else {
      let problem = emitter.problem.map { String(cString: $0) } ?? "YAML emitter failed"
      throw Diagnostic.error(problem)
    }
  }

  func streamStart() throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
    try emit(&event)
  }

  func streamEnd() throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_stream_end_event_initialize(&event)
    try emit(&event)
  }

  func documentStart(implicit: Bool) throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_document_start_event_initialize(&event, nil, nil, nil, implicit ? 1 : 0)
    try emit(&event)
  }

  func documentEnd() throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_document_end_event_initialize(&event, 1)
    try emit(&event)
  }

  func scalar(_ value: String, style: ScalarStyle) throws(Diagnostic) {
    var event = yaml_event_t()
    let cStyle: yaml_scalar_style_t
    switch style {
    case .plain: cStyle = YAML_PLAIN_SCALAR_STYLE
    case .singleQuoted: cStyle = YAML_SINGLE_QUOTED_SCALAR_STYLE
    case .doubleQuoted: cStyle = YAML_DOUBLE_QUOTED_SCALAR_STYLE
    case .literal: cStyle = YAML_LITERAL_SCALAR_STYLE
    }
    // A trailing NUL keeps the buffer non-empty, so it always has an address; libyaml copies
    // `length` bytes and never reads the NUL.
    var bytes = Array(value.utf8) + [0]
    let length = Int32(bytes.count - 1)
    let ok = bytes.withUnsafeMutableBufferPointer { buffer in
      yaml_scalar_event_initialize(&event, nil, nil, buffer.baseAddress, length, 1, 1, cStyle)
    }
    guard ok == 1 else { throw Diagnostic.error("cannot emit scalar") }
    try emit(&event)
  }

  func sequenceStart(flow: Bool) throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_sequence_start_event_initialize(
      &event, nil, nil, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
    try emit(&event)
  }

  func sequenceEnd() throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_sequence_end_event_initialize(&event)
    try emit(&event)
  }

  func mappingStart(flow: Bool) throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_mapping_start_event_initialize(
      &event, nil, nil, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
    try emit(&event)
  }

  func mappingEnd() throws(Diagnostic) {
    var event = yaml_event_t()
    yaml_mapping_end_event_initialize(&event)
    try emit(&event)
  }
}
