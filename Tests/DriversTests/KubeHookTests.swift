// Helm hooks in the kube driver: parsed from a real `helm template` of a chart written for the
// test, run at their phase against fleet-sim over TLS, deleted by their policies.
import Drivers
import FleetCore
import FleetSim
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// A chart with a Deployment, a ConfigMap, a pre-upgrade migration Job, a post-install Job
/// deleted on success, a weighted pre-upgrade ConfigMap and a `helm test` Pod.
private func writeHookChart(_ directory: TemporaryDirectory, extraHook: String = "") throws {
  try writeShopChart(directory)
  try directory.write(
    "chart/templates/hooks.yaml",
    """
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: shop-migrate
      annotations: {"helm.sh/hook": pre-upgrade, "helm.sh/hook-weight": "5"}
    spec:
      backoffLimit: 1
      template:
        spec:
          restartPolicy: Never
          containers: [{name: migrate, image: "shop-migrate:{{ .Values.tag }}"}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: shop-schema
      annotations: {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"}
    data: {tag: "{{ .Values.tag }}"}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: shop-welcome
      annotations:
        "helm.sh/hook": post-install
        "helm.sh/hook-delete-policy": hook-succeeded
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: welcome, image: "shop-welcome:1"}]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: shop-test-connection
      annotations: {"helm.sh/hook": test}
    spec:
      restartPolicy: Never
      containers: [{name: wget, image: busybox, command: [wget, "shop:80"]}]
    \(extraHook)
    """)
}

/// One fleet-sim cluster with revision 1 of the hook chart installed (tag 1.0).
private final class InstalledHookChart {
  let cluster: Cluster
  let sim: KubeSim
  let fleet: TemporaryDirectory
  let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")

  init(_ name: String, faults: FaultSet = FaultSet()) throws {
    cluster = Cluster(name: name)
    sim = try KubeSim(clusters: [cluster], faults: faults)
    fleet = try TemporaryDirectory("kube-hooks")
    try writeHookChart(fleet)
    let v1 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    #expect(try finish { v1.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
  }

  deinit { fleet.remove() }

  /// Upgrades to tag 2.0 with `extraHook` added to the chart.
  func upgrade(timeout: Duration = .seconds(60), extraHook: String) throws
    -> (KubeDriver, Result<String, DriverError>)
  {
    try writeHookChart(fleet, extraHook: extraHook)
    let v2 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "2.0"] }
    let result = try finish {
      v2.upgrade(call(self.cluster, timeout: timeout), from: "1", completion: $0)
    }
    return (v2, result)
  }

  var liveImage: String? {
    get throws { image(try sim.deployment(cluster.name, namespace: "shop", name: "shop")) }
  }
}

@Suite struct KubeHookTests {
  @Test func hooksRunAtTheirPhaseAndTestHooksAreNeverApplied() throws {
    let cluster = Cluster(name: "hooks-1")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-hooks")
    defer { fleet.remove() }
    try writeHookChart(fleet)
    let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")
    func driver(_ tag: String) throws -> KubeDriver {
      try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": .string(tag)] }
    }
    let client = try sim.client(cluster.name)
    func live(_ apiVersion: String, _ kind: String, _ name: String) throws -> Value? {
      try client.get(apiVersion: apiVersion, kind: kind, namespace: "shop", name: name)
    }

    // The first install runs pre-install and post-install hooks; the post-install Job asked to
    // be deleted once it succeeded; the pre-upgrade Job and the test Pod are not applied.
    let v1 = try driver("1.0")
    #expect(try finish { v1.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(try live("v1", "ConfigMap", "shop-schema")?["data"] == ["tag": "1.0"])
    #expect(try live("batch/v1", "Job", "shop-welcome") == nil)
    #expect(try live("batch/v1", "Job", "shop-migrate") == nil)
    #expect(try live("v1", "Pod", "shop-test-connection") == nil)
    let record = try #require(try v1.history(call(cluster)).records().last)
    #expect(
      record.objects.map { ObjectKey($0).description } == [
        "ConfigMap shop/shop-config", "Deployment shop/shop",
      ])

