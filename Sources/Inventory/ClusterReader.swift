// Clusters of a fleet: inline, or from `clustersFrom` globs (a file per cluster or lists), with
// the fleet's `defaults` merged into each.
import FleetCore
import FleetYAML
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

struct ClusterReader {
  let directory: String
  let windowNames: Set<String>
  /// Clusters with a label that was refused (already reported there): their templates are not
  /// filled, so one bad label is one error, not one more per template that names it.
  private(set) var clustersWithRefusedLabels = Set<String>()

  static let clusterKeys = ["name", "labels", "context", "server", "windows", "expectedDuration"]
  static let defaultKeys = ["labels", "context", "server", "windows", "expectedDuration"]

  /// What `defaults` contributes; `context` and `server` may be templates of the cluster.
  private struct Defaults {
    var labels: [(String, String)] = []
    var refusedLabels = false
    var context: CompiledTemplate?
    var server: CompiledTemplate?
    var windows: [String] = []
    var expectedDuration: Duration?
  }

  mutating func read(_ top: Fields, _ diagnostics: inout Diagnostics) -> [Cluster] {
    let defaults = top["defaults"].map { readDefaults($0, &diagnostics) } ?? Defaults()
    var nodes: [Value] = []
    if let value = top["clusters"] {
      if let items = value.sequence {
        nodes.append(contentsOf: items)
      } else {
        diagnostics.error("'clusters' must be a list, found \(value.kindName)", at: value.mark)
      }
    }
    if let value = top["clustersFrom"] {
      nodes.append(contentsOf: clusterFiles(value, &diagnostics))
    }
    if !top.has("clusters") && !top.has("clustersFrom") {
      diagnostics.error("the fleet file needs 'clusters' or 'clustersFrom'", at: top.mark)
    }
    var clusters: [Cluster] = []
    clusters.reserveCapacity(nodes.count)
    var firstMark: [String: SourceMark?] = [:]
    firstMark.reserveCapacity(nodes.count)
    for node in nodes {
      guard let cluster = readCluster(node, defaults: defaults, &diagnostics) else { continue }
      if let first = firstMark[cluster.name] {
        diagnostics.error(
          "duplicate cluster name '\(cluster.name)'", at: cluster.mark,
          notes: first.map { [.note("'\(cluster.name)' was first defined here", at: $0)] } ?? [])
        continue
      }
      firstMark[cluster.name] = cluster.mark
      clusters.append(cluster)
    }
    return clusters
  }

  private func readDefaults(_ value: Value, _ diagnostics: inout Diagnostics) -> Defaults {
    var defaults = Defaults()
    guard let fields = Fields.open(value, as: "defaults", allowed: Self.defaultKeys, &diagnostics)
    else { return defaults }
    if let labels = fields["labels"] {
      defaults.labels = readLabels(labels, &diagnostics)
      defaults.refusedLabels = defaults.labels.count != labels.mapping?.count
    }
    for key in ["context", "server"] {
      guard let value = fields[key], let text = fields.text(key, &diagnostics) else { continue }
      let mark = Fields.contentMark(of: value)
      // A server is a URL; a context is a kubeconfig name.
      let sink: TemplateSink = key == "server" ? .url : .text
      diagnostics.append(contentsOf: ClusterTemplate.check(text, mark: mark, sink: sink))
      let template = CompiledTemplate(text, mark: mark, sink: sink)
      if key == "context" { defaults.context = template } else { defaults.server = template }
    }
    defaults.windows = windowNames(fields, &diagnostics)
    defaults.expectedDuration = fields.duration("expectedDuration", &diagnostics)
    return defaults
  }

  private mutating func readCluster(
    _ node: Value, defaults: Defaults, _ diagnostics: inout Diagnostics
  )
    -> Cluster?
  {
    let label = node["name"]?.string.map { "cluster '\($0)'" } ?? "a cluster"
    guard let fields = Fields.open(node, as: label, allowed: Self.clusterKeys, &diagnostics) else {
      return nil
    }
    guard let name = fields.requiredText("name", &diagnostics) else { return nil }
    if !Self.isValidName(name) {
      diagnostics.error(
        "invalid cluster name '\(name)': use letters, digits, '-', '_' and '.', starting with a"
          + " letter or digit", at: fields.mark(of: "name"))
      return nil
    }
    var labels: [String: String] = [:]
    labels.reserveCapacity(defaults.labels.count + 4)
    for (key, value) in defaults.labels { labels[key] = value }
    var refusedLabels = defaults.refusedLabels
    if let value = fields["labels"] {
      let accepted = readLabels(value, &diagnostics)
      refusedLabels = refusedLabels || accepted.count != value.mapping?.count
      for (key, text) in accepted { labels[key] = text }
    }
    var cluster = Cluster(
      name: name, labels: labels, context: fields.text("context", &diagnostics),
      server: fields.text("server", &diagnostics),
      windows: fields.has("windows") ? windowNames(fields, &diagnostics) : defaults.windows,
      expectedDuration: fields.duration("expectedDuration", &diagnostics)
        ?? defaults.expectedDuration,
      mark: node.mark)
    if refusedLabels {
      clustersWithRefusedLabels.insert(name)
      return cluster
    }
    // Templates see the cluster's own fields, so defaults are filled after them.
    do {
      if cluster.context == nil, let template = defaults.context {
        cluster.context = try template.render(cluster)
      }
      if cluster.server == nil, let template = defaults.server {
        cluster.server = try template.render(cluster)
      }
    } catch {
      diagnostics.append(error)
    }
    return cluster
  }

