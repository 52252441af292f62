// `rollout --driver helm`: the helm driver set up from a loaded fleet (its chart, its values
// layers, the value flags, the helm binary), kept out of the action's driver switch.
import Drivers
import FleetCore
import Foundation
import Inventory
import Kube

public enum HelmRollout {
  /// The helm driver; a remote chart is pulled once first (to check it is there and resolve
  /// a version constraint, kept in `chartCache`), then every cluster's `helm upgrade` names
  /// the same reference at that exact version.
  public static func driver(
    _ loaded: LoadedFleet, values overrides: ValueOverrides = .none, kubeconfig: String?,
    logDirectory: String, chartCache: String? = nil
  ) throws(EngineError) -> HelmDriver {
    let release = loaded.fleet.release
    let environment = ProcessInfo.processInfo.environment
    let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
    guard
      let helm = HelmBinary.locate(
        environment: environment,
        executableDirectory: (executable as NSString).resolvingSymlinksInPath
          .deletingLastPathComponent,
        packageRoot: HelmBinary.packageRoot(ofExecutable: executable))
    else {
      throw EngineError(
        "helm not found: set FLEETWAVE_HELM, put helm beside fleetwave or on PATH, or run"
          + " Scripts/install-helm.sh")
    }
    guard let fetched = try fetchReleaseChart(loaded.fleet, helm: helm, cacheDirectory: chartCache)
    else { throw EngineError("release.chart is not set; the helm driver needs a chart") }
    let chart: HelmChart =
      fetched.source.isRemote
      ? .remote(reference: fetched.source.reference, version: fetched.version)
      : .local(path: fetched.path)
    let values = loaded.values
    let connections = KubeConnections(path: kubeconfig)
    return HelmDriver(
      commandLine: HelmCommandLine(
        helm: helm, release: release.name, namespace: release.namespace, kubeconfig: kubeconfig,
        chartAccess: fetched.accessFlags),
      chart: chart, logDirectory: logDirectory,
      valuesFiles: { cluster in
        do throws(DiagnosticError) {
          return try values.layers(for: cluster).filter(\.exists).map(\.path)
        } catch {
          throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
        }
      },
      // The cluster's whole values with the value flags applied to them, as helm applies
      // them: a --set file of its own would replace a list where `list[1]=x` changes one item.
      // (The flags were read and checked, as usage, before any cluster was touched.)
      setValues: { cluster in
        guard !overrides.isEmpty else { return nil }
        do throws(DiagnosticError) {
          return try values.values(for: cluster, overrides: overrides)
        } catch {
          throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
        }
      },
      baseEnvironment: environment,
      // After helm fails, the cluster is read with fleetwave's own client (helm has rolled
      // back by then; the events of the failed pods remain).
      diagnose: { cluster in
        guard let connection = try? connections.connection(cluster) else { return nil }
        return await Diagnosis.release(
          release.name, namespace: release.namespace,
          client: KubeClient(connection: connection))
      })
  }
}
