// `{{ .name }}`-style placeholders in paths, URLs, queries and commands, filled per cluster.
import Foundation

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
    _ text: String, cluster: Cluster, variables: [String: String] = [:], mark: SourceMark? = nil
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
      output += try lookup(expression, cluster: cluster, variables: variables, mark: placeholderMark)
      column += rest.distance(from: open.lowerBound, to: close.upperBound)
      rest = rest[close.upperBound...]
    }
    output += rest
    return output
  }

  /// Checks a template's placeholders without a cluster: unknown fields are errors.
  public static func check(_ text: String, variables: Set<String> = [], mark: SourceMark? = nil)
    -> [Diagnostic]
  {
    var labels: [String: String] = [:]
    for key in labelKeys(in: text) { labels[key] = "" }
    let probe = Cluster(name: "", labels: labels, context: "", server: "")
    var values: [String: String] = [:]
    for name in variables { values[name] = "" }
    do {
      _ = try render(text, cluster: probe, variables: values, mark: mark)
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
      let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      if expression.hasPrefix(".labels.") {
        let key = String(expression.dropFirst(".labels.".count))
        if !keys.contains(key) { keys.append(key) }
      }
      rest = rest[close.upperBound...]
    }
    return keys
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
