// The kube driver's uninstall and the hooks of rollback and delete, against fleet-sim over
// TLS with a chart written for the test and rendered by the real helm.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// The shop chart with a pre-delete Job, a post-delete ConfigMap and
/// pre-rollback/post-rollback ConfigMaps, each carrying the chart's tag.
private func writeChart(_ directory: TemporaryDirectory) throws {
  try writeShopChart(directory)
  try directory.write(
    "chart/templates/hooks.yaml",
    """
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: shop-backup
      annotations:
        "helm.sh/hook": pre-delete
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers: [{name: backup, image: "shop-backup:{{ .Values.tag }}"}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: shop-farewell
      annotations: {"helm.sh/hook": post-delete}
    data: {tag: "{{ .Values.tag }}"}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: shop-before-rollback
      annotations: {"helm.sh/hook": pre-rollback}
    data: {tag: "{{ .Values.tag }}"}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: shop-after-rollback
      annotations: {"helm.sh/hook": post-rollback}
    data: {tag: "{{ .Values.tag }}"}
    """)
}

@Suite struct KubeUninstallTests {
  let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")

  func names(_ client: KubeClient, _ apiVersion: String, _ kind: String) throws -> [String] {
    try client.list(apiVersion: apiVersion, kind: kind, namespace: "shop").compactMap {
      $0["metadata"]?["name"]?.string
    }.sorted()
  }

  @Test func aFailingPreDeleteHookFailsTheClusterAndDeletesNothing() throws {
    let cluster = Cluster(name: "retire-1")
    let sim = try KubeSim(
      clusters: [cluster],
      faults: FaultSet(images: [ImageFault(match: "shop-backup:1.0", effect: .crashLoop)]))
    let fleet = try TemporaryDirectory("kube-uninstall")
    defer { fleet.remove() }
    try writeChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let client = try sim.client(cluster.name)
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")

    let failed = try finish { driver.uninstall(call(cluster), keepHistory: false, completion: $0) }
    #expect(
      failed
        == .failure(
          DriverError(
            .failed,
            "pre-delete hook Job shop/shop-backup failed: job \"shop-backup\" failed "
              + "(BackoffLimitExceeded)")))
    #expect(try names(client, "apps/v1", "Deployment") == ["shop"])
    #expect(try names(client, "v1", "ConfigMap") == ["kube-root-ca.crt", "shop-config"])
    #expect(try revisions(driver.history(call(cluster))) == ["1:deployed"])

    // The backup works again: the release goes, the post-delete hook runs, the records stay
    // (--keep-history), marked uninstalled; a second uninstall finds nothing to remove.
    sim.server.faults.faults = FaultSet()
    let removed = try finish { driver.uninstall(call(cluster), keepHistory: true, completion: $0) }
    #expect(try removed.get() == "uninstalled")
    #expect(try names(client, "apps/v1", "Deployment") == [])
    #expect(try names(client, "batch/v1", "Job") == [])
    #expect(try names(client, "v1", "ConfigMap") == ["kube-root-ca.crt", "shop-farewell"])
    #expect(try revisions(driver.history(call(cluster))) == ["1:uninstalled"])
    #expect(try driver.history(call(cluster)).records().last?.description == "uninstalled")
    let again = try finish { driver.uninstall(call(cluster), keepHistory: true, completion: $0) }
    #expect(try again.get() == "not-installed")
    #expect(try revisions(driver.history(call(cluster))) == ["1:uninstalled"])
    // Without --keep-history the kept records go too, as `helm uninstall` purges them.
    let purged = try finish { driver.uninstall(call(cluster), keepHistory: false, completion: $0) }
    #expect(try purged.get() == "not-installed")
    #expect(try revisions(driver.history(call(cluster))) == [])
  }

  @Test func aClusterThatNeverHadTheReleaseIsNotInstalledAndGetsNoNamespace() throws {
    let cluster = Cluster(name: "retire-2")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-uninstall")
    defer { fleet.remove() }
    try writeChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let result = try finish { driver.uninstall(call(cluster), keepHistory: false, completion: $0) }
    #expect(try result.get() == "not-installed")
    #expect(
      try sim.client(cluster.name).get(
        apiVersion: "v1", kind: "Namespace", namespace: nil, name: "shop") == nil)
  }

  @Test func aRollbackRunsTheTargetRevisionsRollbackHooks() throws {
    let cluster = Cluster(name: "retire-3")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-uninstall")
    defer { fleet.remove() }
    try writeChart(fleet)
    let client = try sim.client(cluster.name)
    let v1 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let v2 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "2.0"] }
    #expect(try finish { v1.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(try finish { v2.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    #expect(try names(client, "v1", "ConfigMap") == ["kube-root-ca.crt", "shop-config"])

    // Rolled back by the 2.0 driver: the hooks are revision 1's, as recorded, not 2.0's.
    #expect(try finish { v2.rollback(call(cluster), to: "1", completion: $0) }.get() == "3")
    func tag(_ name: String) throws -> Value? {
      try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: name)?[
        "data"]?["tag"]
    }
    #expect(try tag("shop-before-rollback") == "1.0")
    #expect(try tag("shop-after-rollback") == "1.0")
    #expect(try tag("shop-config") == "1.0")
    let written = try ["shop-before-rollback", "shop-config", "shop-after-rollback"].map {
      name in
      Int(
        try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: name)?[
          "metadata"]?["resourceVersion"]?.string ?? "") ?? -1
    }
    #expect(written == written.sorted(), "\(written)")
    // The new revision records the hooks it ran with, in install order.
    let record = try #require(try v2.history(call(cluster)).records().last)
    #expect(
      record.hooks?.compactMap { $0["metadata"]?["name"]?.string } == [
        "shop-farewell", "shop-before-rollback", "shop-after-rollback", "shop-backup",
      ])
  }

  @Test func aFirstInstallRolledBackRunsTheDeleteHooks() throws {
    let cluster = Cluster(name: "retire-4")
    let sim = try KubeSim(
      clusters: [cluster],
      faults: FaultSet(images: [ImageFault(match: "shop:1.0", effect: .neverReady)]))
    let fleet = try TemporaryDirectory("kube-uninstall")
    defer { fleet.remove() }
    try writeChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let client = try sim.client(cluster.name)
    let failed = try finish {
      driver.upgrade(call(cluster, timeout: .seconds(3)), from: nil, completion: $0)
    }
    #expect(throws: DriverError.self) { try failed.get() }
    let rolledBack = try finish { driver.rollback(call(cluster), to: nil, completion: $0) }
    #expect(try rolledBack.get() == "uninstalled")
    // The backup ran and was deleted on success; the post-delete hook ran after everything
    // else was gone.
    #expect(try names(client, "batch/v1", "Job") == [])
    #expect(try names(client, "apps/v1", "Deployment") == [])
    #expect(try names(client, "v1", "ConfigMap") == ["kube-root-ca.crt", "shop-farewell"])
  }
}
