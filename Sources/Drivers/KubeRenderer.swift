// Renders a release for one cluster: its chart through the real `helm template`, or its
// manifests directory; and where the helm binary is found.
import FleetCore
import FleetYAML
import Foundation
import Kube

/// Where the helm binary is: `$FLEETWAVE_HELM`, else `<package root>/.tools/helm/helm` (what
/// Scripts/install-helm.sh installs), else `helm` on `PATH`; nil when none is executable.
public func locateHelm(
  environment: [String: String] = ProcessInfo.processInfo.environment,
  packageRoot: String? = packageRootOfExecutable()
) -> String? {
  let files = FileManager.default
  if let path = environment["FLEETWAVE_HELM"], files.isExecutableFile(atPath: path) { return path }
  if let packageRoot {
    let tools = packageRoot + "/.tools/helm/helm"
    if files.isExecutableFile(atPath: tools) { return tools }
  }
  for directory in (environment["PATH"] ?? "").split(separator: ":") {
    let candidate = "\(directory)/helm"
    if files.isExecutableFile(atPath: candidate) { return candidate }
  }
  return nil
}

/// The package root above the running executable (a checkout's `.build/...`), if there is one.
public func packageRootOfExecutable() -> String? {
  var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent()
  while directory.path != "/" {
    if FileManager.default.fileExists(
      atPath: directory.appendingPathComponent("Package.swift").path)
    {
      return directory.path
    }
    directory = directory.deletingLastPathComponent()
  }
  return nil
}

/// Turns the release into the objects one cluster should have.
public struct ReleaseRenderer: Sendable {
  public let release: Release
  /// The fleet directory; the release's chart and manifests paths are relative to it.
  public let fleetDirectory: String
  public let helm: String?
  /// Chart renders of this release, shared by every cluster whose inputs are the same.
  public let cache: RenderCache

  /// The chart as fetched for the run (`ChartFetcher`); nil renders `release.chart` in place.
  public let fetched: FetchedChart?
  /// Each cluster's capabilities, read once for the run.
  public let capabilities: CapabilitiesBook

  /// A render slower than this is stuck, not slow (charts render in well under a second): it
  /// is killed with its process group, so it gives its slot back and leaves no helm behind.
  public let renderTimeout: Duration

  public init(
    release: Release, fleetDirectory: String, helm: String? = locateHelm(),
    cache: RenderCache = RenderCache(), fetched: FetchedChart? = nil,
    capabilities: CapabilitiesBook = CapabilitiesBook(), renderTimeout: Duration = .seconds(300)
  ) {
    self.capabilities = capabilities
    self.renderTimeout = renderTimeout
    self.release = release
    self.fleetDirectory = fleetDirectory
    self.helm = helm
    self.cache = cache
    self.fetched = fetched
  }

  /// What revision records name as the chart: its path as the fleet gives it, or the
  /// manifests directory.
  public var source: String? { release.chart ?? release.manifests.map { "manifests:" + $0 } }

  /// The rendered objects, before namespaces are filled in. A chart is rendered once per
  /// distinct input (`RenderCache`); a manifests directory is read per cluster, since its
  /// files may name the cluster.
  /// `capabilities`: the cluster's, passed to `helm template`; nil renders with helm's defaults.
  public func render(
    _ cluster: Cluster, values: Value, capabilities: ClusterCapabilities? = nil
  ) async throws(DriverError) -> [Value] {
    if let chart = release.chart {
      let chartPath = fetched?.path ?? path(chart)
      // The values are emitted twice, into the key's digest and, on a cache miss, into the
      // file helm reads, rather than held as text between the two: the tree is shared with
      // the resolver, the text would be one more copy of it per cluster in flight.
      let key = RenderKey(
        [release.name, release.namespace, chartPath, release.version ?? ""]
          + (capabilities?.keyInputs ?? []), values: values)
      return try await cache.objects(key) { () throws(DriverError) in
        try template(chart: chartPath, values: values, capabilities: capabilities)
      }
    }
    guard let manifests = release.manifests else {
      throw DriverError(.setup, "the kube driver needs release.chart or release.manifests")
    }
    let variables = [
      "version": release.version ?? "", "release": release.name, "namespace": release.namespace,
    ]
    do {
      return try Manifests.load(directory: path(manifests), variables: variables, cluster: cluster)
    } catch {
      throw DriverError(.setup, error.message)
    }
  }

  private func path(_ relative: String) -> String {
    relative.hasPrefix("/") ? relative : fleetDirectory + "/" + relative
  }

  /// `helm template RELEASE CHART --namespace NS -f VALUES`, the values in a 0600 file in a
  /// private directory that is removed afterwards.
  private func template(chart: String, values: Value, capabilities: ClusterCapabilities?)
    throws(DriverError) -> [Value]
  {
    guard let helm else {
      throw DriverError(
        .setup,
        "helm not found: set FLEETWAVE_HELM, run Scripts/install-helm.sh, or put helm on PATH")
    }
    let scratch = try PrivateDirectory.make()
    defer { scratch.remove() }
    let valuesFile = try Self.writeValues(values, into: scratch.path + "/values.yaml")
    let result = try HelmProcess(
      helm: helm, environment: ProcessInfo.processInfo.environment, timeout: renderTimeout
    ).run(
      ["template", release.name, chart, "--namespace", release.namespace, "-f", valuesFile]
        + (capabilities?.helmFlags ?? []))
    guard result.status == 0 else {
      throw DriverError(
        .setup,
        "helm template failed (exit \(result.status)): "
          + result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let output = result.stdout
    do {
      return try Manifests.objects(in: output, path: "helm template \(release.name)")
    } catch {
      throw DriverError(.setup, error.message)
    }
  }

  /// Streams `values` as YAML into a new file of mode 0600 (never readable by others, even
  /// for a moment) and returns its path.
  private static func writeValues(_ values: Value, into file: String) throws(DriverError) -> String
  {
    let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
      throw DriverError(.setup, "cannot create \(file): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    try YAML.emit(values) { (buffer) throws(DriverError) in
      var offset = 0
      while offset < buffer.count {
        let written = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
        if written < 0, errno == EINTR { continue }
        guard written > 0 else {
          throw DriverError(.setup, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
        offset += written
      }
    }
    return file
  }
}
