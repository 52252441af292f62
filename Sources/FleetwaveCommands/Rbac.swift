// `fleetwave rbac FLEET`: print the least-privilege ServiceAccount, Roles and bindings the kube
// driver needs for this release, ready for `kubectl apply -f -`.
import ArgumentParser
import Drivers
import Engine
import FleetCore
import FleetYAML
import Foundation
import Kube

extension FleetwaveCommand {
  struct Rbac: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the RBAC a deployer ServiceAccount needs for this release.",
      discussion: """
        Renders the release for each cluster (hooks included) and grants exactly what the \
        kube driver does and preflight checks: create, get, patch and delete on each rendered \
        kind; list, create and patch on the revision-record Secrets; get, create and update on \
        the release Lease; get on the release namespace. Namespaced accesses become a Role and \
        RoleBinding per namespace, cluster-scoped ones a ClusterRole and ClusterRoleBinding. \
        The stream also creates the namespaces the Roles live in (so it applies cleanly where \
        the release was never installed): do not `kubectl delete -f` it. One stream for the \
        union of the selected clusters' renders; --cluster narrows it to one cluster's. \
        Exit codes: 0 printed, 1 a cluster could not be rendered or read, 2 usage.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
      case yaml, json
    }

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "The driver whose work is granted (default: the fleet's release.driver).")
    var driver: String?

    @Option(help: ArgumentHelp("Only these clusters.", valueName: "name"))
    var cluster: [String] = []

    @OptionGroup var valueFlags: HelmValueOptions

    @Option(help: ArgumentHelp("The deployer's ServiceAccount.", valueName: "name"))
    var serviceAccount = "fleetwave-deployer"

    @Option(help: "The ServiceAccount's namespace (default: the release namespace).")
    var namespace: String?

    @Option(
      name: [.customShort("o"), .customLong("output")],
      help: "yaml (a multi-document stream) or json (a v1 List).")
    var format: Format = .yaml

    @Option(help: "At most this many clusters read at once.")
    var maxParallel: Int = 64

    @OptionGroup var connection: KubeconfigOptions

    func validate() throws {
      if maxParallel < 1 { throw ValidationError("--max-parallel must be at least 1") }
      if let driver, DriverKind(rawValue: driver) == nil {
        throw ValidationError(
          "unknown driver '\(driver)'; expected one of: "
            + DriverKind.allCases.map(\.rawValue).joined(separator: ", "))
      }
      for (option, name) in [("--service-account", serviceAccount), ("--namespace", namespace)] {
        if let name, !Self.isDNSLabel(name) {
          throw ValidationError(
            "\(option) '\(name)' is not a valid name (lower-case letters, digits and '-', "
              + "at most 63, starting and ending with a letter or digit)")
        }
      }
    }

    /// RFC 1123 label: what Kubernetes accepts as a namespace and ServiceAccount name.
    static func isDNSLabel(_ name: String) -> Bool {
      let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
      return !name.isEmpty && name.count <= 63 && name.allSatisfy(allowed.contains)
        && name.first != "-" && name.last != "-"
    }

    func run() throws {
      let overrides = try valueFlags.overrides()
      let loaded = try loadFleet(fleet)
      for name in cluster { try requireCluster(name, in: loaded.fleet) }
      let kind = driver.flatMap(DriverKind.init(rawValue:)) ?? loaded.fleet.release.driver
      guard kind == .kube else {
        printError(
          "error: rbac grants what the kube driver does; the \(kind.rawValue) driver's "
            + "accesses are not derived yet (try --driver kube)")
        throw ExitCode(1)
      }
      let kubeDriver: KubeDriver
      do {
        kubeDriver = try makeKubeDriver(
          loaded, values: overrides, kubeconfig: connection.kubeconfig,
          options: KubeDriverOptions())
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitCode)
      }
      let clusters = loaded.fleet.clusters.filter { cluster.isEmpty || cluster.contains($0.name) }
      let subject = RbacSubject(
        serviceAccount: serviceAccount, namespace: namespace ?? loaded.fleet.release.namespace)
      let action = RbacAction(driver: kubeDriver, subject: subject, window: maxParallel)
      let result = Blocking.wait { () async -> RbacResult in await action.run(clusters) }
      guard result.problems.isEmpty else {
        for line in result.problems { printError(line) }
        printError(
          "rbac: \(result.problems.count) of \(clusters.count) cluster"
            + (clusters.count == 1 ? "" : "s") + " could not be read; nothing printed")
        throw ExitCode(1)
      }
      switch format {
      case .yaml: print(YAML.emit(documents: result.objects), terminator: "")
      case .json:
        let list: Value = [
          "apiVersion": "v1", "kind": "List", "items": .sequence(result.objects),
        ]
        print(JSONWriter.string(list, options: JSONWriter.Options(pretty: true)))
      }
    }
  }
}
