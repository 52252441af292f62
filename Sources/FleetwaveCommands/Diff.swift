// `fleetwave diff FLEET`: what a kube-driver rollout would change on each cluster; and the
// options and cluster connections the kube driver shares with `rollout`.
import ArgumentParser
import Drivers
import Engine
import FleetCore
import Foundation
import Inventory

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

    @OptionGroup var valueFlags: HelmValueOptions

    @OptionGroup var connection: KubeconfigOptions

    @OptionGroup var versions: ReleaseVersionOptions

    func run() throws {
      let overrides = try valueFlags.overrides()
      var loaded = try loadFleet(fleet)
      try versions.apply(to: &loaded.fleet.release, fleetDirectory: loaded.fleet.directory)
      if let cluster { try requireCluster(cluster, in: loaded.fleet) }
      let driver: KubeDriver
      do {
        driver = try makeKubeDriver(
          loaded, values: overrides, kubeconfig: connection.kubeconfig,
          options: KubeDriverOptions())
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitCode)
      }
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
            for diff in diffs where !diff.isHook && !diff.isCRD {
              print(diff.text, terminator: "")
            }
            // Hooks run at their events instead of being applied: a section of their own.
            let hooks = diffs.filter(\.isHook)
            if !hooks.isEmpty {
              print("\(cluster.name): hooks, as recorded by the deployed revision and as rendered:")
              for diff in hooks { print(diff.text, terminator: "") }
            }
            // CRDs are created on a first install only and never upgraded, as helm does.
            let crds = diffs.filter(\.isCRD)
            if !crds.isEmpty {
              print(
                "\(cluster.name): CRDs, as the cluster has them and as the chart's crds/ has them"
                  + " (created on a first install only, never upgraded):")
              for diff in crds { print(diff.text, terminator: "") }
            }
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
