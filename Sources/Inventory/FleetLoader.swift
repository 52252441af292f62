// Loading a fleet directory: fleet.yaml, cluster files, release, values layers, windows, policy.
import FleetCore
import FleetYAML
import Foundation

/// A fleet that loaded without errors, with the warnings found on the way and the values
/// resolver whose cache already holds every values file validation read.
public struct LoadedFleet: Sendable {
  public var fleet: Fleet
  public var warnings: [Diagnostic]
  public var values: ValuesResolver

  public init(fleet: Fleet, warnings: [Diagnostic], values: ValuesResolver) {
    self.fleet = fleet
    self.warnings = warnings
    self.values = values
  }
}

public enum FleetLoader {
  public static let apiVersion = "fleetwave/v1"

  /// Loads and validates the fleet at `directory` (a fleet directory or its `fleet.yaml`).
  /// Every problem found is thrown at once; warnings ride along with the errors.
  public static func load(directory: String) throws(DiagnosticError) -> LoadedFleet {
    let (fleetDirectory, fleetFile) = try locate(directory)
    let source: SourceFile
    let document: Value
    do {
      source = try YAML.read(path: fleetFile)
      document = try YAML.parse(source)
    } catch {
      throw DiagnosticError([error])
    }
    var reader = FleetReader(directory: fleetDirectory)
    guard let fleet = reader.read(document) else {
      throw DiagnosticError(inFileOrder(reader.diagnostics.all))
    }
    // Values are checked even when the fleet file has errors, so one run shows every problem;
    // but not for clusters whose refused labels were reported already.
    let resolver = ValuesResolver(fleet: fleet)
    var all = reader.diagnostics
    if reader.clustersWithRefusedLabels.isEmpty {
      all.append(contentsOf: resolver.check())
    } else {
      var checked = fleet
      checked.clusters.removeAll { reader.clustersWithRefusedLabels.contains($0.name) }
      all.append(contentsOf: ValuesResolver(fleet: checked).check())
    }
    let ordered = inFileOrder(all.all)
    if all.hasErrors { throw DiagnosticError(ordered) }
    return LoadedFleet(
      fleet: fleet, warnings: ordered.filter { $0.severity == .warning }, values: resolver)
  }

  /// Diagnostics sorted by file, line and column (unlocated ones first), so a long report reads
  /// top to bottom through each file; equal positions keep the order they were found in.
  static func inFileOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
    diagnostics.enumerated().sorted { a, b in
      let (x, y) = (a.element.mark, b.element.mark)
      if (x?.file.path ?? "") != (y?.file.path ?? "") {
        return (x?.file.path ?? "") < (y?.file.path ?? "")
      }
      if (x?.line ?? 0) != (y?.line ?? 0) { return (x?.line ?? 0) < (y?.line ?? 0) }
      if (x?.column ?? 0) != (y?.column ?? 0) { return (x?.column ?? 0) < (y?.column ?? 0) }
      return a.offset < b.offset
    }.map(\.element)
  }

  /// The fleet directory and fleet file for a FLEET argument.
  static func locate(_ argument: String) throws(DiagnosticError) -> (String, String) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
      throw DiagnosticError([.error("\(argument): no such fleet directory or fleet file")])
    }
    if isDirectory.boolValue {
      var directory = argument
      while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
      let file = FleetPaths.join(directory, "fleet.yaml")
      guard FileManager.default.fileExists(atPath: file) else {
        throw DiagnosticError([.error("\(argument): directory has no fleet.yaml")])
      }
      return (directory, file)
    }
    let parent = (argument as NSString).deletingLastPathComponent
    return (parent.isEmpty ? "." : parent, argument)
  }
}

/// Paths inside a fleet directory, spelled so that messages show them as the user would type
/// them from where they ran the command.
enum FleetPaths {
  static func join(_ directory: String, _ relative: String) -> String {
    if relative.hasPrefix("/") || directory == "." || directory.isEmpty { return relative }
    return directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
  }

