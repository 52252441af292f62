// A chart's CustomResourceDefinitions, installed as `helm install` installs them: the files of
// the chart's `crds/` directory, plain (never templated), created before anything else on the
// release's first install and waited until `Established`; never updated by an upgrade and never
// deleted (helm's rule: a CRD is shared by every release that uses its kind, and deleting it
// deletes every resource of that kind in the cluster).
import FleetCore
import Foundation
import Kube

extension ReleaseRenderer {
  /// The directory or `.tgz` `helm template` reads; nil for a manifests release.
  public var chartPath: String? {
    guard let chart = release.chart else { return nil }
    if let fetched { return fetched.path }
    return chart.hasPrefix("/") ? chart : fleetDirectory + "/" + chart
  }

  /// The chart's CRDs, in file-name order: YAML and JSON files anywhere under `crds/`, as helm
  /// loads them, then each dependency's in `charts/` (name order, recursively), as helm's
  /// `CRDObjects` gathers them for an install. A packaged chart (or dependency) is read
  /// through `helm show crds`, which does the same; a directory chart whose dependencies are
  /// directories costs no helm call.
  public func chartCRDs() throws(DriverError) -> [Value] {
    guard let chart = chartPath else { return [] }
    return try crds(of: chart)
  }

  private func crds(of chart: String) throws(DriverError) -> [Value] {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: chart, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      var objects = try Self.crds(inDirectory: chart + "/crds")
      let dependencies =
        (try? FileManager.default.contentsOfDirectory(atPath: chart + "/charts")) ?? []
      for name in dependencies.sorted() where !name.hasPrefix(".") {
        let path = chart + "/charts/" + name
        var isChart: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isChart)
        // helm loads unpacked dependencies and `.tgz` archives; anything else there is not one.
        guard isChart.boolValue || name.hasSuffix(".tgz") else { continue }
        objects += try crds(of: path)
      }
      return objects
    }
    let text = try HelmShow.crds(helm: helm, chart: chart)
    do {
      return try Manifests.objects(in: text, path: "helm show crds \(chart)")
    } catch {
      throw DriverError(.setup, error.message)
    }
  }

  private static func crds(inDirectory directory: String) throws(DriverError) -> [Value] {
    guard let files = FileManager.default.enumerator(atPath: directory) else { return [] }
    let names = files.compactMap { $0 as? String }.filter {
      $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")
    }.sorted()
    var objects: [Value] = []
    for name in names {
      let path = directory + "/" + name
      do {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        objects += try Manifests.objects(in: text, path: path)
      } catch let error as RenderError {
        throw DriverError(.setup, error.message)
      } catch {
        throw DriverError(.setup, "cannot read \(path): \(error.localizedDescription)")
      }
    }
    return objects
  }
}

/// `helm show crds CHART`: the CRDs of a packaged chart, as helm reads them.
enum HelmShow {
  static func crds(helm: String?, chart: String) throws(DriverError) -> String {
    guard let helm else {
      throw DriverError(
        .setup,
        "helm not found: set FLEETWAVE_HELM, run Scripts/install-helm.sh, or put helm on PATH")
    }
    let shown = try HelmProcess(
      helm: helm, environment: ProcessInfo.processInfo.environment,
      timeout: ChartFetcher.helmTimeout
    ).run(["show", "crds", chart])
    guard shown.status == 0 else {
      throw DriverError(
        .setup,
        "helm show crds failed (exit \(shown.status)): "
          + shown.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    return shown.stdout
  }
}

extension KubeDriver {
  /// On the release's first install, creates the chart's CRDs the cluster lacks and waits until
  /// each is `Established`, before anything of the chart is placed (its custom resources need
  /// the types). An existing CRD is left as it is, as helm skips it.
  func installChartCRDs(_ session: Session, _ call: DriverCall) async throws(DriverError) {
    let crds = try renderer.chartCRDs()
    guard !crds.isEmpty else { return }
    let records = try await crdCall { () async throws(KubeError) in
      try await session.history.records()
    }
    // Helm installs when no revision was ever deployed, as `deploy` decides.
    guard !records.contains(where: { $0.status == .deployed || $0.status == .superseded }) else {
      return
    }
    let deadline = hookDeadline(session, call)
    for crd in crds {
      let name = crd["metadata"]?["name"]?.string ?? ""
      let apiVersion = crd["apiVersion"]?.string ?? ""
      let kind = crd["kind"]?.string ?? ""
      let existing = try await crdCall { () async throws(KubeError) in
        try await session.client.get(
          apiVersion: apiVersion, kind: kind, namespace: nil, name: name)
      }
      guard existing == nil else { continue }
      try await crdCall { () async throws(KubeError) in
        _ = try await session.client.create(crd)
      }
      // The cluster now serves more: the chart renders with the CRD's group, as after
      // helm's own CRD install.
      renderer.capabilities.forget(session.cluster)
    }
    for crd in crds where crd["kind"]?.string == "CustomResourceDefinition" {
      let name = crd["metadata"]?["name"]?.string ?? ""
      let apiVersion = crd["apiVersion"]?.string ?? ""
      try await poll(call, deadline: deadline, late: "CRD \(name) was not established in time") {
        () async throws(DriverError) -> String? in
        let live = try await crdCall { () async throws(KubeError) in
          try await session.client.get(
            apiVersion: apiVersion, kind: "CustomResourceDefinition", namespace: nil, name: name)
        }
        let conditions = live?["status"]?["conditions"]?.sequence ?? []
        if conditions.contains(where: {
          $0["type"]?.string == "Established" && $0["status"]?.string == "True"
        }) {
          return nil
        }
        let names = conditions.first { $0["type"]?.string == "NamesAccepted" }
        if names?["status"]?.string == "False" {
          throw DriverError(
            .failed,
            "CRD \(name) names not accepted: \(names?["message"]?.string ?? "")")
        }
        return "CRD \(name) is not established"
      }
    }
  }

  private func crdCall<T>(_ body: () async throws(KubeError) -> T)
    async throws(DriverError) -> T
  {
    do {
      return try await body()
    } catch {
      throw DriverError(.failed, "chart CRDs: \(error.description)")
    }
  }
}
