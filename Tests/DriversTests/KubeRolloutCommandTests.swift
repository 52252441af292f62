// `fleetwave rollout --driver kube` and `fleetwave diff` end to end: the built binary against a
// TLS fleet-sim started by the test, clusters reached by kubeconfig context and by server URL.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct KubeRolloutCommandTests {
  let clusters = [
    Cluster(name: "mini-canary", labels: ["env": "dev", "canary": "true"]),
    Cluster(name: "mini-a", labels: ["env": "prod"]),
    Cluster(name: "mini-b", labels: ["env": "prod"]),
  ]

  /// A three-cluster fleet with the demo chart; mini-b is reached by its server URL.
  func writeFleet(_ sim: KubeSim) throws -> String {
    let fleet = sim.directory.file("fleet")
    try copyDemoChart(into: fleet)
    _ = try sim.directory.write(
      "fleet/values.yaml", "image: {repository: shop/checkout, tag: \"1.0.0\"}\nreplicaCount: 2\n")
    _ = try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: mini}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 1.0.0}
      values: [values.yaml]
      clusters:
        - {name: mini-canary, labels: {env: dev, canary: "true"}, context: mini-canary}
        - {name: mini-a, labels: {env: prod}, context: mini-a}
        - {name: mini-b, labels: {env: prod}, server: "\(sim.server.baseURL(for: "mini-b", tls: true))"}
      rollout:
        canary: {selector: canary=true, bake: 0s}
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 3
        clusterTimeout: 4s
        failurePolicy: {maxFailuresPerWave: 0, rollback: failed}
      """)
    return fleet
  }

  func rollout(_ fleet: String, _ sim: KubeSim, _ extra: [String]) throws -> ProcessResult {
    try fleetwave(
      ["rollout", fleet, "--driver", "kube", "--kubeconfig", sim.kubeconfig] + extra,
      environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
  }

  @Test func rolloutSucceedsThenABadImageHaltsAndRollsBackAndALeaseRefuses() throws {
    let prod = try LabelSelector.parse("env=prod")
    let sim = try KubeSim(
      clusters: clusters,
      faults: FaultSet(images: [
        ImageFault(match: "*:2.0.0-bad", effect: .neverReady, scope: ClusterScope(selector: prod))
      ]))
    let fleet = try writeFleet(sim)

    let first = try rollout(fleet, sim, ["--run", "r1"])
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.contains("rollout r1: succeeded (3 succeeded)"))
    for cluster in clusters {
      #expect(
        image(try sim.deployment(cluster.name, namespace: "shop", name: "checkout"))
          == "shop/checkout:1.0.0")
    }
    let before = try #require(try sim.deployment("mini-a", namespace: "shop", name: "checkout"))

    // Nothing to change; a new log level changes the ConfigMap and the config checksum.
    let helm = ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)]
    let same = try fleetwave(
      ["diff", fleet, "--kubeconfig", sim.kubeconfig, "--exit-code"], environment: helm)
    #expect(same.status == 0)
    #expect(same.stdout == "mini-canary: no changes\nmini-a: no changes\nmini-b: no changes\n")
    let changed = try fleetwave(
      [
        "diff", fleet, "--kubeconfig", sim.kubeconfig, "--cluster", "mini-b", "--set",
        "config.logLevel=debug",
      ],
      environment: helm)
    #expect(changed.status == 0)
    #expect(
      changed.stdout.contains(
        "-  config.json: '{\"logLevel\":\"info\"}'\n+  config.json: '{\"logLevel\":\"debug\"}'\n"))
    let strict = try fleetwave(
      [
        "diff", fleet, "--kubeconfig", sim.kubeconfig, "--cluster", "mini-b", "--set",
        "config.logLevel=debug",
        "--exit-code",
      ], environment: helm)
    #expect(strict.status == 1)

    // The canary takes the bad image (the fault is only in prod); prod fails readiness, halts,
    // and its clusters go back to revision 1's objects as revision 3.
    let bad = try rollout(fleet, sim, ["--run", "r2", "--set", "image.tag=2.0.0-bad"])
    #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
    #expect(bad.stdout.contains("rolled back: mini-a, mini-b"), "\(bad.stdout)")
    let after = try #require(try sim.deployment("mini-a", namespace: "shop", name: "checkout"))
    #expect(after["spec"] == before["spec"])
    #expect(
      image(try sim.deployment("mini-b", namespace: "shop", name: "checkout"))
        == "shop/checkout:1.0.0")
    #expect(
      image(try sim.deployment("mini-canary", namespace: "shop", name: "checkout"))
        == "shop/checkout:2.0.0-bad")
    let history = RevisionHistory(
      client: try sim.client("mini-a"), release: "checkout", namespace: "shop")
    #expect(try revisions(history) == ["1:superseded", "2:failed", "3:deployed"])

    // Another run holds mini-a's lock: this run is refused there, with who and since when.
    let other = ReleaseLease(
      client: try sim.client("mini-a"), cluster: "mini-a", release: "checkout", namespace: "shop",
      holder: "someone-else", clock: SystemClock())
    try other.acquire()
    let since = try #require(try other.read()?["spec"]?["acquireTime"]?.string)
    let report = sim.directory.file("r3.json")
    // Past the preflight (which names the held Lease first), the driver refuses it itself.
    let refused = try rollout(
      fleet, sim, ["--run", "r3", "--report-json", report, "--skip-preflight"])
    #expect(refused.status == 1)
    let json = try JSONReader.parse(try String(contentsOfFile: report, encoding: .utf8))
    let record = json["clusters"]?.sequence?.first { $0["name"] == "mini-a" }
    #expect(
      record?["error"]?.string
        == "another operation is in progress on mini-a: held by someone-else since \(since)")
  }

  /// fleets/demo on 60 virtual clusters, with bakes, approvals and windows taken out and the
  /// health gate pointed at each virtual cluster's application.
  @Test func theDemoFleetRollsOutToSixtyClustersAndABadImageInALaterWaveIsRolledBack() throws {
    let demo = try demoFleet()
    let sim = try KubeSim(clusters: demo.fleet.clusters, speed: 50)
    let fleet = sim.directory.file("demo")
    try FileManager.default.copyItem(
      atPath: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path, toPath: fleet)
    let app = sim.server.baseURL(for: "NAME", tls: false)
      .replacingOccurrences(of: "/clusters/NAME", with: "/clusters/{{ .name }}/app/healthz")
    var text = try String(contentsOfFile: fleet + "/fleet.yaml", encoding: .utf8)
    for (old, new) in [
      ("bake: 10m", "bake: 0s"), ("bake: 5m", "bake: 0s"), ("bake: 1m", "bake: 0s"),
      ("approval: true", "approval: false"), ("clusterTimeout: 20m", "clusterTimeout: 10s"),
      ("https://checkout.{{ .name }}.shop.example/healthz", app),
      ("successes: 3\n        interval: 5s", "successes: 1\n        interval: 1s"),
      (
        "days: Mon-Thu\n    from: \"22:00\"\n    to: \"04:00\"",
        "days: daily\n    from: \"00:00\"\n    to: \"24:00\""
      ),
    ] {
      #expect(text.contains(old), "fleets/demo/fleet.yaml no longer has \(old)")
      text = text.replacingOccurrences(of: old, with: new)
    }
    try text.write(toFile: fleet + "/fleet.yaml", atomically: true, encoding: .utf8)

    let first = try rollout(fleet, sim, ["--run", "r1", "--max-parallel", "20"])
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.hasSuffix("rollout r1: succeeded (60 succeeded)\n"))

    // us-west-2's production clusters never get the bad image ready; the first of them is in
    // wave 3, which crosses its budget and is rolled back whole (rollback: wave).
    sim.server.faults.faults = FaultSet(images: [
      ImageFault(
        match: "*:9.9.9-bad", effect: .neverReady,
        scope: ClusterScope(selector: try LabelSelector.parse("env=prod,region=us-west-2")))
    ])
    let before = try #require(
      try sim.deployment("prod-usw2-a-1", namespace: "shop", name: "checkout"))
    let bad = try rollout(
      fleet, sim, ["--run", "r2", "--max-parallel", "20", "--set", "image.tag=9.9.9-bad"])
    #expect(bad.status == 1)
    #expect(
      bad.stdout.hasSuffix(
        """
        rollout r2: halted (25 succeeded, 6 rolled-back, 29 skipped)
          wave 'prod-first-10pc' has 1 failed of 6 clusters; its budget allows 0
          rolled back: prod-apne1-a-1, prod-apse1-a-1, prod-euc1-a-1, prod-euw1-a-2, prod-use1-a-1, prod-usw2-a-1

        """), "\(bad.stdout)")
    let after = try #require(
      try sim.deployment("prod-usw2-a-1", namespace: "shop", name: "checkout"))
    #expect(after["spec"] == before["spec"])
    #expect(image(after) == "registry.example.com/shop/checkout:1.4.2")
    let history = RevisionHistory(
      client: try sim.client("prod-usw2-a-1"), release: "checkout", namespace: "shop")
    #expect(try revisions(history) == ["1:superseded", "2:failed", "3:deployed"])
  }
}