  /// Why `relative` (as the fleet names it, after templates) is not inside `directory` once
  /// `..` and symlinks are resolved, or nil when it is. A path the fleet file writes as
  /// absolute is the author's explicit choice and passes; `written` is that text.
  static func escape(_ relative: String, written: String, in directory: String) -> String? {
    if written.hasPrefix("/") { return nil }
    let root = realPath(directory.isEmpty ? "." : directory)
    let target = realPath(join(directory.isEmpty ? "." : directory, relative))
    if target == root || target.hasPrefix(root.hasSuffix("/") ? root : root + "/") { return nil }
    return "'\(relative)' resolves to '\(target)', outside the fleet directory '\(root)'"
  }

  /// `path` with symlinks and `..` resolved: the deepest part that exists goes through
  /// realpath(3), the rest is appended and normalized by hand.
  static func realPath(_ path: String) -> String {
    var absolute =
      path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var missing: [String] = []
    while true {
      if let resolved = realpath(absolute, nil) {
        defer { free(resolved) }
        var parts = String(cString: resolved).split(separator: "/").map(String.init)
        for part in missing.reversed() {
          if part == ".." {
            _ = parts.popLast()
          } else if part != "." && !part.isEmpty {
            parts.append(part)
          }
        }
        return "/" + parts.joined(separator: "/")
      }
      guard let slash = absolute.lastIndex(of: "/"), absolute != "/" else { return absolute }
      missing.append(String(absolute[absolute.index(after: slash)...]))
      absolute = slash == absolute.startIndex ? "/" : String(absolute[..<slash])
    }
  }
}

/// Reads the fleet document into the model, collecting every problem on the way.
struct FleetReader {
  let directory: String
  var diagnostics = Diagnostics()
  /// See ClusterReader.clustersWithRefusedLabels.
  private(set) var clustersWithRefusedLabels = Set<String>()

  init(directory: String) { self.directory = directory }

  static let topKeys = [
    "apiVersion", "kind", "metadata", "release", "values", "defaults", "clusters", "clustersFrom",
    "rollout", "windows", "freeze", "state",
  ]

  mutating func read(_ document: Value) -> Fleet? {
    guard let top = Fields.open(document, as: "the fleet file", allowed: Self.topKeys, &diagnostics)
    else { return nil }
    checkHeader(top)
    let name = fleetName(top)
    let release = top["release"].flatMap { readRelease($0) }
    if !top.has("release") { top.missing("release", &diagnostics) }
    let layers = top["values"].map { readValuesLayers($0) } ?? []
    var windows: [String: MaintenanceWindow] = [:]
    if let value = top["windows"] { windows = CalendarReader.windows(value, &diagnostics) }
    var freezes: [FreezePeriod] = []
    if let value = top["freeze"] { freezes = CalendarReader.freezes(value, &diagnostics) }
    // Invalid windows are reported where they are defined, not again at every use.
    let windowNames = Set(top["windows"]?.mapping?.keys ?? [])
    var clusterReader = ClusterReader(directory: directory, windowNames: windowNames)
    let clusters = clusterReader.read(top, &diagnostics)
    clustersWithRefusedLabels = clusterReader.clustersWithRefusedLabels
    var policy = RolloutPolicy()
    if let value = top["rollout"] {
      policy = PolicyReader.read(value, clusters: clusters, &diagnostics)
    }
    if let release {
      checkTemplates(
        policy: policy, release: release,
        clusters: clusters.filter { !clustersWithRefusedLabels.contains($0.name) })
    }
    // Without a readable release (already reported) the rest is still checked.
    var fleet = Fleet(
      name: name, directory: directory, release: release ?? Release(name: name), values: layers,
      clusters: clusters,
      rollout: policy, windows: windows, freezes: freezes)
    fleet.state = top["state"].flatMap { StateReader.read($0, &diagnostics) }
    return fleet
  }

