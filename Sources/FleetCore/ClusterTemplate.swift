// `{{ .name }}`-style placeholders in paths, URLs, queries and commands, filled per cluster.
import Foundation

/// Where a template's output goes, which decides how each substituted value is escaped (as Go's
/// html/template escapes by context). The rules, per fleet field, are in docs/fleet-format.md
/// under "Templates and escaping".
public enum TemplateSink: String, Sendable, CaseIterable {
  /// Names and kubeconfig contexts: the value as is, but never a control character.
  case text
  /// File paths (values layers): the value as one path segment, never `/`, `.` or `..`; the
  /// expanded path is then confined to the fleet directory by Inventory.
  case path
  /// URLs: each value percent-encoded as one component (only `A-Za-z0-9-._~` pass).
  case url
  /// PromQL: a value only inside a quoted string (a label matcher value), escaped as a
  /// PromQL string; anywhere else it is refused.
  case promql
  /// Shell commands: refused unless marked `{{ .field | shellquote }}`, which makes the value
  /// exactly one single-quoted shell word. Commands get every value as environment variables.
  case shell
}

/// Fills `{{ .name }}`, `{{ .context }}`, `{{ .server }}`, `{{ .labels.KEY }}` and any extra
/// variables (`{{ .version }}`, `{{ .release }}`, `{{ .namespace }}`) from a cluster.
///
/// Deliberately not Go templates: no logic, only lookups, so a typo is a located error
/// rather than an empty string.
public enum ClusterTemplate {
  /// The variable naming every cluster a gate checks at once (a wave gate): `{{ .clusters }}`.
  public static let clustersVariable = "clusters"

  /// `{{ .clusters }}`'s value: the names as an RE2 alternation (`a|b|c`), each regex
  /// metacharacter escaped for use inside a double-quoted PromQL string, where a backslash must
  /// itself be escaped: `prod.eu` becomes `prod\\.eu`, so `cluster=~"{{ .clusters }}"` matches
  /// exactly these names.
  public static func clustersAlternation(_ names: [String]) -> String {
    let metacharacters = Set("\\.+*?()|[]{}^$")
    return names.map { name in
      var escaped = ""
      for character in name {
        if metacharacters.contains(character) { escaped += "\\\\" }
        escaped.append(character)
      }
      return escaped
    }.joined(separator: "|")
  }

  /// True when `text` holds at least one placeholder.
  public static func isTemplated(_ text: String) -> Bool { text.contains("{{") }

