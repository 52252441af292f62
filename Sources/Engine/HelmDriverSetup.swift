// `rollout --driver helm`: the helm driver set up from a loaded fleet (its chart, its values
// layers, the --set values, the helm binary), kept out of the action's driver switch.
import Drivers
import FleetCore
import Foundation
import Inventory

public enum HelmRollout {
  /// The helm driver; a remote chart is pulled once first (to check it is there and resolve
  /// a version constraint, kept in `chartCache`), then every cluster's `helm upgrade` names
  /// the same reference at that exact version.
  public static func driver(
    _ loaded: LoadedFleet, sets: [String], kubeconfig: String?, logDirectory: String,
    chartCache: String? = nil
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
    // A bad --set is a usage problem: say so before any cluster is touched.
    var checked = Mapping()
    for argument in sets {
      do throws(Diagnostic) {
        try SetArgument.apply(argument, kind: .typed, to: &checked)
      } catch {
        // The key only: the value may be a secret.
        let key = argument.prefix { $0 != "=" }
        throw EngineError("--set \(key): \(error.message)", exitCode: 2)
      }
    }
    let values = loaded.values
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
      // The cluster's whole values with the --set arguments applied to them, as helm applies
      // them: a --set file of its own would replace a list where `list[1]=x` changes one item.
      setValues: { cluster in
        guard !sets.isEmpty else { return nil }
        do throws(DiagnosticError) {
          return try values.values(for: cluster, sets: sets)
        } catch {
          throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
        }
      },
      baseEnvironment: environment)
  }
}