  private mutating func checkHeader(_ top: Fields) {
    if let value = top["apiVersion"] {
      if value.string != FleetLoader.apiVersion {
        diagnostics.error(
          "unsupported apiVersion '\(value.scalarText ?? value.kindName)'; expected '"
            + FleetLoader.apiVersion + "'", at: value.mark)
      }
    } else {
      top.missing("apiVersion", &diagnostics)
    }
    if let value = top["kind"], value.string != "Fleet" {
      diagnostics.error(
        "unsupported kind '\(value.scalarText ?? value.kindName)'; expected 'Fleet'", at: value.mark
      )
    }
  }

  private mutating func fleetName(_ top: Fields) -> String {
    let fallback = (directory as NSString).lastPathComponent
    guard let value = top["metadata"],
      let metadata = Fields.open(
        value, as: "metadata", allowed: ["name", "description", "labels"], &diagnostics)
    else { return fallback == "." ? "fleet" : fallback }
    return metadata.text("name", &diagnostics) ?? fallback
  }

  private mutating func readRelease(_ value: Value) -> Release? {
    let allowed = [
      "name", "namespace", "driver", "chart", "manifests", "exec", "version", "appVersion",
      "chartVersion", "repo", "registryConfig", "caFile", "plainHTTP",
    ]
    guard let fields = Fields.open(value, as: "release", allowed: allowed, &diagnostics) else {
      return nil
    }
    let name = fields.requiredText("name", &diagnostics)
    let namespace = fields.text("namespace", &diagnostics) ?? "default"
    // No default: a fleet that names no driver would quietly simulate a production rollout.
    var driver = DriverKind.sim
    let driverNames = DriverKind.allCases.map(\.rawValue).joined(separator: ", ")
    if !fields.has("driver") {
      diagnostics.error(
        "release is missing required key 'driver'; expected one of \(driverNames)",
        at: fields.mark)
    } else if let text = fields.text("driver", &diagnostics) {
      if let kind = DriverKind(rawValue: text) {
        driver = kind
      } else {
        let names = DriverKind.allCases.map(\.rawValue)
        var message = "unknown driver '\(text)'"
        if let suggestion = Suggestion.closest(to: text, among: names) {
          message += "; did you mean '\(suggestion)'?"
        } else {
          message += "; expected one of " + driverNames
        }
        diagnostics.error(message, at: fields.mark(of: "driver"))
      }
    }
    let chart = fields.text("chart", &diagnostics)
    let manifests = fields.text("manifests", &diagnostics)
    for (key, path) in [("chart", chart), ("manifests", manifests)] {
      guard let path, !path.contains("://"),
        let why = FleetPaths.escape(path, written: path, in: directory)
      else { continue }
      diagnostics.error("\(key) \(why)", at: fields.mark(of: key))
    }
    var exec: ExecCommands?
    if let value = fields["exec"] { exec = readExec(value) }
    let source = readChartSource(fields, chart: chart)
    if let chart, FleetPaths.isLocal(chart, in: directory) == false, !chart.contains("://"),
      !chart.hasSuffix(".tgz"),
      chart.hasPrefix(".") || chart.hasPrefix("/")
    {
      diagnostics.error("chart directory '\(chart)' does not exist", at: fields.mark(of: "chart"))
    }
    if let chart, FleetPaths.isLocal(chart, in: directory),
      !FileManager.default.fileExists(
        atPath: FleetPaths.join(FleetPaths.join(directory, chart), "Chart.yaml"))
    {
      diagnostics.error(
        "chart directory '\(chart)' has no Chart.yaml", at: fields.mark(of: "chart"))
    }
    if let manifests, !FileManager.default.fileExists(atPath: FleetPaths.join(directory, manifests))
    {
      diagnostics.error(
        "manifests directory '\(manifests)' does not exist", at: fields.mark(of: "manifests"))
    }
    switch driver {
    case .helm where chart == nil:
      diagnostics.error("driver 'helm' needs 'chart' in release", at: fields.mark(of: "driver"))
    case .kube where chart == nil && manifests == nil:
      diagnostics.error(
        "driver 'kube' needs 'chart' or 'manifests' in release", at: fields.mark(of: "driver"))
    case .exec where exec == nil:
      diagnostics.error("driver 'exec' needs 'exec' in release", at: fields.mark(of: "driver"))
    default: break
    }
    guard let name else { return nil }
    var release = Release(
      name: name, namespace: namespace, driver: driver, chart: chart, manifests: manifests,
      exec: exec, version: source.appVersion, mark: value.mark)
    release.chartVersion = source.chartVersion
    release.repo = source.repo
    release.access = source.access
    for key in allowed where fields.has(key) {
      release.fieldMarks[key] = fields.mark(of: key)
    }
    return release
  }