  /// Renders `text` for `cluster`. `mark` points at the first character of `text` in its file,
  /// so errors point at the placeholder's column.
  public static func render(
    _ text: String, cluster: Cluster, variables: [String: String] = [:], mark: SourceMark? = nil,
    sink: TemplateSink = .text
  ) throws(Diagnostic) -> String {
    guard isTemplated(text) else { return text }
    var output = ""
    var rest = Substring(text)
    var column = 0
    while let open = rest.range(of: "{{") {
      output += rest[rest.startIndex..<open.lowerBound]
      column += rest.distance(from: rest.startIndex, to: open.lowerBound)
      let placeholderMark = mark?.advanced(by: column)
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        throw .error("unclosed '{{' in template", at: placeholderMark)
      }
      let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      let (field, quoted) = try pipeline(expression, sink: sink, mark: placeholderMark)
      let value = try lookup(field, cluster: cluster, variables: variables, mark: placeholderMark)
      output += try escape(
        value, field: field, quoted: quoted, sink: sink, before: output, mark: placeholderMark)
      column += rest.distance(from: open.lowerBound, to: close.upperBound)
      rest = rest[close.upperBound...]
    }
    output += rest
    return output
  }

  /// Checks a template's placeholders without a cluster: unknown fields are errors.
  public static func check(
    _ text: String, variables: Set<String> = [], mark: SourceMark? = nil,
    sink: TemplateSink = .text
  ) -> [Diagnostic] {
    var labels: [String: String] = [:]
    // A harmless probe value: a single letter passes every sink's escaping unchanged.
    for key in labelKeys(in: text) { labels[key] = "x" }
    let probe = Cluster(name: "x", labels: labels, context: "x", server: "x")
    var values: [String: String] = [:]
    for name in variables { values[name] = "x" }
    do {
      _ = try render(text, cluster: probe, variables: values, mark: mark, sink: sink)
      return []
    } catch {
      return [error]
    }
  }

  /// The label keys a template refers to, in order of first use.
  public static func labelKeys(in text: String) -> [String] {
    var keys: [String] = []
    var rest = Substring(text)
    while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
      let expression = fieldPart(
        rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
      if expression.hasPrefix(".labels.") {
        let key = String(expression.dropFirst(".labels.".count))
        if !keys.contains(key) { keys.append(key) }
      }
      rest = rest[close.upperBound...]
    }
    return keys
  }

  /// The field of `.field | function`, without the function.
  public static func fieldPart(_ expression: String) -> String {
    guard let bar = expression.firstIndex(of: "|") else { return expression }
    return expression[..<bar].trimmingCharacters(in: .whitespaces)
  }

  /// Splits `.field | shellquote` into the field and whether it is shell-quoted; `shellquote` is
  /// the only function, and only shell commands take it.
  private static func pipeline(_ expression: String, sink: TemplateSink, mark: SourceMark?)
    throws(Diagnostic) -> (field: String, quoted: Bool)
  {
    guard let bar = expression.firstIndex(of: "|") else { return (expression, false) }
    let field = expression[..<bar].trimmingCharacters(in: .whitespaces)
    let function = expression[expression.index(after: bar)...].trimmingCharacters(in: .whitespaces)
    guard function == "shellquote" else {
      throw .error(
        "unknown template function '\(function)' in '{{ \(expression) }}'; the only one is "
          + "'shellquote', for shell commands", at: mark)
    }
    guard sink == .shell else {
      throw .error(
        "'shellquote' is only for shell commands; here '{{ \(field) }}' is escaped for "
          + "\(sink.description) already", at: mark)
    }
    return (field, true)
  }

  /// Escapes one substituted value for `sink`; `before` is the output so far, whose open
  /// quotes decide where a PromQL value sits.
  private static func escape(
    _ value: String, field: String, quoted: Bool, sink: TemplateSink, before: String,
    mark: SourceMark?
  ) throws(Diagnostic) -> String {
    func refuse(_ why: String) -> Diagnostic {
      .error("'{{ \(field) }}' value \(Escaping.visible(value)) \(why)", at: mark)
    }
    switch sink {
    case .text:
      guard !value.unicodeScalars.contains(where: Escaping.isControl) else {
        throw refuse("holds a control character")
      }
      return value
    case .path:
      guard !value.contains("/"), value != ".", value != "..", !value.contains("\0") else {
        throw refuse("is not a single file name: paths take no '/', '.', '..' or NUL from values")
      }
      return value
    case .url:
      return Escaping.percentEncoded(value)
    case .promql:
      // `{{ .clusters }}` arrives escaped for a double-quoted string already.
      switch Escaping.openPromQLQuote(before) {
      case "\"" where field == ".\(clustersVariable)": return value
      case "\"": return Escaping.promQLString(value, quote: "\"")
      case "'": return Escaping.promQLString(value, quote: "'")
      default:
        throw .error(
          "'{{ \(field) }}' in a PromQL query must sit inside a quoted label matcher value, "
            + "as in {cluster=\"{{ \(field) }}\"}", at: mark)
      }
    case .shell:
      guard quoted else {
        throw .error(
          "'{{ \(field) }}' in a shell command: commands receive values as environment "
            + "variables (\(Escaping.environmentName(field).map { "\"$\($0)\"" } ?? "FLEETWAVE_*")); "
            + "to paste the value as one quoted word write '{{ \(field) | shellquote }}'",
          at: mark)
      }
      guard !value.contains("\0") else { throw refuse("holds NUL, which no shell word can") }
      return Escaping.shellWord(value)
    }
  }

  private static func lookup(
    _ expression: String, cluster: Cluster, variables: [String: String], mark: SourceMark?
  ) throws(Diagnostic) -> String {
    guard expression.hasPrefix(".") else {
      throw .error("template placeholder '{{ \(expression) }}' must start with '.'", at: mark)
    }
    let path = expression.dropFirst()
    switch path {
    case "name": return cluster.name
    case "context":
      guard let context = cluster.context else {
        throw .error("cluster '\(cluster.name)' has no context for '{{ .context }}'", at: mark)
      }
      return context
    case "server":
      guard let server = cluster.server else {
        throw .error("cluster '\(cluster.name)' has no server for '{{ .server }}'", at: mark)
      }
      return server
    default:
      if path.hasPrefix("labels.") {
        let key = String(path.dropFirst("labels.".count))
        guard let value = cluster.labels[key] else {
          throw .error("cluster '\(cluster.name)' has no label '\(key)'", at: mark)
        }
        return value
      }
      if let value = variables[String(path)] { return value }
      let known = ["name", "context", "server", "labels.KEY"] + variables.keys.sorted()
      let suggestion = Suggestion.closest(to: String(path), among: known)
      throw .error(
        "unknown template field '.\(path)'"
          + (suggestion.map { "; did you mean '.\($0)'?" } ?? "; known: "
            + known.map { "." + $0 }.joined(separator: ", ")),
        at: mark)
    }
  }
}

