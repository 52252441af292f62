// Which file and line set each leaf of merged values: `values --show-origin` in YAML and JSON.
import FleetCore
import FleetYAML

public enum ValueOrigins {
  /// `values/env/prod.yaml:12` for a leaf read from a file (relative to `directory` when inside
  /// it), or `--set image.tag=v2` for a leaf set on the command line.
  public static func describe(_ mark: SourceMark?, relativeTo directory: String? = nil) -> String {
    guard let mark else { return "?" }
    let path = mark.file.path
    if SetArgument.Kind(rawValue: path) != nil {
      return path + " " + (mark.file.line(1) ?? "")
    }
    var shown = path
    if let directory, directory != ".", !directory.isEmpty {
      let prefix = directory.hasSuffix("/") ? directory : directory + "/"
      if shown.hasPrefix(prefix) { shown = String(shown.dropFirst(prefix.count)) }
    }
    return "\(shown):\(mark.line)"
  }

  /// A tree shaped like `value` in which every leaf (scalars, empty maps, empty lists) is
  /// replaced by the description of where it was set: the JSON form of `--show-origin`.
  public static func tree(_ value: Value, relativeTo directory: String? = nil) -> Value {
    switch value.kind {
    case .mapping(let mapping) where !mapping.isEmpty:
      var out = Mapping()
      out.reserveCapacity(mapping.count)
      for entry in mapping { out.append(entry.key, tree(entry.value, relativeTo: directory)) }
      return .mapping(out)
    case .sequence(let items) where !items.isEmpty:
      return .sequence(items.map { tree($0, relativeTo: directory) })
    default:
      return .string(describe(value.mark, relativeTo: directory))
    }
  }

  /// Block YAML with a trailing `# origin` comment on every leaf: the YAML form of
  /// `--show-origin`. It reads back (comments aside) as the same values.
  public static func annotatedYAML(_ value: Value, relativeTo directory: String? = nil) -> String {
    var lines: [String] = []
    switch value.kind {
    case .mapping(let mapping) where !mapping.isEmpty:
      writeMapping(mapping, indent: "", into: &lines, directory)
    case .sequence(let items) where !items.isEmpty:
      writeSequence(items, indent: "", into: &lines, directory)
    default:
      lines.append(inline(value) + "  # " + describe(value.mark, relativeTo: directory))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private static func isLeaf(_ value: Value) -> Bool {
    switch value.kind {
    case .mapping(let m): return m.isEmpty
    case .sequence(let s): return s.isEmpty
    default: return true
    }
  }

  private static func writeMapping(
    _ mapping: Mapping, indent: String, into lines: inout [String], _ directory: String?,
    firstPrefix: String? = nil
  ) {
    for (i, entry) in mapping.entries.enumerated() {
      let lead = (i == 0 ? firstPrefix : nil) ?? indent
      let key = scalarText(entry.key)
      if isLeaf(entry.value) {
        lines.append(
          lead + key + ": " + inline(entry.value) + "  # "
            + describe(entry.value.mark, relativeTo: directory))
      } else if case .mapping(let inner) = entry.value.kind {
        lines.append(lead + key + ":")
        writeMapping(inner, indent: indent + "  ", into: &lines, directory)
      } else if case .sequence(let items) = entry.value.kind {
        lines.append(lead + key + ":")
        writeSequence(items, indent: indent + "  ", into: &lines, directory)
      }
    }
  }

  private static func writeSequence(
    _ items: [Value], indent: String, into lines: inout [String], _ directory: String?
  ) {
    for item in items {
      if isLeaf(item) {
        lines.append(
          indent + "- " + inline(item) + "  # " + describe(item.mark, relativeTo: directory))
      } else if case .mapping(let inner) = item.kind {
        writeMapping(
          inner, indent: indent + "  ", into: &lines, directory, firstPrefix: indent + "- ")
      } else if case .sequence(let inner) = item.kind {
        lines.append(indent + "-")
        writeSequence(inner, indent: indent + "  ", into: &lines, directory)
      }
    }
  }

  /// A leaf written inline: scalars as YAML writes them, `{}` and `[]` for empty collections.
  private static func inline(_ value: Value) -> String {
    switch value.kind {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return Value.format(d)
    case .string(let s): return scalarText(s)
    case .mapping: return "{}"
    case .sequence: return "[]"
    }
  }

  /// A string as a YAML scalar that reads back as the same string: the emitter decides the
  /// quoting; multi-line text is written double-quoted on one line so the comment can follow.
  private static func scalarText(_ s: String) -> String {
    if s.contains("\n") || s.contains("\r") {
      var quoted = ""
      JSONWriter.quote(s, into: &quoted)
      return quoted
    }
    let emitted = YAML.emit(.mapping(Mapping([.init(key: "k", value: .string(s))])))
    var line = Substring(emitted)
    if line.hasPrefix("k: ") { line = line.dropFirst(3) }
    while line.last == "\n" { line = line.dropLast() }
    // The emitter folds long text over several lines; keep it on one, as JSON-style quoting.
    if line.contains("\n") {
      var quoted = ""
      JSONWriter.quote(s, into: &quoted)
      return quoted
    }
    return String(line)
  }
}
