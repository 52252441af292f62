// Where a release's chart comes from (a directory, a packaged `.tgz`, a Helm repository, an OCI
// registry), and fetching it once per run with `helm pull` into a cache keyed by the archive's
// digest, so every cluster of the run renders from the same bytes.
import FleetCore
import FleetYAML
import Foundation

/// The chart a release names, by where it lives.
public enum ChartSource: Sendable, Equatable {
  /// A chart directory on disk (absolute path).
  case directory(String)
  /// A packaged chart on disk (absolute path).
  case archive(String)
  /// A chart by name in a Helm repository served at `url`.
  case repository(url: String, name: String)
  /// `oci://HOST/PATH/NAME`.
  case registry(String)
  /// A chart of a repository helm already knows by name (`helm repo add`): `REPO/NAME`.
  case namedRepository(String)

  /// The release's chart; nil when it has none (a manifests release).
  public init?(_ release: Release, fleetDirectory: String) {
    guard let chart = release.chart else { return nil }
    if let url = release.repo {
      self = .repository(url: url, name: chart)
    } else if chart.hasPrefix("oci://") {
      self = .registry(chart)
    } else {
      let path = chart.hasPrefix("/") ? chart : fleetDirectory + "/" + chart
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        self = isDirectory.boolValue ? .directory(path) : .archive(path)
      } else {
        self = .namedRepository(chart)
      }
    }
  }

  /// Whether the chart is fetched (and `chartVersion` applies).
  public var isRemote: Bool {
    switch self {
    case .directory, .archive: return false
    case .repository, .registry, .namedRepository: return true
    }
  }

  /// The chart argument helm takes, before any flag.
  public var reference: String {
    switch self {
    case .directory(let path), .archive(let path): return path
    case .repository(_, let name): return name
    case .registry(let reference), .namedRepository(let reference): return reference
    }
  }
}

/// A chart ready to render: where it is on disk and what it is.
public struct FetchedChart: Sendable, Equatable {
  public var source: ChartSource
  /// What `helm template` reads: a chart directory or a `.tgz`.
  public var path: String
  /// `sha256:HEX` of the archive; nil for a directory.
  public var digest: String?
  /// The chart's own version (from its Chart.yaml), a constraint resolved to one version.
  public var version: String?
  /// The flags helm needs to reach the chart again (`--repo`, `--plain-http`, `--ca-file`,
  /// `--registry-config`): the helm driver passes them, `source.reference` and `--version`.
  public var accessFlags: [String]
}

/// Fetches the release's chart with helm, once; renders and upgrades of the run share the result.
public struct ChartFetcher: Sendable {
  public let helm: String
  /// Pulled archives are kept here as `sha256-HEX.tgz`; nil keeps them in the run's scratch.
  public let cacheDirectory: String?
  public let environment: [String: String]

  /// The credentials helm logs in with for an OCI registry, from the environment.
  public static let usernameVariable = "FLEETWAVE_REGISTRY_USERNAME"
  public static let passwordVariable = "FLEETWAVE_REGISTRY_PASSWORD"

  public init(
    helm: String, cacheDirectory: String?,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    self.helm = helm
    self.cacheDirectory = cacheDirectory
    self.environment = environment
  }

  /// The release's chart on disk: a local chart as it is (its dependencies built first when
  /// `charts/` lacks them), a remote one pulled. Errors name the fleet field they come from.
  public func fetch(_ release: Release, fleetDirectory: String) throws(DriverError) -> FetchedChart
  {
    guard let source = ChartSource(release, fleetDirectory: fleetDirectory) else {
      throw DriverError(.setup, "release.chart is not set")
    }
    let located = { (key: String, message: String) -> DriverError in
      let mark = release.fieldMarks[key] ?? release.fieldMarks["chart"] ?? release.mark
      return DriverError(.setup, (mark.map { "\($0): " } ?? "") + message)
    }
    switch source {
    case .directory(let path):
      try buildDependencies(path, located: located)
      return FetchedChart(
        source: source, path: path, digest: nil, version: try chartVersion(of: path),
        accessFlags: [])
    case .archive(let path):
      return FetchedChart(
        source: source, path: path, digest: try digest(of: path),
        version: try chartVersion(of: path), accessFlags: [])
    case .repository, .registry, .namedRepository:
      return try pull(source, release, located: located)
    }
  }

