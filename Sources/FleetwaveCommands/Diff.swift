// `fleetwave diff FLEET`: what a kube-driver rollout would change on each cluster; and the
// options and cluster connections the kube driver shares with `rollout`.
import ArgumentParser
import Drivers
import FleetCore
import Foundation
import Inventory
import Kube

/// Where the kube driver finds clusters.
struct KubeconfigOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "kube, helm: the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config).",
      valueName: "file"))
  var kubeconfig: String?
}

/// The kube driver's options on `rollout`.
struct KubeRolloutOptions: ParsableArguments {
  @OptionGroup var connection: KubeconfigOptions

  @Flag(help: "kube: take over a release lock whose holder stopped renewing it.")
  var forceUnlock = false
}

/// Each cluster's API connection: its kubeconfig context, or its `server:` URL (with the
/// credentials of a kubeconfig context for that same server, when there is one).
final class KubeConnections: @unchecked Sendable {
  private let kubeconfig: Kubeconfig?
  private let problem: String?

  init(path: String?) {
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

  func connection(_ cluster: Cluster) throws(DriverError) -> ClusterConnection {
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

/// The kube driver for a loaded fleet.
func makeKubeDriver(
  _ loaded: LoadedFleet, sets: [String], kubeconfig: String?, options: KubeDriverOptions
) -> KubeDriver {
  let values = loaded.values
  let connections = KubeConnections(path: kubeconfig)
  return KubeDriver(
    renderer: ReleaseRenderer(
      release: loaded.fleet.release, fleetDirectory: loaded.fleet.directory),
    values: { cluster throws(DriverError) in
      do throws(DiagnosticError) {
        return try values.values(for: cluster, sets: sets)
      } catch {
        throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
      }
    },
    connect: { cluster throws(DriverError) in try connections.connection(cluster) },
    options: options)
}

extension FleetwaveCommand {
  struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show what a kube-driver rollout would change on each cluster.",
      discussion: """
        Renders the release for each cluster and compares every object with its live version \
        as a server-side dry-run apply would leave it; objects of the deployed revision that \
        are no longer rendered show as removed. Server-populated fields (status, \
        managedFields, resourceVersion, uid, creationTimestamp, generation) are left out and \
        Secret data is masked. Exit codes: 0 (with or without changes), 1 with --exit-code \
        when something would change, or on an error.
        """)

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: ArgumentHelp("Only this cluster.", valueName: "name"))
    var cluster: String?

    @Flag(help: "Exit 1 when something would change.")
    var exitCode = false

    @Option(
      name: .customLong("set"),
      help: ArgumentHelp("Set a value as helm --set does, for every cluster.", valueName: "k=v"))
    var sets: [String] = []

    @OptionGroup var connection: KubeconfigOptions

    func run() throws {
      let loaded = try loadFleet(fleet)
      if let cluster { try requireCluster(cluster, in: loaded.fleet) }
      let driver = makeKubeDriver(
        loaded, sets: sets, kubeconfig: connection.kubeconfig, options: KubeDriverOptions())
      let clusters = loaded.fleet.clusters.filter { cluster == nil || $0.name == cluster }
      var changed = false
      var failed = false
      for cluster in clusters {
        do throws(DriverError) {
          let diffs = try driver.diff(cluster)
          if diffs.isEmpty {
            print("\(cluster.name): no changes")
          } else {
            changed = true
            for diff in diffs { print(diff.text, terminator: "") }
          }
        } catch {
          failed = true
          printError("error: \(cluster.name): \(error.message)")
        }
      }
      if failed || (exitCode && changed) { throw ExitCode(1) }
    }
  }
}