  static func isValidName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first,
      first.properties.isAlphabetic || ("0"..."9").contains(first)
    else { return false }
    return name.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        || $0 == "-" || $0 == "_" || $0 == "."
    }
  }

  private func readLabels(_ value: Value, _ diagnostics: inout Diagnostics) -> [(String, String)] {
    guard let mapping = value.mapping else {
      diagnostics.error("'labels' must be a mapping, found \(value.kindName)", at: value.mark)
      return []
    }
    var labels: [(String, String)] = []
    labels.reserveCapacity(mapping.count)
    for entry in mapping {
      // Kubernetes' syntax keeps shell, path, URL and PromQL metacharacters out of labels.
      if let why = LabelSyntax.problem(key: entry.key) {
        diagnostics.error("label key \(Escaping.visible(entry.key)) \(why)", at: entry.keyMark)
        continue
      }
      if let text = entry.value.string, let why = LabelSyntax.problem(value: text) {
        diagnostics.error(
          "label '\(entry.key)' value \(Escaping.visible(text)) \(why)",
          at: Fields.contentMark(of: entry.value))
        continue
      }
      switch entry.value.kind {
      case .string(let text):
        labels.append((entry.key, text))
      case .int, .double, .bool:
        if let text = Fields.textOfScalar(entry.value, named: "label '\(entry.key)'", &diagnostics)
        {
          labels.append((entry.key, text))
        }
      default:
        diagnostics.error(
          "label '\(entry.key)' must have a string value, found \(entry.value.kindName)",
          at: entry.value.mark)
      }
    }
    return labels
  }

  private func windowNames(_ fields: Fields, _ diagnostics: inout Diagnostics) -> [String] {
    guard let names = fields.textList("windows", &diagnostics) else { return [] }
    var out: [String] = []
    for (name, mark) in names {
      if !windowNames.contains(name) {
        var message = "unknown window '\(name)'"
        if let suggestion = Suggestion.closest(to: name, among: windowNames.sorted()) {
          message += "; did you mean '\(suggestion)'?"
        } else if windowNames.isEmpty {
          message += "; the fleet defines no windows"
        }
        diagnostics.error(message, at: mark)
        continue
      }
      out.append(name)
    }
    return out
  }

  /// Every cluster node of the files `clustersFrom` names: a file holds one cluster (a mapping)
  /// or several (a list).
  private func clusterFiles(_ value: Value, _ diagnostics: inout Diagnostics) -> [Value] {
    var patterns: [(String, SourceMark?)] = []
    if let s = value.string {
      patterns = [(s, value.mark)]
    } else if let items = value.sequence {
      for item in items {
        guard let s = item.string else {
          diagnostics.error(
            "'clustersFrom' patterns must be strings, found \(item.kindName)", at: item.mark)
          continue
        }
        patterns.append((s, item.mark))
      }
    } else {
      diagnostics.error(
        "'clustersFrom' must be a glob pattern or a list of them, found \(value.kindName)",
        at: value.mark)
    }
    var nodes: [Value] = []
    var seen = Set<String>()
    for (pattern, mark) in patterns {
      let files = Glob.match(FleetPaths.join(directory, pattern))
      if files.isEmpty {
        diagnostics.error("clustersFrom pattern '\(pattern)' matches no file", at: mark)
      }
      for file in files where seen.insert(file).inserted {
        // A match reached through a symlink (or `..` in the pattern) may lie outside the fleet.
        let inside = FleetPaths.join(directory, "")
        let relative =
          file.hasPrefix(inside) && !inside.isEmpty ? String(file.dropFirst(inside.count)) : file
        if let why = FleetPaths.escape(relative, written: pattern, in: directory) {
          diagnostics.error("clustersFrom file \(why)", at: mark)
          continue
        }
        do {
          let document = try YAML.load(path: file)
          switch document.kind {
          case .mapping: nodes.append(document)
          case .sequence(let items): nodes.append(contentsOf: items)
          case .null: break
          default:
            diagnostics.error(
              "a cluster file must hold a cluster (a mapping) or a list of clusters, found "
                + document.kindName, at: document.mark)
          }
        } catch {
          diagnostics.append(error)
        }
      }
    }
    return nodes
  }
}

/// Shell-style patterns (`*`, `?`, `[...]`) over the file system, sorted, via glob(3).
enum Glob {
  static func match(_ pattern: String) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    guard glob(pattern, 0, nil, &result) == 0 else { return [] }
    var paths: [String] = []
    paths.reserveCapacity(Int(result.gl_pathc))
    for i in 0..<Int(result.gl_pathc) {
      if let pointer = result.gl_pathv[i] { paths.append(String(cString: pointer)) }
    }
    return paths
  }
}