extension TemplateSink: CustomStringConvertible {
  public var description: String {
    switch self {
    case .text: "plain text"
    case .path: "a file path"
    case .url: "a URL"
    case .promql: "a PromQL query"
    case .shell: "a shell command"
    }
  }
}

/// The escaping functions behind TemplateSink, one per sink.
public enum Escaping {
  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || scalar.value == 0x7F
  }

  /// A value as an error message shows it: quoted, control characters as `\n`, `\0`, `\u{..}`.
  public static func visible(_ value: String) -> String {
    var out = "'"
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\n": out += "\\n"
      case "\0": out += "\\0"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if isControl(scalar) {
          out += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "'"
  }

  /// RFC 3986 percent-encoding of everything but the unreserved characters, so a value is one
  /// path segment or one query value; `.` and `..` are encoded too, so they are not dot-segments.
  public static func percentEncoded(_ value: String) -> String {
    if value == "." || value == ".." { return String(repeating: "%2E", count: value.count) }
    var out = ""
    for byte in value.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "_"), UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        let hex = String(byte, radix: 16, uppercase: true)
        out += byte < 16 ? "%0\(hex)" : "%\(hex)"
      }
    }
    return out
  }

  /// The quote character of the PromQL string that is open at the end of `text`, if any
  /// (`"`, `'` or a backquote), following PromQL's backslash escapes inside `"` and `'`.
  static func openPromQLQuote(_ text: String) -> Character? {
    var open: Character?
    var escaped = false
    for character in text {
      if let quote = open {
        if escaped {
          escaped = false
        } else if character == "\\", quote != "`" {
          escaped = true
        } else if character == quote {
          open = nil
        }
      } else if character == "\"" || character == "'" || character == "`" {
        open = character
      }
    }
    return open
  }

  /// `value` as the inside of a PromQL (Go) string quoted with `quote`.
  public static func promQLString(_ value: String, quote: Character) -> String {
    var out = ""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if Character(scalar) == quote {
          out += "\\" + String(quote)
        } else if isControl(scalar) {
          let hex = String(scalar.value, radix: 16)
          out += scalar.value < 16 ? "\\x0\(hex)" : "\\x\(hex)"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }

  /// `value` as exactly one POSIX shell word: single quotes, each `'` written as `'\''`.
  public static func shellWord(_ value: String) -> String {
    "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// The environment variable a command reads instead of `field` (`.labels.team` is
  /// `FLEETWAVE_LABEL_TEAM`), or nil for a field that has none.
  public static func environmentName(_ field: String) -> String? {
    guard field.hasPrefix(".") else { return nil }
    let path = field.dropFirst()
    if path == "name" { return "FLEETWAVE_CLUSTER" }
    if path.hasPrefix("labels.") {
      return "FLEETWAVE_LABEL_" + variableSuffix(String(path.dropFirst("labels.".count)))
    }
    return "FLEETWAVE_" + variableSuffix(String(path))
  }

  /// A label key or variable name as the tail of an environment variable: upper case, every
  /// character but letters and digits as `_` (`app.kubernetes.io/part-of` is
  /// `APP_KUBERNETES_IO_PART_OF`).
  public static func variableSuffix(_ name: String) -> String {
    name.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? String($0) : "_" }
      .joined()
  }
}
