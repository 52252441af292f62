// A TLS fleet-sim for kube-driver tests, the demo fleet's clusters on it, and synchronous
// wrappers around the driver's completion-based calls.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

final class KubeSim: @unchecked Sendable {
  let directory: TemporaryDirectory
  let server: FleetSimServer
  let kubeconfig: String

  /// With `requestLog`, fleet-sim writes a line per mutating request to `requestLogPath`.
  init(
    clusters: [Cluster], speed: Double = 200, faults: FaultSet = FaultSet(),
    requestLog: Bool = false
  ) throws {
    directory = try TemporaryDirectory("kube-driver")
    var options = FleetSimOptions(
      tls: true, stateDirectory: directory.file("state"), speed: speed, faults: faults,
      threads: 2)
    options.requestLog = requestLog ? directory.file("requests.jsonl") : nil
    server = try FleetSimServer.start(
      clusters: clusters.map { VirtualClusterSpec(name: $0.name, labels: $0.labels) },
      options: options)
    kubeconfig = directory.file("kubeconfig")
    try server.writeKubeconfig(to: kubeconfig, tls: true)
  }

  var requestLogPath: String { directory.file("requests.jsonl") }

  deinit {
    server.shutdown()
    directory.remove()
  }

  func connection(_ cluster: String) throws -> ClusterConnection {
    try Kubeconfig.load(paths: [kubeconfig], explicit: true).connection(context: cluster)
  }

  func client(_ cluster: String) throws -> KubeClient {
    KubeClient(connection: try connection(cluster))
  }

  /// A kube driver for `release`, connecting through this emulator's kubeconfig.
  func driver(
    _ release: Release, fleetDirectory: String, values: @escaping @Sendable (Cluster) -> Value,
    options: KubeDriverOptions = KubeDriverOptions(firstPoll: .milliseconds(20))
  ) throws -> KubeDriver {
    let config = try Kubeconfig.load(paths: [kubeconfig], explicit: true)
    let helm = try #require(BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh")
    return KubeDriver(
      renderer: ReleaseRenderer(release: release, fleetDirectory: fleetDirectory, helm: helm),
      values: { cluster throws(DriverError) in values(cluster) },
      connect: { cluster throws(DriverError) in
        do throws(Diagnostic) {
          return try config.connection(context: cluster.name)
        } catch {
          throw DriverError(.setup, error.message)
        }
      },
      options: options)
  }

  func deployment(_ cluster: String, namespace: String, name: String) throws -> Value? {
    try client(cluster).get(
      apiVersion: "apps/v1", kind: "Deployment", namespace: namespace, name: name)
  }
}

/// Copies the demo fleet's checkout chart to `fleet/charts/checkout`.
func copyDemoChart(into fleet: String) throws {
  try FileManager.default.createDirectory(
    atPath: fleet + "/charts", withIntermediateDirectories: true)
  try FileManager.default.copyItem(
    atPath: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo/charts/checkout").path,
    toPath: fleet + "/charts/checkout")
}

/// The demo fleet as loaded from the repository.
func demoFleet() throws -> LoadedFleet {
  try FleetLoader.load(
    directory: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path)
}

func image(_ deployment: Value?) -> String? {
  deployment?["spec"]?["template"]?["spec"]?["containers"]?.sequence?.first?["image"]?.string
}

/// Each stored revision with its status, oldest first.
func revisions(_ history: RevisionHistory) throws -> [String] {
  try history.records().map { "\($0.revision):\($0.status.rawValue)" }
}

/// Writes what an upgrade by `driver` would record as `revision`, left pending as a process
/// killed mid-change leaves it.
func leavePending(
  revision: Int, of driver: KubeDriver, _ cluster: Cluster, _ history: RevisionHistory
) throws {
  let manifest = try Blocking.wait { () async throws(DriverError) in
    try await driver.renderedManifest(cluster)
  }
  let target = try driver.target(for: cluster, version: nil)
  let record = RevisionRecord(
    release: driver.release.name, namespace: driver.release.namespace, revision: revision,
    status: .pendingUpgrade, objects: manifest.resources,
    valuesDigest: target.valuesDigest ?? "", version: target.version,
    chart: driver.renderer.source, created: Date())
  try Blocking.wait { () async throws(KubeError) in try await history.save(record) }
}

extension KubeSim {
  /// The real kubectl against one of this emulator's clusters.
  func kubectl(_ cluster: String, _ arguments: [String]) throws -> ProcessResult {
    try runProcess(
      "/usr/bin/env",
      ["kubectl", "--request-timeout=30s", "--kubeconfig", kubeconfig, "--context", cluster]
        + arguments, timeout: 90)
  }
}

/// A `shop` chart's Chart.yaml and its release objects (a ConfigMap and a one-replica
/// Deployment labelled app=shop, both carrying `.Values.tag`), in `directory`/`chart`; the
/// test adds its own hooks beside them.
func writeShopChart(_ directory: TemporaryDirectory, under prefix: String = "") throws {
  try directory.write(
    prefix + "chart/Chart.yaml",
    "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: \"1.0\"\n")
  try directory.write("\(prefix)chart/values.yaml", "tag: \"1.0\"\n")
  try directory.write(
    prefix + "chart/templates/app.yaml",
    """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: shop-config}
    data: {tag: "{{ .Values.tag }}"}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: shop, labels: {app: shop}}
    spec:
      replicas: 1
      selector: {matchLabels: {app: shop}}
      template:
        metadata: {labels: {app: shop}}
        spec:
          containers: [{name: shop, image: "shop:{{ .Values.tag }}"}]
    """)
}

extension KubeSim {
  /// A fleet directory `name` holding `fleetYAML` as fleet.yaml and a manifests directory `m`
  /// with one ConfigMap: a release that is ready as soon as it is applied.
  func writeConfigMapFleet(_ name: String, _ fleetYAML: String) throws -> String {
    _ = try directory.write(
      "\(name)/m/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    _ = try directory.write("\(name)/fleet.yaml", fleetYAML)
    return directory.file(name)
  }
}
