// Per-cluster values: the fleet's layers templated from the cluster, merged as `helm -f` merges
// them, then `--set`/`--set-string`, and optionally coalesced with a local chart's defaults.
import FleetCore
import FleetYAML
import Foundation

/// Resolves the values each cluster's release receives. Values files shared by many clusters
/// are read and parsed once (the cache is keyed by path), so resolving a whole fleet costs one
/// parse per distinct file. Safe to share between threads.
public final class ValuesResolver: @unchecked Sendable {
  public let fleet: Fleet

  /// One values layer as it applies to one cluster.
  public struct ResolvedLayer: Sendable, Equatable {
    /// The path relative to the fleet directory, as the template rendered it.
    public var relativePath: String
    /// The path to open (the fleet directory joined with `relativePath`).
    public var path: String
    public var optional: Bool
    /// False for an optional layer whose file does not exist (it is skipped).
    public var exists: Bool
  }

  /// A values file as read: its top-level mapping, or why it cannot be used.
  private enum FileState {
    case missing
    case values(Mapping)
    case invalid([Diagnostic])
  }

  private let lock = NSLock()
  private var files: [String: FileState] = [:]
  /// Names in each directory a layer points into: one listing answers "does this cluster have
  /// an override file" for every cluster, instead of a stat per cluster.
  private var listings: [String: Set<String>] = [:]
  private let templates: [CompiledTemplate]

  public init(fleet: Fleet) {
    self.fleet = fleet
    templates = fleet.values.map { CompiledTemplate($0.path, mark: $0.mark, sink: .path) }
  }

  // MARK: - Layers

  /// The layers that apply to `cluster`, in order, with their files located.
  public func layers(for cluster: Cluster) throws(DiagnosticError) -> [ResolvedLayer] {
    var resolved: [ResolvedLayer] = []
    var problems: [Diagnostic] = []
    for (layer, template) in zip(fleet.values, templates) {
      let relative: String
      do {
        relative = try template.render(cluster)
      } catch {
        // An optional layer whose path cannot be filled for this cluster does not apply to it.
        if !layer.optional { problems.append(error) }
        continue
      }
      if let why = FleetPaths.escape(relative, written: layer.path, in: fleet.directory) {
        problems.append(.error("values file \(why)", at: layer.mark))
        continue
      }
      let path = FleetPaths.join(fleet.directory, relative)
      let exists: Bool
      if case .missing = state(of: path) { exists = false } else { exists = true }
      if !exists && !layer.optional {
        problems.append(
          .error(
            "values file '\(relative)' does not exist; cluster '\(cluster.name)' needs it",
            at: layer.mark))
      }
      resolved.append(
        ResolvedLayer(relativePath: relative, path: path, optional: layer.optional, exists: exists))
    }
    if !problems.isEmpty { throw DiagnosticError(problems) }
    return resolved
  }

  // MARK: - Values

  /// The values Helm receives for `cluster`: every layer merged in order (`helm -f a -f b`),
  /// then each `--set`, then each `--set-string` (Helm applies all `--set` before any
  /// `--set-string`, whatever their order on the command line). Every leaf keeps the mark of
  /// the file and line (or `--set` argument) that set it.
  public func values(for cluster: Cluster, sets: [String] = [], setStrings: [String] = [])
    throws(DiagnosticError) -> Value
  {
    var merged = Mapping()
    var first = true
    for layer in try layers(for: cluster) where layer.exists {
      switch state(of: layer.path) {
      case .values(let mapping):
        merged = first ? mapping : HelmMerge.layer(mapping, over: merged)
        first = false
      case .invalid(let problems): throw DiagnosticError(problems)
      case .missing: continue
      }
    }
    do {
      for argument in sets { try SetArgument.apply(argument, kind: .typed, to: &merged) }
      for argument in setStrings { try SetArgument.apply(argument, kind: .string, to: &merged) }
    } catch {
      throw DiagnosticError([error])
    }
    return .mapping(merged)
  }

  /// `.Values` as the chart sees it: `values(for:)` coalesced with the defaults of the release's
  /// chart when it is a local directory (a `null` then deletes the chart's default for that key).
  /// Without a local chart this is `values(for:)` itself.
  public func chartValues(for cluster: Cluster, sets: [String] = [], setStrings: [String] = [])
    throws(DiagnosticError) -> Value
  {
    let user = try values(for: cluster, sets: sets, setStrings: setStrings)
    guard let defaults = try chartDefaults(), let mapping = user.mapping else { return user }
    return .mapping(HelmMerge.coalesce(mapping, withDefaults: defaults))
  }

  /// The local chart's directory, when the release names one that exists in the fleet.
  public var localChartDirectory: String? {
    guard let chart = fleet.release.chart, FleetPaths.isLocal(chart, in: fleet.directory) else {
      return nil
    }
    return FleetPaths.join(fleet.directory, chart)
  }

  /// The local chart's `values.yaml`, nil without a local chart; empty when it has none.
  public func chartDefaults() throws(DiagnosticError) -> Mapping? {
    guard let chartDirectory = localChartDirectory else { return nil }
    let path = FleetPaths.join(chartDirectory, "values.yaml")
    switch state(of: path) {
    case .missing: return Mapping()
    case .values(let mapping): return mapping
    case .invalid(let problems): throw DiagnosticError(problems)
    }
  }

  // MARK: - Files

