// The kube driver for a loaded fleet, and each cluster's API connection (its kubeconfig
// context or its server URL): shared by `rollout`, `resume` and `diff`.
import Drivers
import FleetCore
import Foundation
import Inventory
import Kube

/// Each cluster's API connection: its kubeconfig context, or its `server:` URL (with the
/// credentials of a kubeconfig context for that same server, when there is one).
public final class KubeConnections: @unchecked Sendable {
  private let kubeconfig: Kubeconfig?
  private let problem: String?

  public init(path: String?) {
    do throws(Diagnostic) {
      if let path {
        kubeconfig = try Kubeconfig.load(paths: [path], explicit: true)
      } else {
        kubeconfig = try Kubeconfig.load()
      }
      problem = nil
    } catch {
      // Clusters given by server URL alone need no kubeconfig: complain only when one does.
      kubeconfig = nil
      problem = error.description
    }
  }

  public func connection(_ cluster: Cluster) throws(DriverError) -> ClusterConnection {
    if let context = cluster.context {
      guard let kubeconfig else {
        throw DriverError(.setup, "cannot load the kubeconfig: \(problem ?? "none found")")
      }
      do {
        return try kubeconfig.connection(context: context)
      } catch {
        throw DriverError(.setup, error.message)
      }
    }
    guard let server = cluster.server else {
      throw DriverError(.setup, "cluster \(cluster.name) has neither context nor server")
    }
    if let kubeconfig,
      let context = kubeconfig.contexts.keys.sorted().first(where: { name in
        kubeconfig.contexts[name].flatMap { kubeconfig.clusters[$0.cluster]?.server } == server
      }),
      var connection = try? kubeconfig.connection(context: context)
    {
      connection.context = cluster.name
      return connection
    }
    return ClusterConnection(context: cluster.name, server: server)
  }
}

/// The kube driver for a loaded fleet; its chart is fetched first (once: every cluster renders
/// from it), pulled archives kept in `chartCache`.
public func makeKubeDriver(
  _ loaded: LoadedFleet, values overrides: ValueOverrides = .none, kubeconfig: String?,
  options: KubeDriverOptions, chartCache: String? = nil
) throws(EngineError) -> KubeDriver {
  let values = loaded.values
  let connections = KubeConnections(path: kubeconfig)
  let helm = locateHelm()
  let fetched = try fetchReleaseChart(loaded.fleet, helm: helm, cacheDirectory: chartCache)
  return KubeDriver(
    renderer: ReleaseRenderer(
      release: loaded.fleet.release, fleetDirectory: loaded.fleet.directory, helm: helm,
      fetched: fetched),
    values: { cluster throws(DriverError) in
      do throws(DiagnosticError) {
        return try values.values(for: cluster, overrides: overrides)
      } catch {
        throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
      }
    },
    connect: { cluster throws(DriverError) in try connections.connection(cluster) },
    options: options)
}

/// The release's chart, fetched with helm for the run (nil for a release without a chart):
/// a repository or OCI chart pulled into `cacheDirectory`, a chart directory's missing
/// dependencies built.
public func fetchReleaseChart(_ fleet: Fleet, helm: String?, cacheDirectory: String?)
  throws(EngineError) -> FetchedChart?
{
  guard fleet.release.chart != nil else { return nil }
  guard let helm else {
    throw EngineError(
      "helm not found: set FLEETWAVE_HELM, put helm beside fleetwave or on PATH, or run"
        + " Scripts/install-helm.sh")
  }
  do throws(DriverError) {
    return try ChartFetcher(helm: helm, cacheDirectory: cacheDirectory).fetch(
      fleet.release, fleetDirectory: fleet.directory)
  } catch {
    throw EngineError(error.message)
  }
}
