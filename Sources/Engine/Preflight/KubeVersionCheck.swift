// Preflight: does the cluster's Kubernetes version satisfy the chart's `kubeVersion`? helm
// refuses such a chart at install time; preflight says so before the wave, naming both.
import Drivers
import FleetCore
import FleetYAML
import Foundation
import Kube

enum KubeVersionCheck {
  /// The chart's `kubeVersion` constraint, read once per run: nil when the release has no
  /// chart, the chart declares none, or its Chart.yaml cannot be read (the render check
  /// reports a broken chart).
  static func constraint(of renderer: ReleaseRenderer) -> String? {
    guard let chart = renderer.release.chart else { return nil }
    let path =
      renderer.fetched?.path
      ?? (chart.hasPrefix("/") ? chart : renderer.fleetDirectory + "/" + chart)
    let text: String?
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      text = try? String(contentsOfFile: path + "/Chart.yaml", encoding: .utf8)
    } else {
      // A packaged chart: helm reads its Chart.yaml out of the archive.
      text = renderer.helm.flatMap { helm in
        let shown = try? HelmProcess(
          helm: helm, environment: ProcessInfo.processInfo.environment,
          timeout: ChartFetcher.helmTimeout
        ).run(["show", "chart", path])
        return shown?.status == 0 ? shown?.stdout : nil
      }
    }
    guard let text, let metadata = try? YAML.parse(text),
      let constraint = metadata["kubeVersion"]?.string,
      !constraint.trimmingCharacters(in: .whitespaces).isEmpty
    else { return nil }
    return constraint
  }

  /// The server's `gitVersion` against `constraint`, as helm compares them.
  static func run(constraint: String, client: KubeClient) async -> [PreflightProblem] {
    let server: String
    do {
      guard let version = try await client.serverVersion()["gitVersion"]?.string else {
        return [
          PreflightProblem(.kubeVersion, .error, "the server's /version names no gitVersion")
        ]
      }
      server = version
    } catch {
      return [
        PreflightProblem(
          .kubeVersion, .error,
          "cannot read the server's version: " + IdentityCheck.reachability(error))
      ]
    }
    let range: SemverRange
    do {
      range = try SemverRange(constraint)
    } catch {
      return [PreflightProblem(.kubeVersion, .error, "the chart's kubeVersion: \(error.message)")]
    }
    guard let version = SemverVersion(server) else {
      return [
        PreflightProblem(
          .kubeVersion, .error,
          "the server's version \(server) is not a semantic version, so the chart's "
            + "kubeVersion \(constraint) cannot be checked")
      ]
    }
    if range.isSatisfied(by: version) { return [] }
    return [
      PreflightProblem(
        .kubeVersion, .error,
        "the server's version \(server) does not satisfy the chart's kubeVersion \(constraint)")
    ]
  }
}