  private func state(of path: String) -> FileState {
    lock.lock()
    if let known = files[path] {
      lock.unlock()
      return known
    }
    let listed = isListed(path)
    lock.unlock()
    let state = listed ? Self.read(path) : .missing
    lock.lock()
    files[path] = state
    lock.unlock()
    return state
  }

  /// Whether the path's directory lists its name; called with the lock held.
  private func isListed(_ path: String) -> Bool {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    if let names = listings[directory] { return names.contains(name) }
    let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
    listings[directory] = names
    return names.contains(name)
  }

  private static func read(_ path: String) -> FileState {
    guard FileManager.default.fileExists(atPath: path) else { return .missing }
    let document: Value
    do {
      // The tree stays cached for the whole run; its text need not.
      document = try YAML.load(path: path, keepingText: false)
    } catch {
      return .invalid([error])
    }
    switch document.kind {
    // An empty file is no values at all, as in Helm.
    case .null: return .values(Mapping())
    case .mapping(let mapping):
      var problems: [Diagnostic] = []
      findNonFinite(document, &problems)
      return problems.isEmpty ? .values(mapping) : .invalid(problems)
    default:
      return .invalid([
        .error(
          "a values file must hold a mapping at its top, found \(document.kindName)",
          at: document.mark)
      ])
    }
  }

  /// `.inf` and `.nan` parse as numbers, but Helm cannot hand them to a chart.
  private static func findNonFinite(_ value: Value, _ problems: inout [Diagnostic]) {
    switch value.kind {
    case .double(let d) where !d.isFinite:
      problems.append(
        .error(
          "'\(Value.format(d))' is not a finite number; Helm refuses it (quote it to keep the"
            + " text)", at: value.mark))
    case .sequence(let items): for item in items { findNonFinite(item, &problems) }
    case .mapping(let mapping): for entry in mapping { findNonFinite(entry.value, &problems) }
    default: break
    }
  }

  // MARK: - Validation

  /// Every problem with the values of the whole fleet: layers whose path cannot be filled or
  /// whose file is missing (once per file, naming the first cluster that needs it), values
  /// files that cannot be used, and a warning for each overlay file no cluster uses.
  func check() -> [Diagnostic] {
    var problems: [Diagnostic] = []
    // Grouped so a missing file needed by 10,000 clusters is one error, not 10,000.
    var grouped: [String: (first: Diagnostic, count: Int, order: Int)] = [:]
    var used = Set<String>()
    var invalidReported = Set<String>()
    for cluster in fleet.clusters {
      do {
        for layer in try layers(for: cluster) where layer.exists {
          used.insert(layer.path)
          if case .invalid(let fileProblems) = state(of: layer.path),
            invalidReported.insert(layer.path).inserted
          {
            problems.append(contentsOf: fileProblems)
          }
        }
      } catch {
        for diagnostic in error.diagnostics {
          let key = Self.groupKey(diagnostic, cluster: cluster.name)
          if let existing = grouped[key] {
            grouped[key] = (existing.first, existing.count + 1, existing.order)
          } else {
            grouped[key] = (diagnostic, 1, grouped.count)
          }
        }
        // Layers that did resolve are still in use; count them so no false warning follows.
        for template in templates {
          if let relative = try? template.render(cluster) {
            used.insert(FleetPaths.join(fleet.directory, relative))
          }
        }
      }
    }
    for (_, group) in grouped.sorted(by: { $0.value.order < $1.value.order }) {
      var diagnostic = group.first
      if group.count > 1 {
        let others = group.count - 1
        diagnostic.message += " (and \(others) other cluster\(others == 1 ? "" : "s"))"
      }
      problems.append(diagnostic)
    }
    do {
      _ = try chartDefaults()
    } catch {
      problems.append(contentsOf: error.diagnostics)
    }
    problems.append(contentsOf: unusedOverlays(used: used))
    return problems
  }

  private static func groupKey(_ diagnostic: Diagnostic, cluster: String) -> String {
    let general = diagnostic.message.replacingOccurrences(of: "'\(cluster)'", with: "'*'")
    return "\(diagnostic.mark?.description ?? ""):\(general)"
  }

  /// Values files under a templated layer's directory that no cluster's layers name.
  private func unusedOverlays(used: Set<String>) -> [Diagnostic] {
    var directories: [String] = []
    for layer in fleet.values where ClusterTemplate.isTemplated(layer.path) {
      guard let open = layer.path.range(of: "{{") else { continue }
      let prefix = layer.path[..<open.lowerBound]
      guard let slash = prefix.lastIndex(of: "/") else { continue }
      let directory = FleetPaths.join(fleet.directory, String(prefix[..<slash]))
      if !directories.contains(directory) { directories.append(directory) }
    }
    var warnings: [Diagnostic] = []
    var seen = Set<String>()
    for directory in directories {
      guard let enumerator = FileManager.default.enumerator(atPath: directory) else { continue }
      var found: [String] = []
      while let relative = enumerator.nextObject() as? String {
        if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") {
          found.append(directory + "/" + relative)
        }
      }
      for path in found.sorted() where !used.contains(path) && seen.insert(path).inserted {
        let mark = (try? YAML.read(path: path)).map { SourceMark(file: $0, line: 1, column: 1) }
        warnings.append(
          .warning(
            mark == nil
              ? "\(path): no cluster uses this values file"
              : "no cluster uses this values file", at: mark))
      }
    }
    return warnings
  }
}