  // MARK: - Pulling

  private func pull(
    _ source: ChartSource, _ release: Release, located: (String, String) -> DriverError
  ) throws(DriverError) -> FetchedChart {
    let scratch = try Self.scratch()
    var access: [String] = []
    if case .repository(let url, _) = source { access += ["--repo", url] }
    if release.access.plainHTTP { access.append("--plain-http") }
    if let caFile = release.access.caFile { access += ["--ca-file", caFile] }
    if let config = try registryConfig(source, release, scratch: scratch, located: located) {
      access += ["--registry-config", config]
    }
    // helm pull writes into an existing directory only.
    do {
      try FileManager.default.createDirectory(
        atPath: scratch.path + "/pulled", withIntermediateDirectories: false)
    } catch {
      throw DriverError(.setup, "cannot create \(scratch.path)/pulled: \(error)")
    }
    var pull = ["pull", source.reference, "-d", scratch.path + "/pulled"] + access
    if let version = release.chartVersion { pull += ["--version", version] }
    let result = try run(pull)
    guard result.status == 0 else {
      let what = release.chartVersion.map { " version \($0)" } ?? ""
      // A version the source lacks is the chartVersion's fault; anything else (no such
      // registry, repository or chart, no connection) is the chart's.
      let versionMissing = release.chartVersion != nil && result.stderr.contains("not found")
      throw located(
        versionMissing ? "chartVersion" : "chart",
        "cannot fetch chart \(source.reference)\(what): \(Self.lastLine(result.stderr))")
    }
    let pulled: String
    do {
      let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/pulled")
      guard let name = names.first(where: { $0.hasSuffix(".tgz") }) else {
        throw located("chart", "helm pull \(source.reference) wrote no chart archive")
      }
      pulled = scratch.path + "/pulled/" + name
    } catch let error as DriverError {
      throw error
    } catch {
      throw located("chart", "cannot read what helm pull wrote: \(error.localizedDescription)")
    }
    let digest = try digest(of: pulled)
    let path = try keep(pulled, digest: digest)
    let version = try chartVersion(of: path)
    // The exact version pulled, not the constraint: every cluster gets the same chart even if
    // a newer one is pushed while the run goes on.
    return FetchedChart(
      source: source, path: path, digest: digest, version: version,
      accessFlags: access)
  }

  /// The registry config helm reads: a private one logged into with the environment's
  /// credentials (the password goes through stdin, never an argument), else the fleet's.
  private func registryConfig(
    _ source: ChartSource, _ release: Release, scratch: PrivateDirectory,
    located: (String, String) -> DriverError
  ) throws(DriverError) -> String? {
    guard case .registry(let reference) = source,
      let username = environment[Self.usernameVariable],
      let password = environment[Self.passwordVariable]
    else { return release.access.registryConfig }
    let host = String(reference.dropFirst("oci://".count).prefix { $0 != "/" })
    let config = scratch.path + "/registry.json"
    var login = ["registry", "login", host, "--username", username, "--password-stdin"]
    login += ["--registry-config", config]
    if release.access.plainHTTP { login.append("--plain-http") }
    if let caFile = release.access.caFile { login += ["--ca-file", caFile] }
    let result = try run(login, input: password)
    guard result.status == 0 else {
      throw located(
        "chart",
        "cannot log in to \(host) as \(username) (\(Self.passwordVariable)): "
          + Self.lastLine(result.stderr))
    }
    return config
  }

  /// Moves a pulled archive into the cache under its digest; one already there is kept.
  private func keep(_ pulled: String, digest: String) throws(DriverError) -> String {
    guard let cacheDirectory else { return pulled }
    let kept = cacheDirectory + "/" + digest.replacingOccurrences(of: ":", with: "-") + ".tgz"
    let files = FileManager.default
    do {
      try files.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
      if !files.fileExists(atPath: kept) {
        // Through a temporary name in the cache, so a reader never sees half an archive.
        let partial = kept + ".partial-\(getpid())"
        try? files.removeItem(atPath: partial)
        try files.copyItem(atPath: pulled, toPath: partial)
        if rename(partial, kept) != 0 {
          throw DriverError(.setup, "cannot keep \(kept): \(String(cString: strerror(errno)))")
        }
      }
    } catch let error as DriverError {
      throw error
    } catch {
      throw DriverError(.setup, "cannot keep the chart in \(cacheDirectory): \(error)")
    }
    return kept
  }

