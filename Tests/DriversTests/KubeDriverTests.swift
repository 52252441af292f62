// The kube driver against fleet-sim over TLS with client certificates and the real helm.
import Drivers
import FleetCore
import FleetSim
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct KubeDriverTests {
  @Test func upgradesRollsBackToTheExactObjectsAndRecordsEveryRevision() throws {
    let loaded = try demoFleet()
    let clusters = Array(loaded.fleet.clusters.prefix(3))
    // At speed 50 the 600 s progress deadline is 12 s away, well past the 3 s readiness
    // deadline this test expects to hit first.
    let sim = try KubeSim(
      clusters: clusters, speed: 50,
      faults: FaultSet(images: [ImageFault(match: "*:2.0.0-bad", effect: .neverReady)]))
    let release = loaded.fleet.release
    func driver(tag: String?) throws -> KubeDriver {
      let values = loaded.values
      let sets = tag.map { ["image.tag=\($0)"] } ?? []
      return try sim.driver(
        release, fleetDirectory: loaded.fleet.directory,
        values: { cluster in (try? values.values(for: cluster, sets: sets)) ?? .null },
        options: KubeDriverOptions(readinessTimeout: .seconds(3), firstPoll: .milliseconds(20)))
    }

    // Revision 1 on every cluster, with the image the chart renders from the fleet's values.
    let first = try driver(tag: nil)
    for cluster in clusters {
      #expect(try finish { first.currentRevision(call(cluster), completion: $0) }.get() == nil)
      #expect(try finish { first.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
      let live = try sim.deployment(cluster.name, namespace: "shop", name: "checkout")
      #expect(image(live) == "registry.example.com/shop/checkout:1.4.2")
      let client = try sim.client(cluster.name)
      #expect(
        try client.get(
          apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "checkout-config")
          != nil)
      #expect(
        try client.get(apiVersion: "v1", kind: "Service", namespace: "shop", name: "checkout")
          != nil)
    }

    let cluster = clusters[0]
    let second = try driver(tag: "1.5.0")
    #expect(try finish { second.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    let good = try #require(try sim.deployment(cluster.name, namespace: "shop", name: "checkout"))
    #expect(image(good) == "registry.example.com/shop/checkout:1.5.0")
    #expect(try finish { second.currentRevision(call(cluster), completion: $0) }.get() == "2")

    // A never-ready image is still not ready at the readiness deadline; the cluster stays at 2.
    let bad = try driver(tag: "2.0.0-bad")
    let failure = try finish { bad.upgrade(call(cluster), from: "2", completion: $0) }
    // The failure names the cause, read from the new pod and its events (KubeDiagnosisTests).
    let badImage = "registry.example.com/shop/checkout:2.0.0-bad"
    let pod = "checkout-whwjf7xj9t-px9rj"
    let pull =
      "Failed to pull image \"\(badImage)\": rpc error: code = NotFound desc = failed to pull "
      + "and unpack image \"\(badImage)\": not found"
    let stalled =
      "not ready after 3s: Waiting for deployment \"checkout\" rollout to finish: "
      + "1 old replicas are pending termination...: ImagePullBackOff: pod \(pod) cannot pull "
      + "image \"\(badImage)\": \(pull)\n  Warning Failed pod/\(pod): \(pull)\n"
      + "  Normal BackOff pod/\(pod): Back-off pulling image \"\(badImage)\""
    #expect(
      failure.mapError { DriverError($0.kind, withoutEventCounts($0.message)) }
        == .failure(DriverError(.timedOut, stalled)))
    #expect(try finish { bad.currentRevision(call(cluster), completion: $0) }.get() == "2")

    // Rolling back applies revision 2's objects as revision 4: the live spec is 2's again.
    #expect(try finish { bad.rollback(call(cluster), to: "2", completion: $0) }.get() == "4")
    let restored = try #require(
      try sim.deployment(cluster.name, namespace: "shop", name: "checkout"))
    #expect(restored["spec"] == good["spec"])
    #expect(image(restored) == "registry.example.com/shop/checkout:1.5.0")

    let history = try bad.history(call(cluster))
    #expect(try revisions(history) == ["1:superseded", "2:superseded", "3:failed", "4:deployed"])
    let records = try history.records()
    #expect(records[3].valuesDigest == records[1].valuesDigest)
    #expect(records[3].objects == records[1].objects)
    #expect(records[3].description == "rollback to 2")
    #expect(records[2].description.map(withoutEventCounts) == stalled)
    #expect(records.map(\.chart) == Array(repeating: "charts/checkout", count: 4))
    #expect(
      records[0].objects.map { ObjectKey($0).description } == [
        "ConfigMap shop/checkout-config", "Service shop/checkout", "Deployment shop/checkout",
      ])
    // The records are Secrets named and labelled as helm names its own.
    let secret = try #require(
      try sim.client(cluster.name).get(
        apiVersion: "v1", kind: "Secret", namespace: "shop",
        name: "fleetwave.release.v1.checkout.v3"))
    #expect(
      secret["metadata"]?["labels"]
        == ["owner": "fleetwave", "name": "checkout", "revision": "3", "status": "failed"])

    // The other clusters were not touched, and no lock is left behind.
    #expect(try revisions(try first.history(call(clusters[1]))) == ["1:deployed"])
    let lease = try sim.client(cluster.name).get(
      apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "shop",
      name: "fleetwave-checkout")
    #expect(lease?["spec"]?["holderIdentity"] == nil)
  }

  @Test func manifestsGetTheVersionAndDroppedObjectsArePruned() throws {
    let cluster = Cluster(name: "edge-1", labels: ["env": "dev"])
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-manifests")
    defer { fleet.remove() }
    try FileManager.default.createDirectory(
      atPath: fleet.file("manifests"), withIntermediateDirectories: true)
    _ = try fleet.write(
      "manifests/app.yaml",
      """
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: edge, labels: {app: edge}}
      spec:
        replicas: 2
        selector: {matchLabels: {app: edge}}
        template:
          metadata: {labels: {app: edge}}
          spec:
            containers:
              - {name: edge, image: "shop/edge:{{ .version }}"}
      """)
    _ = try fleet.write(
      "manifests/extra.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: edge-extra}
      data: {region: "{{ .labels.env }}"}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: edge-flags, namespace: default}
      data: {fast: "true"}
      """)
    func driver(_ version: String) throws -> KubeDriver {
      try sim.driver(
        Release(
          name: "edge", namespace: "edge", driver: .kube, manifests: "manifests", version: version),
        fleetDirectory: fleet.path
      ) { _ in [:] }
    }
    let v1 = try driver("1.0.0")
    #expect(try finish { v1.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(
      image(try sim.deployment("edge-1", namespace: "edge", name: "edge")) == "shop/edge:1.0.0")
    let client = try sim.client("edge-1")
    let extra = try client.get(
      apiVersion: "v1", kind: "ConfigMap", namespace: "edge", name: "edge-extra")
    #expect(extra?["data"] == ["region": "dev"])
    #expect(
      try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "edge-flags")
        != nil)

    // Revision 2 drops the ConfigMaps: they are pruned, the Deployment moves to 1.1.0.
    try FileManager.default.removeItem(atPath: fleet.file("manifests/extra.yaml"))
    let v2 = try driver("1.1.0")
    #expect(try finish { v2.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    #expect(
      image(try sim.deployment("edge-1", namespace: "edge", name: "edge")) == "shop/edge:1.1.0")
    #expect(
      try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "edge", name: "edge-extra")
        == nil)
    #expect(
      try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "edge-flags")
        == nil)

    // Rolling back to 1 brings them back, as revision 3.
    #expect(try finish { v2.rollback(call(cluster), to: "1", completion: $0) }.get() == "3")
    #expect(
      image(try sim.deployment("edge-1", namespace: "edge", name: "edge")) == "shop/edge:1.0.0")
    #expect(
      try client.get(apiVersion: "v1", kind: "ConfigMap", namespace: "edge", name: "edge-extra")
        != nil)
    #expect(
      try revisions(try v2.history(call(cluster))) == [
        "1:superseded", "2:superseded", "3:deployed",
      ])
  }

  @Test func aHeldLeaseRefusesTheUpgradeUntilForceUnlockFindsItStale() throws {
    let cluster = Cluster(name: "edge-2")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-lease")
    defer { fleet.remove() }
    try FileManager.default.createDirectory(
      atPath: fleet.file("m"), withIntermediateDirectories: true)
    _ = try fleet.write(
      "m/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    let release = Release(name: "edge", namespace: "edge", driver: .kube, manifests: "m")
    let client = try sim.client("edge-2")
    try client.apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "edge"]])
    // Another run took the lock and stopped renewing it. --force-unlock watches it for one
    // lease duration (one second here) of its own clock before taking it over.
    let other = ReleaseLease(
      client: client, cluster: "edge-2", release: "edge", namespace: "edge", holder: "other-run",
      duration: .seconds(1), clock: SystemClock())
    try other.acquire()
    let since = try #require(try other.read()?["spec"]?["acquireTime"]?.string)

    let plain = try sim.driver(release, fleetDirectory: fleet.path) { _ in [:] }
    #expect(
      try finish { plain.upgrade(call(cluster), from: nil, completion: $0) }
        == .failure(
          DriverError(
            .failed, "another operation is in progress on edge-2: held by other-run since \(since)")
        ))
    let forced = try sim.driver(
      release, fleetDirectory: fleet.path, values: { _ in [:] },
      options: KubeDriverOptions(forceUnlock: true, firstPoll: .milliseconds(20)))
    #expect(try finish { forced.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(try other.read()?["spec"]?["leaseTransitions"] == 1)
  }
}