    // The upgrade runs the pre-upgrade hooks (kept: before-hook-creation is the default) and
    // still never the test Pod.
    let v2 = try driver("2.0")
    #expect(try finish { v2.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    let migrate = try #require(try live("batch/v1", "Job", "shop-migrate"))
    #expect(image(migrate) == "shop-migrate:2.0")
    #expect(migrate["status"]?["succeeded"] == 1)
    #expect(try live("v1", "ConfigMap", "shop-schema")?["data"] == ["tag": "2.0"])
    #expect(try live("batch/v1", "Job", "shop-welcome") == nil)
    #expect(try live("v1", "Pod", "shop-test-connection") == nil)
    #expect(image(try sim.deployment(cluster.name, namespace: "shop", name: "shop")) == "shop:2.0")

    // A second upgrade deletes the finished migration Job before creating it again (a Job's
    // template cannot be changed in place).
    let v3 = try driver("3.0")
    #expect(try finish { v3.upgrade(call(cluster), from: "2", completion: $0) }.get() == "3")
    let rerun = try #require(try live("batch/v1", "Job", "shop-migrate"))
    #expect(image(rerun) == "shop-migrate:3.0")
    #expect(rerun["metadata"]?["uid"] != migrate["metadata"]?["uid"])
    #expect(
      try revisions(v3.history(call(cluster))) == ["1:superseded", "2:superseded", "3:deployed"])
  }

  @Test func aHookOfAKindTheClusterLacksFailsTheClusterBeforeAnythingIsApplied() throws {
    let installed = try InstalledHookChart("hooks-2")

    // A pre-upgrade hook the API server has no resource for: the upgrade stops while placing
    // the rendered objects, before a revision is recorded or anything applied.
    let (v2, failure) = try installed.upgrade(
      extraHook: """
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: shop-gadget
          annotations: {"helm.sh/hook": pre-upgrade}
        """)
    let reason =
      "hooks-2: find Widget: the server has no resource for kind Widget in example.com/v1"
    #expect(failure == .failure(DriverError(.failed, reason)))
    #expect(try installed.liveImage == "shop:1.0")
    #expect(try revisions(v2.history(call(installed.cluster))) == ["1:deployed"])
  }

  @Test func aHookThatNeverCompletesFailsTheUpgradeNamingItAndKeepsTheOldRevision() throws {
    // The drain image never pulls: the hook Pod is still Pending at the deadline (the call's
    // 3 s less a tenth), and the Deployment was never touched.
    let installed = try InstalledHookChart(
      "hooks-3",
      faults: FaultSet(images: [ImageFault(match: "shop-drain:1", effect: .neverReady)]))

    let (v2, failure) = try installed.upgrade(
      timeout: .seconds(3),
      extraHook: """
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: shop-drain
          annotations: {"helm.sh/hook": pre-upgrade, "helm.sh/hook-delete-policy": hook-failed}
        spec:
          restartPolicy: Never
          containers: [{name: drain, image: "shop-drain:1"}]
        """)
    let reason =
      "pre-upgrade hook Pod shop/shop-drain did not complete in time: pod \"shop-drain\" is Pending"
    #expect(failure == .failure(DriverError(.timedOut, reason)))
    #expect(try installed.liveImage == "shop:1.0")
    // hook-failed: the stuck Pod is deleted.
    #expect(
      try installed.sim.client("hooks-3").get(
        apiVersion: "v1", kind: "Pod", namespace: "shop", name: "shop-drain") == nil)
    let history = try v2.history(call(installed.cluster))
    #expect(try revisions(history) == ["1:deployed", "2:failed"])
    #expect(try history.records().last?.description == reason)
  }

  @Test func aFailingMigrationJobFailsTheUpgradeNamingItAndKeepsTheOldDeployment() throws {
    // fleet-sim's job controller crashes the 2.0 migration image; with backoffLimit 1 the Job
    // fails after its second attempt, before the Deployment is touched.
    let installed = try InstalledHookChart(
      "hooks-4",
      faults: FaultSet(images: [ImageFault(match: "shop-migrate:2.0", effect: .crashLoop)]))
    let (v2, failure) = try installed.upgrade(extraHook: "")
    let reason =
      "pre-upgrade hook Job shop/shop-migrate failed: job \"shop-migrate\" failed "
      + "(BackoffLimitExceeded)"
    #expect(failure == .failure(DriverError(.failed, reason)))
    #expect(try installed.liveImage == "shop:1.0")
    // before-hook-creation (the default) keeps the failed Job for inspection.
    let job = try #require(
      try installed.sim.client("hooks-4").get(
        apiVersion: "batch/v1", kind: "Job", namespace: "shop", name: "shop-migrate"))
    #expect(job["status"]?["failed"] == 2)
    let history = try v2.history(call(installed.cluster))
    #expect(try revisions(history) == ["1:deployed", "2:failed"])
    #expect(try history.records().last?.description == reason)
  }

  @Test func aFailingMigrationJobInAWaveRollsTheWaveBack() throws {
    let clusters = [
      Cluster(name: "hooks-a", labels: ["env": "prod"]),
      Cluster(name: "hooks-b", labels: ["env": "prod"]),
    ]
    let sim = try KubeSim(
      clusters: clusters,
      faults: FaultSet(images: [
        ImageFault(
          match: "shop-migrate:2.0", effect: .crashLoop, scope: ClusterScope(clusters: ["hooks-b"]))
      ]))
    let fleet = try TemporaryDirectory("kube-hooks-fleet")
    defer { fleet.remove() }
    try writeHookChart(fleet)
    _ = try fleet.write(
      "fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: hooks}
      release: {name: shop, namespace: shop, driver: kube, chart: chart, version: "1.0"}
      clusters:
        - {name: hooks-a, labels: {env: prod}, context: hooks-a}
        - {name: hooks-b, labels: {env: prod}, context: hooks-b}
      rollout:
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 2
        clusterTimeout: 30s
        failurePolicy: {maxFailuresPerWave: 0, rollback: wave}
      """)
    func rollout(_ extra: [String]) throws -> ProcessResult {
      try fleetwave(
        ["rollout", fleet.path, "--driver", "kube", "--kubeconfig", sim.kubeconfig] + extra,
        environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
    }
    let first = try rollout(["--run", "r1"])
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")

    // hooks-b's migration Job fails; the wave's budget allows no failure, so hooks-a, already
    // upgraded, goes back to revision 1's objects too.
    let report = fleet.file("r2.json")
    let bad = try rollout(["--run", "r2", "--set", "tag=2.0", "--report-json", report])
    #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
    #expect(bad.stdout.contains("rolled back: hooks-a, hooks-b\n"), "\(bad.stdout)")
    let json = try JSONReader.parse(try String(contentsOfFile: report, encoding: .utf8))
    let failed = json["clusters"]?.sequence?.first { $0["name"] == "hooks-b" }
    #expect(
      failed?["error"]?.string
        == "pre-upgrade hook Job shop/shop-migrate failed: job \"shop-migrate\" failed "
        + "(BackoffLimitExceeded)")
    for cluster in clusters {
      #expect(
        image(try sim.deployment(cluster.name, namespace: "shop", name: "shop")) == "shop:1.0")
    }
    let history = RevisionHistory(
      client: try sim.client("hooks-b"), release: "shop", namespace: "shop")
    #expect(try revisions(history) == ["1:superseded", "2:failed", "3:deployed"])
  }

  @Test func aFirstInstallRolledBackLeavesNothingOfTheReleaseInTheCluster() throws {
    // The Deployment's image never pulls, so the first install fails after its pre-install
    // hook and its resources were applied; the rollback has no earlier revision to go to.
    let cluster = Cluster(name: "hooks-5")
    let sim = try KubeSim(
      clusters: [cluster],
      faults: FaultSet(images: [ImageFault(match: "shop:1.0", effect: .neverReady)]))
    let fleet = try TemporaryDirectory("kube-hooks")
    defer { fleet.remove() }
    try writeHookChart(fleet)
    let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let client = try sim.client(cluster.name)
    func names(_ apiVersion: String, _ kind: String) throws -> [String] {
      try client.list(apiVersion: apiVersion, kind: kind, namespace: "shop").compactMap {
        $0["metadata"]?["name"]?.string
      }.sorted()
    }

    let failed = try finish {
      driver.upgrade(call(cluster, timeout: .seconds(3)), from: nil, completion: $0)
    }
    guard case .failure(let error) = failed else {
      Issue.record("the first install succeeded despite a never-ready image")
      return
    }
    #expect(error.kind == .timedOut)
    // kube-root-ca.crt is the namespace's own, as on a real cluster.
    #expect(try names("v1", "ConfigMap") == ["kube-root-ca.crt", "shop-config", "shop-schema"])
    #expect(try names("apps/v1", "Deployment") == ["shop"])

    let rolledBack = try finish { driver.rollback(call(cluster), to: nil, completion: $0) }
    #expect(try rolledBack.get() == "uninstalled")
    #expect(try names("v1", "ConfigMap") == ["kube-root-ca.crt"])
    #expect(try names("apps/v1", "Deployment") == [])
    #expect(try names("batch/v1", "Job") == [])
    #expect(try names("apps/v1", "ReplicaSet") == [])
    // The emulator's garbage collector takes the Deployment's pods after it is gone, as a real
    // cluster's does: on its own time, not within the delete call.
    #expect(eventually { (try? names("v1", "Pod")) == [] })
    let history = try driver.history(call(cluster))
    #expect(try revisions(history) == ["1:uninstalled"])
    #expect(
      try history.records().last?.description?.hasSuffix(
        "; uninstalled: rollback of a first install") == true)
  }

  @Test func anUnknownHookEventIsTheChartsErrorNamingTheObject() throws {
    let hook: Value = [
      "apiVersion": "batch/v1", "kind": "Job",
      "metadata": [
        "name": "m", "namespace": "shop",
        "annotations": ["helm.sh/hook": "pre-upgrade,pre-upgarde"],
      ],
    ]
    #expect(
      throws: RenderError(
        "Job shop/m: unknown helm.sh/hook 'pre-upgarde' (known: "
          + "pre-install, post-install, pre-upgrade, post-upgrade, pre-rollback, post-rollback, "
          + "pre-delete, post-delete, test)")
    ) {
      try ReleaseManifest([hook])
    }
  }

  @Test func hooksOfAnEventRunByWeightThenNameThenKind() throws {
    func hook(_ kind: String, _ name: String, _ event: String, weight: String? = nil) -> Value {
      let annotations: Value =
        weight.map { ["helm.sh/hook": .string(event), "helm.sh/hook-weight": .string($0)] }
        ?? ["helm.sh/hook": .string(event)]
      return [
        "apiVersion": "v1", "kind": .string(kind),
        "metadata": ["name": .string(name), "annotations": annotations],
      ]
    }
    let manifest = try ReleaseManifest([
      hook("Job", "b", "pre-upgrade"),
      hook("Job", "a", "pre-upgrade", weight: "1"),
      ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"]],
      hook("Job", "same", "pre-upgrade,post-install", weight: "-1"),
      hook("ConfigMap", "same", "pre-upgrade", weight: "-1"),
      hook("Pod", "t", "test-success"),
      hook("Secret", "c", "pre-upgrade", weight: "not a number"),
      ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "web"]],
    ])
    #expect(
      manifest.hooks(for: .preUpgrade).map { $0.key.description } == [
        "ConfigMap same", "Job same", "Job b", "Secret c", "Job a",
      ])
    #expect(manifest.hooks(for: .postInstall).map(\.name) == ["same"])
    #expect(manifest.hooks(for: .test).map(\.name) == ["t"])
    #expect(manifest.hooks.map(\.deletePolicies).allSatisfy { $0 == [.beforeHookCreation] })
    #expect(
      manifest.resources.map { ObjectKey($0).description } == ["ConfigMap web", "Deployment web"])
  }
}
