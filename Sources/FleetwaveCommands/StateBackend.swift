// Which state store a command uses: a local directory, or a namespace of a home cluster.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Kube

enum StateBackend {
  /// The store `state` names (`kube://CONTEXT/NAMESPACE` or a directory), else `directory`.
  /// The home cluster is reached through `kubeconfig` when given, else as kubectl would
  /// ($KUBECONFIG, then ~/.kube/config).
  static func store(state: String?, directory: String, kubeconfig: String?) throws
    -> any StateStore
  {
    guard let state else { return LocalStateStore(stateDirectory: directory) }
    let home: KubeStateLocation?
    do {
      home = try KubeStateLocation.parse(state)
    } catch {
      throw ValidationError(error.message)
    }
    guard let home else { return LocalStateStore(stateDirectory: state) }
    do {
      let config =
        try kubeconfig.map { path throws(Diagnostic) in
          try Kubeconfig.load(paths: [path], explicit: true)
        } ?? Kubeconfig.load()
      return KubeStateStore(
        client: KubeClient(connection: try config.connection(context: home.context)), home: home)
    } catch {
      printError("error: --state \(state): \(error)")
      throw ExitCode(1)
    }
  }

  /// The local directory for what stays on this machine (cluster logs) when runs live in a
  /// home cluster; the state directory itself otherwise.
  static func localDirectory(state: String?, fallback: String) -> String {
    guard let state, !state.hasPrefix("kube://") else { return state ?? fallback }
    return fallback
  }
}