  /// The chart's versions, repository and access settings, checked against the kind of chart.
  private mutating func readChartSource(_ fields: Fields, chart: String?) -> (
    appVersion: String?, chartVersion: String?, repo: String?, access: ChartAccess
  ) {
    let legacy = fields.text("version", &diagnostics)
    let appVersion = fields.text("appVersion", &diagnostics)
    if let legacy, let appVersion, legacy != appVersion {
      diagnostics.error(
        "release.version '\(legacy)' and release.appVersion '\(appVersion)' differ; version is"
          + " the old name of appVersion: keep one", at: fields.mark(of: "version"))
    }
    var chartVersion = fields.text("chartVersion", &diagnostics)
    let repo = fields.text("repo", &diagnostics)
    let local = chart.map { FleetPaths.isLocal($0, in: directory) || $0.hasSuffix(".tgz") } ?? false
    if let chart, chart.hasSuffix(".tgz"), repo == nil,
      !FileManager.default.fileExists(atPath: FleetPaths.join(directory, chart))
    {
      diagnostics.error("chart archive '\(chart)' does not exist", at: fields.mark(of: "chart"))
    }
    if let repo {
      if !(repo.hasPrefix("http://") || repo.hasPrefix("https://")) {
        diagnostics.error(
          "repo '\(repo)' is not an http:// or https:// URL", at: fields.mark(of: "repo"))
      } else if chart?.hasPrefix("oci://") == true {
        diagnostics.error(
          "repo is for a chart named in a Helm repository; an oci:// chart names its registry"
            + " itself", at: fields.mark(of: "repo"))
      } else if chart == nil {
        diagnostics.error(
          "repo needs 'chart' (the chart's name in it)", at: fields.mark(of: "repo"))
      }
    } else if local, chartVersion != nil {
      diagnostics.error(
        "chartVersion applies to a repository or OCI chart; a local chart's version is its"
          + " Chart.yaml", at: fields.mark(of: "chartVersion"))
    }
    // Before chartVersion existed, `version` also pinned a remote chart: it still does.
    if chartVersion == nil, appVersion == nil, chart != nil, repo != nil || !local {
      chartVersion = legacy
    }
    var access = ChartAccess(plainHTTP: fields.bool("plainHTTP", &diagnostics) ?? false)
    for key in ["registryConfig", "caFile"] {
      guard let path = fields.text(key, &diagnostics) else { continue }
      let absolute = FleetPaths.join(directory, path)
      if !FileManager.default.fileExists(atPath: absolute) {
        diagnostics.error("\(key) '\(path)' does not exist", at: fields.mark(of: key))
      }
      if key == "caFile" { access.caFile = absolute } else { access.registryConfig = absolute }
    }
    return (appVersion ?? legacy, chartVersion, repo, access)
  }

  private mutating func readExec(_ value: Value) -> ExecCommands? {
    let allowed = ["upgrade", "rollback", "revision", "timeout"]
    guard let fields = Fields.open(value, as: "release.exec", allowed: allowed, &diagnostics)
    else { return nil }
    let upgrade = fields.requiredText("upgrade", &diagnostics)
    let commands = ExecCommands(
      upgrade: upgrade ?? "", rollback: fields.text("rollback", &diagnostics),
      revision: fields.text("revision", &diagnostics),
      timeout: fields.duration("timeout", &diagnostics))
    for key in ["upgrade", "rollback", "revision"] {
      if let value = fields[key], let text = value.string {
        diagnostics.append(
          contentsOf: ClusterTemplate.check(
            text, variables: TemplateVariables.names.union(["run", "fromRevision"]),
            mark: Fields.contentMark(of: value), sink: .shell))
      }
    }
    return upgrade == nil ? nil : commands
  }

