// Which state store a command uses: a local directory, or a namespace of a home cluster.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Inventory
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
      var store = KubeStateStore(
        client: KubeClient(connection: try config.connection(context: home.context)), home: home)
      store.userAgent = "fleetwave/\(FleetwaveCommand.version)"
      store.client.userAgent = store.userAgent
      return store
    } catch {
      printError("error: --state \(state): \(error)")
      throw ExitCode(1)
    }
  }

  /// The bounds of `--lease-duration`: renewals every third of it must fit a slow API server,
  /// and a dead holder should not keep the fleet for long.
  static let leaseDurations: ClosedRange<Int64> = 3...300

  /// `--lease-duration`: whole seconds within `leaseDurations` (the Lease declares whole
  /// seconds); nil when not given.
  static func leaseDuration(_ text: String?) throws -> Duration? {
    guard let text else { return nil }
    guard let duration = DurationText.parse(text), duration.components.attoseconds == 0,
      leaseDurations.contains(duration.components.seconds)
    else {
      throw ValidationError(
        "--lease-duration '\(text)': expected whole seconds from 3s to 5m, such as 5s "
          + "(renewed every third of it, fenced at two thirds)")
    }
    return duration
  }

  /// The store with the run lock's lease duration: the one given, else the run's recorded
  /// one (so a takeover keeps the holder's terms), else the default. Only a home cluster's
  /// lock has one.
  static func withLeaseDuration(
    _ given: Duration?, recorded: String?, in store: any StateStore
  ) throws -> any StateStore {
    guard var kube = store as? KubeStateStore else {
      if given != nil {
        throw ValidationError("--lease-duration is for runs in a home cluster (kube:// state)")
      }
      return store
    }
    if let duration = given ?? recorded.flatMap(DurationText.parse) { kube.lockDuration = duration }
    return kube
  }

  /// `$FLEETWAVE_STATE` when it names a home cluster: a directory there is for the run verbs
  /// without --fleet only (a fleet's runs stay beside it unless --state says otherwise).
  static func kubeState(_ environment: String?) -> String? {
    environment.flatMap { $0.hasPrefix("kube://") ? $0 : nil }
  }

  /// The home cluster fleet.yaml's `state:` names (as a `--state` location), for the run verbs
  /// given --fleet; they read that block alone, so a fleet with other errors still shows its
  /// runs. A wrong `state:` block is reported, located, and exits 1.
  static func fleetState(_ fleet: String) throws -> String? {
    do {
      return try FleetLoader.stateHome(directory: fleet)?.location
    } catch {
      for diagnostic in error.diagnostics { printError(diagnostic.description) }
      throw ExitCode(1)
    }
  }

  /// The value flags for continuing `run`: those given, else, with a home cluster, those the run
  /// kept there, so a resume from the next CI job needs no re-typing. Given flags are checked
  /// against the run's digests as before. A mistake exits 2 without quoting any value.
  static func valueOverrides(
    given options: HelmValueOptions, store: any StateStore, run: String
  ) throws -> ValueOverrides {
    guard options.flags.isEmpty, let kube = store as? KubeStateStore else {
      return try options.overrides()
    }
    let stored: RunValueFlags?
    do {
      stored = try kube.storedValues(run)
    } catch {
      printError("error: \(error.message)")
      throw ExitCode(1)
    }
    guard let stored else { return try options.overrides() }
    do {
      return try stored.flags.read(setFileContents: stored.setFileContents)
    } catch {
      for diagnostic in error.diagnostics {
        printError(HelmValueOptions.withoutValues(diagnostic))
      }
      throw ExitCode(2)
    }
  }

  /// The store for a new run: a home cluster keeps the run's value flags beside its journal.
  static func keepingValues(
    _ options: HelmValueOptions, _ overrides: ValueOverrides, in store: any StateStore
  ) -> any StateStore {
    guard !options.flags.isEmpty, var kube = store as? KubeStateStore else { return store }
    kube.runValues = RunValueFlags(
      flags: options.flags, setFileContents: overrides.setFileContents)
    return kube
  }

  /// The local directory for what stays on this machine (cluster logs) when runs live in a
  /// home cluster; the state directory itself otherwise.
  static func localDirectory(state: String?, fallback: String) -> String {
    guard let state, !state.hasPrefix("kube://") else { return fallback }
    return state
  }
}
