// A fleet-sim emulator and a small fleet of the demo's checkout chart, for the helm driver's
// tests: real helm (v4) against virtual clusters, with isolated helm and kubectl caches.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

final class HelmFixture: @unchecked Sendable {
  let directory: TemporaryDirectory
  let server: FleetSimServer
  let kubeconfig: String
  let helm: String
  let clusters: [Cluster]

  /// Four clusters: `canary-1`, then `b-1`, `b-2`, `b-3` in the wave `rest`. At speed 30 a
  /// replica gets ready in about 70 ms, and a stuck rollout reaches its progress deadline only
  /// after 20 s, past helm's wait in these tests.
  init(faults: FaultSet = FaultSet(), speed: Double = 30) throws {
    helm = try #require(
      BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh or set FLEETWAVE_HELM")
    directory = try TemporaryDirectory("helm-driver")
    clusters = [
      Cluster(name: "canary-1", labels: ["canary": "true"], context: "canary-1"),
      Cluster(name: "b-1", labels: ["wave": "rest"], context: "b-1"),
      Cluster(name: "b-2", labels: ["wave": "rest"], context: "b-2"),
      Cluster(name: "b-3", labels: ["wave": "rest"], context: "b-3"),
    ]
    server = try FleetSimServer.start(
      clusters: clusters.map { VirtualClusterSpec(name: $0.name, labels: $0.labels) },
      options: FleetSimOptions(
        stateDirectory: directory.file("state"), speed: speed, faults: faults, threads: 2))
    kubeconfig = directory.file("kubeconfig")
    try server.writeKubeconfig(to: kubeconfig)
    try writeFleet()
  }

  deinit {
    server.shutdown()
    directory.remove()
  }

  var fleetDirectory: String { directory.file("fleet") }
  var chartDirectory: String { directory.file("fleet/charts/checkout") }

  /// helm and kubectl keep caches and config under these; none may be shared between tests.
  var environment: [String: String] {
    [
      "HOME": directory.path, "KUBECONFIG": kubeconfig,
      "KUBECACHEDIR": directory.file("kube-cache"),
      "HELM_CACHE_HOME": directory.file("helm/cache"),
      "HELM_CONFIG_HOME": directory.file("helm/config"),
      "HELM_DATA_HOME": directory.file("helm/data"),
    ]
  }

  private func writeFleet() throws {
    let demo = BuiltProducts.packageRoot.appendingPathComponent("fleets/demo/charts/checkout")
    try FileManager.default.createDirectory(
      atPath: directory.file("fleet/charts"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: demo.path, toPath: chartDirectory)
    try directory.write(
      "fleet/values/base.yaml",
      "image:\n  repository: shop/checkout\n  tag: \"1.0.0\"\nreplicaCount: 2\n"
        + "extraArgs: [--a, --b]\n")
    try directory.write("fleet/values/clusters/b-1.yaml", "config:\n  logLevel: debug\n")
    try directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: helmfleet}
      release:
        name: checkout
        namespace: shop
        driver: helm
        chart: charts/checkout
        version: 1.4.2
      values:
        - values/base.yaml
        - path: values/clusters/{{ .name }}.yaml
          optional: true
      defaults:
        context: "{{ .name }}"
      clusters:
        - {name: canary-1, labels: {canary: "true"}}
        - {name: b-1, labels: {wave: rest}}
        - {name: b-2, labels: {wave: rest}}
        - {name: b-3, labels: {wave: rest}}
      rollout:
        canary: {selector: canary=true, maxFailures: 0}
        waves:
          - {name: rest, selector: wave=rest}
        maxParallel: 3
        clusterTimeout: 20s
        failurePolicy:
          maxFailuresPerWave: 0
          rollback: wave

      """)
  }

  /// A helm driver for the fleet, as `rollout --driver helm` sets it up.
  func driver(
    helm: String? = nil, sets: Value? = nil, logDirectory: String? = nil,
    killGrace: TimeInterval = 5
  ) -> HelmDriver {
    let base = fleetDirectory
    return HelmDriver(
      commandLine: HelmCommandLine(
        helm: helm ?? self.helm, release: "checkout", namespace: "shop", kubeconfig: kubeconfig),
      chart: .local(path: chartDirectory), logDirectory: logDirectory ?? directory.file("logs"),
      valuesFiles: { cluster in
        let override = "\(base)/values/clusters/\(cluster.name).yaml"
        return ["\(base)/values/base.yaml"]
          + (FileManager.default.fileExists(atPath: override) ? [override] : [])
      },
      setValues: { _ in sets },
      baseEnvironment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
      killGrace: killGrace)
  }

  func cluster(_ name: String) throws -> Cluster {
    try #require(clusters.first { $0.name == name })
  }

  /// Runs the real helm against one cluster.
  @discardableResult
  func runHelm(_ arguments: [String], cluster: String) throws -> ProcessResult {
    try runProcess(
      helm, arguments + ["--kube-context", cluster, "-n", "shop"], environment: environment,
      timeout: 120)
  }

  /// `helm history` as "REVISION STATUS: DESCRIPTION" lines.
  func history(_ cluster: String) throws -> [String] {
    let output = try runHelm(["history", "checkout", "-o", "json"], cluster: cluster)
    let entries = try JSONReader.parse(output.stdout).sequence ?? []
    return entries.map {
      let revision = $0["revision"]?.scalarText ?? ""
      return "\(revision) \($0["status"]?.string ?? ""): \($0["description"]?.string ?? "")"
    }
  }

  @discardableResult
  func kubectl(_ arguments: [String], cluster: String) throws -> ProcessResult {
    try runProcess(
      "/usr/bin/env",
      ["kubectl", "--request-timeout=30s", "--context", cluster, "-n", "shop"] + arguments,
      environment: environment, timeout: 90)
  }

  /// The container's `args` as kubectl's jsonpath prints them.
  func arguments(_ cluster: String) throws -> String {
    try kubectl(
      ["get", "deployment", "checkout", "-o", "jsonpath={.spec.template.spec.containers[0].args}"],
      cluster: cluster
    ).stdout
  }

  func image(_ cluster: String) throws -> String {
    try kubectl(
      [
        "get", "deployment", "checkout", "-o", "jsonpath={.spec.template.spec.containers[0].image}",
      ],
      cluster: cluster
    ).stdout
  }
}