  private func digest(of archive: String) throws(DriverError) -> String {
    guard let data = FileManager.default.contents(atPath: archive) else {
      throw DriverError(.setup, "cannot read chart archive \(archive)")
    }
    return "sha256:" + SHA256.hex(Array(data))
  }

  /// `version` of the chart's Chart.yaml, as `helm show chart` prints it.
  private func chartVersion(of chart: String) throws(DriverError) -> String? {
    let shown = try run(["show", "chart", chart])
    guard shown.status == 0 else {
      throw DriverError(.setup, "helm show chart \(chart): \(Self.lastLine(shown.stderr))")
    }
    return (try? YAML.parse(shown.stdout))?["version"]?.string
  }

  // MARK: - Dependencies

  /// `helm dependency build` in a chart directory whose Chart.yaml lists dependencies that
  /// `charts/` lacks, from its Chart.lock (as a user would run it before `helm install`).
  private func buildDependencies(_ chart: String, located: (String, String) -> DriverError)
    throws(DriverError)
  {
    let missing = ChartDependencies.missing(in: chart)
    guard !missing.isEmpty else { return }
    let result = try run(["dependency", "build", chart])
    guard result.status == 0 else {
      throw located(
        "chart",
        "cannot build the chart's dependencies (\(missing.joined(separator: ", "))): "
          + Self.lastLine(result.stderr))
    }
  }

  // MARK: - Running helm

  /// A private directory in the run's scratch for one fetch's files.
  private static func scratch() throws(DriverError) -> PrivateDirectory {
    do {
      return try PrivateDirectory()
    } catch {
      throw DriverError(.setup, "cannot create a private temporary directory: \(error)")
    }
  }

  /// A pull, login or dependency build that takes longer than this is stuck (an unreachable
  /// registry that never refuses), not slow: it is killed and the run does not start.
  public static let helmTimeout: Duration = .seconds(300)

  /// Runs helm, bounded by `helmTimeout`, with `input` on stdin.
  private func run(_ arguments: [String], input: String? = nil) throws(DriverError) -> HelmOutput {
    try HelmProcess(helm: helm, environment: environment, timeout: Self.helmTimeout)
      .run(arguments, input: input)
  }

  /// helm's error, one line: its last non-empty line, without the `Error: ` prefix.
  static func lastLine(_ stderr: String) -> String {
    let line =
      stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
      .last { !$0.isEmpty } ?? "no output"
    return line.hasPrefix("Error: ") ? String(line.dropFirst("Error: ".count)) : line
  }
}

/// A chart directory's declared dependencies against what its `charts/` holds.
public enum ChartDependencies {
  /// The names of dependencies in Chart.yaml found neither as `charts/NAME/` nor as
  /// `charts/NAME-VERSION.tgz`; empty when there are none (or no readable Chart.yaml).
  public static func missing(in chart: String) -> [String] {
    guard let text = try? String(contentsOfFile: chart + "/Chart.yaml", encoding: .utf8),
      let dependencies = (try? YAML.parse(text))?["dependencies"]?.sequence
    else { return [] }
    let present = (try? FileManager.default.contentsOfDirectory(atPath: chart + "/charts")) ?? []
    return dependencies.compactMap { dependency -> String? in
      guard let name = dependency["name"]?.string else { return nil }
      // A directory, or an archive named NAME-VERSION.tgz (the version may be a constraint
      // in Chart.yaml, so any version counts).
      let found = present.contains { entry in
        entry == name
          || (entry.hasPrefix(name + "-") && entry.hasSuffix(".tgz")
            && entry.dropFirst(name.count + 1).first?.isNumber == true)
      }
      return found ? nil : name
    }
  }
}