  private mutating func readValuesLayers(_ value: Value) -> [ValuesLayer] {
    guard let items = value.sequence else {
      diagnostics.error(
        "'values' must be a list of values files, found \(value.kindName)", at: value.mark)
      return []
    }
    var layers: [ValuesLayer] = []
    for item in items {
      var path: String?
      var optional = false
      var pathValue = item
      if let s = item.string {
        path = s
      } else if let fields = Fields.open(
        item, as: "a values layer", allowed: ["path", "optional"], &diagnostics)
      {
        path = fields.requiredText("path", &diagnostics)
        optional = fields.bool("optional", &diagnostics) ?? false
        pathValue = fields["path"] ?? item
      }
      guard let path else { continue }
      let mark = Fields.contentMark(of: pathValue)
      let problems = ClusterTemplate.check(path, mark: mark, sink: .path)
      diagnostics.append(contentsOf: problems)
      if problems.isEmpty { layers.append(ValuesLayer(path: path, optional: optional, mark: mark)) }
    }
    return layers
  }

  /// Health-check templates must render for every cluster: a label one cluster lacks is found
  /// now rather than halfway through a rollout.
  private mutating func checkTemplates(policy: RolloutPolicy, release: Release, clusters: [Cluster])
  {
    // The run id and a rollback's revision exist only during a run; a letter stands in.
    let variables = TemplateVariables.values(for: release).merging([
      "run": "x", "fromRevision": "x", ClusterTemplate.clustersVariable: "x",
    ]) { $1 }
    var templates: [(String, SourceMark?, TemplateSink)] = []
    for check in policy.health + policy.waveHealth {
      switch check {
      case .http(let spec): templates.append((spec.url, spec.mark, .url))
      case .prometheus(let spec):
        templates.append((spec.url, spec.mark, .url))
        templates.append((spec.query, spec.mark, .promql))
      case .command(let spec): templates.append((spec.command, spec.mark, .shell))
      case .helmTest: break
      }
    }
    if let exec = release.exec {
      for text in [exec.upgrade, exec.rollback, exec.revision].compactMap({ $0 }) {
        templates.append((text, release.mark, .shell))
      }
    }
    for (text, mark, sink) in templates where ClusterTemplate.isTemplated(text) {
      if !ClusterTemplate.check(text, variables: Set(variables.keys), mark: mark, sink: sink)
        .isEmpty
      {
        continue  // reported where the template was read
      }
      let template = CompiledTemplate(text, mark: nil, sink: sink)
      for cluster in clusters {
        do {
          _ = try template.render(cluster, variables: variables)
        } catch {
          diagnostics.error(
            "template '\(text)' cannot be filled for cluster '\(cluster.name)': \(error.message)",
            at: mark,
            notes: cluster.mark.map { [.note("cluster '\(cluster.name)' is here", at: $0)] }
              ?? [])
          break
        }
      }
    }
  }
}

/// The variables besides cluster fields that commands, URLs and queries may use.
public enum TemplateVariables {
  /// `run` is the run id, known once a run starts (`FLEETWAVE_RUN` in commands).
  public static let names: Set<String> = ["release", "namespace", "version", "run"]

  public static func values(for release: Release) -> [String: String] {
    ["release": release.name, "namespace": release.namespace, "version": release.version ?? ""]
  }
}

extension FleetPaths {
  /// Whether a chart reference names a directory inside (or relative to) the fleet directory.
  static func isLocal(_ chart: String, in directory: String) -> Bool {
    var isDirectory: ObjCBool = false
    let path = join(directory, chart)
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      && isDirectory.boolValue
  }
}
