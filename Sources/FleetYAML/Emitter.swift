// `Value` back to YAML text that Helm reads as the same values.
import FleetCore

extension YAML {
  /// One document, block style; strings that would read back as another type are quoted.
  public static func emit(_ value: Value) -> String {
    emit(documents: [value], explicitStart: false)
  }

  /// A stream of documents separated by `---`.
  public static func emit(documents: [Value], explicitStart: Bool = true) -> String {
    do {
      let emitter = try LibYAMLEmitter()
      try emitter.streamStart()
      for (i, document) in documents.enumerated() {
        try emitter.documentStart(implicit: !explicitStart && i == 0)
        try emitNode(document, with: emitter)
        try emitter.documentEnd()
      }
      try emitter.streamEnd()
      return emitter.text
    } catch {
      // libyaml rejects only malformed event sequences, which this walk never produces.
      preconditionFailure("YAML emitter rejected a well-formed tree: \(error)")
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
