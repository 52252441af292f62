// `Value` back to YAML text that Helm reads as the same values.
import FleetCore

extension YAML {
  /// One document, block style; strings that would read back as another type are quoted.
  public static func emit(_ value: Value) -> String {
    emit(documents: [value], explicitStart: false)
  }

  /// A stream of documents separated by `---`.
  public static func emit(documents: [Value], explicitStart: Bool = true) -> String {
    var bytes: [UInt8] = []
    walk(documents, explicitStart: explicitStart) { buffer in
      bytes.append(contentsOf: buffer)
      return true
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `emit(value)` handed to `write` a buffer at a time as libyaml produces it, so a large
  /// tree can go to a file or a digest without its text ever existing whole. A failure of
  /// `write` stops the emission and is rethrown.
  public static func emit<Failure: Error>(
    _ value: Value, to write: (UnsafeBufferPointer<UInt8>) throws(Failure) -> Void
  ) throws(Failure) {
    var failure: Failure?
    walk([value], explicitStart: false) { buffer in
      guard failure == nil else { return false }
      do throws(Failure) {
        try write(buffer)
        return true
      } catch {
        failure = error
        return false
      }
    }
    if let failure { throw failure }
  }

  /// The walk shared by every form; it ends early, quietly, when `write` returns false.
  private static func walk(
    _ documents: [Value], explicitStart: Bool, write: (UnsafeBufferPointer<UInt8>) -> Bool
  ) {
    var stopped = false
    withoutActuallyEscaping(write) { write in
      do {
        let emitter = try LibYAMLEmitter { buffer in
          if write(buffer) { return true }
          stopped = true
          return false
        }
        try emitter.streamStart()
        for (i, document) in documents.enumerated() {
          try emitter.documentStart(implicit: !explicitStart && i == 0)
          try emitNode(document, with: emitter)
          try emitter.documentEnd()
        }
        try emitter.streamEnd()
      } catch {
        // libyaml rejects only malformed event sequences, which this walk never produces, and
        // output the writer refused.
        if !stopped { preconditionFailure("YAML emitter rejected a well-formed tree: \(error)") }
      }
    }
  }

  private static func emitNode(_ value: Value, with emitter: LibYAMLEmitter) throws(Diagnostic) {
    switch value.kind {
    case .null: try emitter.scalar("null", style: .plain)
    case .bool(let b): try emitter.scalar(b ? "true" : "false", style: .plain)
    case .int(let i): try emitter.scalar(String(i), style: .plain)
    case .double(let d): try emitter.scalar(Value.format(d), style: .plain)
    case .string(let s): try emitter.scalar(s, style: style(for: s))
    case .sequence(let items):
      try emitter.sequenceStart(flow: items.isEmpty)
      for item in items { try emitNode(item, with: emitter) }
      try emitter.sequenceEnd()
    case .mapping(let mapping):
      try emitter.mappingStart(flow: mapping.isEmpty)
      for entry in mapping {
        try emitter.scalar(entry.key, style: style(for: entry.key))
        try emitNode(entry.value, with: emitter)
      }
      try emitter.mappingEnd()
    }
  }

  /// Plain when the text reads back as the same string; libyaml itself falls back to quoting
  /// when plain text is not allowed (leading `- `, `: ` inside, `#`, ...).
  static func style(for string: String) -> LibYAMLEmitter.ScalarStyle {
    if string.contains("\n") { return .literal }
    if string == "<<" { return .doubleQuoted }
    if case .string = ScalarResolution.resolve(string) { return .plain }
    return .doubleQuoted
  }
}
