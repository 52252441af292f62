// What a chart's `.Capabilities` see on one cluster: its server version and the group versions
// it serves (built-in and CRD groups), read from `/version` and discovery, as `helm install`
// reads them from the cluster it installs to (`helm template` alone assumes its defaults).
import FleetCore
import Foundation
import Kube

public struct ClusterCapabilities: Hashable, Sendable {
  /// `v1.32.0`: `gitVersion` of `/version`.
  public var kubeVersion: String
  /// `v1`, `apps/v1`, `stable.example.com/v1`, sorted.
  public var apiVersions: [String]

  public init(kubeVersion: String, apiVersions: [String]) {
    self.kubeVersion = kubeVersion
    self.apiVersions = apiVersions.sorted()
  }

  /// `--kube-version V --api-versions G/V ...`, for `helm template`.
  var helmFlags: [String] {
    ["--kube-version", kubeVersion] + apiVersions.flatMap { ["--api-versions", $0] }
  }

  /// The render key's share: clusters with the same capabilities still share one render.
  var keyInputs: [String] { [kubeVersion, apiVersions.joined(separator: ",")] }

  /// Reads a cluster's capabilities: `/version`, `/api` and `/apis`.
  static func read(_ client: KubeClient) async throws(KubeError) -> ClusterCapabilities {
    let version = try await client.read(path: "/version")
    // helm drops a build suffix (`v1.32.0-fleet-sim`) it cannot parse as a Kubernetes version
    // only when it is semver; keep major.minor.patch, which --kube-version always accepts.
    var kubeVersion = version?["gitVersion"]?.string ?? "v1.32.0"
    if let dash = kubeVersion.firstIndex(of: "-") { kubeVersion = String(kubeVersion[..<dash]) }
    var apiVersions =
      (try await client.read(path: "/api"))?["versions"]?.sequence?
      .compactMap(\.string) ?? []
    for group in (try await client.read(path: "/apis"))?["groups"]?.sequence ?? [] {
      for entry in group["versions"]?.sequence ?? [] {
        if let groupVersion = entry["groupVersion"]?.string { apiVersions.append(groupVersion) }
      }
    }
    return ClusterCapabilities(kubeVersion: kubeVersion, apiVersions: apiVersions)
  }
}

/// Capabilities read once per cluster for the run; forgotten for a cluster when the run itself
/// changes what it serves (the chart's CRDs installed).
public final class CapabilitiesBook: @unchecked Sendable {
  private let lock = NSLock()
  private var byCluster: [String: ClusterCapabilities] = [:]

  public init() {}

  func capabilities(_ cluster: String, _ client: KubeClient) async throws(KubeError)
    -> ClusterCapabilities
  {
    if let known = lock.withLock({ byCluster[cluster] }) { return known }
    let read = try await ClusterCapabilities.read(client)
    lock.withLock { byCluster[cluster] = read }
    return read
  }

  func forget(_ cluster: String) {
    lock.withLock { byCluster[cluster] = nil }
  }
}
