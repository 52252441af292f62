// `fleetwave preflight`: every check on every cluster of the fleet, before anything changes,
// so a rollout's failures that can be known in advance are named all at once.
import Drivers
import FleetCore
import Kube

/// Runs the checks for the kube driver's view of a release on many clusters at once.
///
/// Clusters are checked in parallel, at most `window` at a time: each is a task awaiting
/// requests on the process's shared HTTP loop, so a fleet of any size holds a bounded number
/// of tasks and no thread per cluster. A cluster's own requests go one after another.
public struct PreflightAction: Sendable {
  public let driver: KubeDriver
  public var window: Int
  /// The run whose rollout is checked, if any: Leases it holds or takes over are its own.
  public var instance: RunInstance?

  public init(driver: KubeDriver, window: Int = 64) {
    self.driver = driver
    self.window = max(1, window)
  }

  /// One result per cluster, in the order given.
  public func run(_ clusters: [Cluster]) async -> [ClusterPreflight] {
    // One chart for the whole fleet: its Chart.yaml is read once.
    let kubeVersion = KubeVersionCheck.constraint(of: driver.renderer)
    var results: [ClusterPreflight?] = Array(repeating: nil, count: clusters.count)
    await withTaskGroup(of: (Int, ClusterPreflight).self) { group in
      var next = 0
      func startNext() {
        guard next < clusters.count else { return }
        let index = next
        let cluster = clusters[index]
        next += 1
        group.addTask { (index, await self.check(cluster, kubeVersion: kubeVersion)) }
      }
      for _ in 0..<window { startNext() }
      for await (index, result) in group {
        results[index] = result
        startNext()
      }
    }
    return results.compactMap { $0 }
  }

  /// Every check of one cluster; a check whose input is missing (no connection, no render)
  /// is skipped, not failed again.
  /// `kubeVersion` is the chart's constraint on the server version, if it has one.
  public func check(_ cluster: Cluster, kubeVersion: String?) async -> ClusterPreflight {
    var result = ClusterPreflight(cluster: cluster.name)
    let client: KubeClient
    do {
      client = try driver.client(cluster)
    } catch {
      result.record(.connection, [PreflightProblem(.connection, .error, error.message)])
      return result
    }
    switch await IdentityCheck.run(client) {
    case .problem(let problem):
      result.record(.connection, [problem])
      return result
    case .user(let user):
      result.identity = user
      result.record(.connection, [])
    }
    let identity = result.identity ?? "?"
    if let kubeVersion {
      let found = await KubeVersionCheck.run(constraint: kubeVersion, client: client)
      result.record(.kubeVersion, found)
      // The render uses the cluster's capabilities, so helm refuses this chart for this
      // server too: the render and the checks built on it are skipped, not failed again.
      if found.contains(where: { $0.severity == .error }) { return result }
    } else {
      result.record(.kubeVersion, [])
    }

    let manifest: ReleaseManifest
    do {
      manifest = try await driver.renderedManifest(cluster)
      result.record(.render, [])
    } catch {
      result.record(.render, [PreflightProblem(.render, .error, error.message)])
      return result
    }
    let objects = manifest.resources + manifest.hooks.map(\.object)
    let release = driver.release

    do {
      let accesses = try await PermissionCheck.accesses(
        objects, release: release.namespace,
        namespaceExists: try await namespaceExists(release.namespace, client),
        client: client)
      result.record(
        .permissions, await PermissionCheck.run(accesses, identity: identity, client: client))
    } catch {
      result.record(
        .permissions,
        [PreflightProblem(.permissions, .error, IdentityCheck.reachability(error))])
    }

    let ours = instance.map { $0.succeeds.union([$0.identity]) } ?? []
    if let found = await ReleaseLockCheck.run(
      release: release.name, namespace: release.namespace, client: client, ours: ours)
    {
      result.record(.release, found)
    }
    if let found = await QuotaCheck.run(objects, namespace: release.namespace, client: client) {
      result.record(.quota, found)
    }
    result.record(.images, ImageCheck.run(objects))
    return result
  }

  /// Whether the release namespace exists. When we may not read namespaces we cannot know,
  /// and say it exists: the permissions check names the missing `get namespaces` already.
  private func namespaceExists(_ namespace: String, _ client: KubeClient) async throws(KubeError)
    -> Bool
  {
    do {
      return try await client.get(
        apiVersion: "v1", kind: "Namespace", namespace: nil, name: namespace) != nil
    } catch  where error.code == 403 {
      return true
    }
  }
}
