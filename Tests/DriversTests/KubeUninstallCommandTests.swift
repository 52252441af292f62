// `fleetwave uninstall` end to end: the built binary retires a release from a 20-cluster TLS
// fleet-sim in waves, with pre-delete and post-delete hooks, killed mid-run and resumed.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct KubeUninstallCommandTests {
  static let clusters =
    [Cluster(name: "u-canary", labels: ["env": "dev", "canary": "true"])]
    + (1...19).map { Cluster(name: String(format: "u-%02d", $0), labels: ["env": "prod"]) }

  /// The release's objects, a pre-delete ConfigMap (weight -5), a pre-delete Job (0) and a
  /// pre-delete ConfigMap after it (5), and a post-delete ConfigMap; hooks for the upgrade
  /// too, so the test sees that only delete hooks run.
  func writeFleet(_ sim: KubeSim) throws -> String {
    let fleet = sim.directory.file("fleet")
    try writeShopChart(sim.directory, under: "fleet/")
    try sim.directory.write(
      "fleet/chart/templates/service.yaml",
      """
      apiVersion: v1
      kind: Service
      metadata: {name: shop}
      spec:
        selector: {app: shop}
        ports: [{port: 80}]
      """)
    try sim.directory.write(
      "fleet/chart/templates/hooks.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shop-goodbye
        annotations: {"helm.sh/hook": pre-delete, "helm.sh/hook-weight": "-5"}
      ---
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: shop-drain
        annotations: {"helm.sh/hook": pre-delete}
      spec:
        template:
          spec:
            restartPolicy: Never
            containers: [{name: drain, image: "shop-drain:1"}]
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shop-drained
        annotations: {"helm.sh/hook": pre-delete, "helm.sh/hook-weight": "5"}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shop-farewell
        annotations: {"helm.sh/hook": post-delete}
      ---
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shop-welcome
        annotations: {"helm.sh/hook": post-install, "helm.sh/hook-delete-policy": hook-succeeded}
      """)
    try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: retire}
      release: {name: shop, namespace: shop, driver: kube, chart: chart, version: "1.0"}
      clusters:
      \(Self.clusters.map { "  - {name: \($0.name), labels: {env: \($0.labels["env"] ?? "")\($0.labels["canary"] == nil ? "" : ", canary: \"true\"")}, context: \($0.name)}" }.joined(separator: "\n"))
      rollout:
        canary: {selector: canary=true, bake: 0s}
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 5
        clusterTimeout: 60s
        failurePolicy: {maxFailuresPerWave: 0, rollback: failed}
      """)
    return fleet
  }

  var helm: [String: String] {
    get throws { ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)] }
  }

  /// What kubectl lists of the release's kinds in its namespace, as `kind/name` lines.
  func left(_ sim: KubeSim, _ cluster: String) throws -> [String] {
    let listed = try sim.kubectl(
      cluster, ["get", "deployments,services,configmaps,secrets,jobs", "-n", "shop", "-o", "name"])
    #expect(listed.status == 0, "\(listed.stderr)")
    return listed.stdout.split(separator: "\n").map(String.init).sorted()
  }

  @Test func uninstallRetiresTheReleaseFromTwentyClustersAndAKilledRunResumes() throws {
    // u-17's drain Job never finishes until the fault is lifted: the run is killed there.
    let sim = try KubeSim(
      clusters: Self.clusters,
      faults: FaultSet(images: [
        ImageFault(
          match: "shop-drain:1", effect: .neverReady, scope: ClusterScope(clusters: ["u-17"]))
      ]))
    let fleet = try writeFleet(sim)
    let installed = try fleetwave(
      ["rollout", fleet, "--kubeconfig", sim.kubeconfig, "--run", "install"],
      environment: try helm, timeout: 300)
    #expect(installed.status == 0, "\(installed.stdout)\(installed.stderr)")
    #expect(try left(sim, "u-05").contains("deployment.apps/shop"))

    let dryRun = try fleetwave(
      ["uninstall", fleet, "--dry-run", "--kubeconfig", sim.kubeconfig], environment: try helm)
    #expect(dryRun.status == 0)
    #expect(
      dryRun.stdout.hasPrefix(
        "dry run: uninstall shop from 20 clusters of retire in 2 waves, in the plan's order, "
          + "deleting the revision records, driver kube, at most 5 at once; nothing was changed\n"
          + "wave 0 canary (canary): 1 clusters"), "\(dryRun.stdout)")

    let process = try BackgroundProcess(
      BuiltProducts.path("fleetwave"),
      ["uninstall", fleet, "--kubeconfig", sim.kubeconfig, "--run", "retire-1"],
      environment: try helm)
    let stuck = eventually(timeout: 120) {
      (try? sim.client("u-17").get(
        apiVersion: "batch/v1", kind: "Job", namespace: "shop", name: "shop-drain")) != nil
    }
    process.signal(SIGKILL)
    process.wait()
    #expect(stuck)
    #expect(try left(sim, "u-17").contains("deployment.apps/shop"))

    sim.server.faults.faults = FaultSet()
    let resumed = try fleetwave(
      ["resume", "retire-1", "--fleet", fleet], environment: try helm, timeout: 300)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(
      resumed.stdout.hasSuffix("uninstall retire-1: succeeded (20 succeeded)\n"),
      "\(resumed.stdout)")

    // Nothing of the release is left: its objects and revision records are gone; what stays
    // is what helm leaves too, the delete hooks (default policy before-hook-creation) and the
    // namespace's own root CA.
    for cluster in Self.clusters {
      #expect(
        try left(sim, cluster.name) == [
          "configmap/kube-root-ca.crt", "configmap/shop-drained", "configmap/shop-farewell",
          "configmap/shop-goodbye", "job.batch/shop-drain",
        ], "\(cluster.name)")
      // The Deployment's pods go with the emulator's garbage collector, on its own time.
      let collected = eventually {
        (try? sim.kubectl(
          cluster.name, ["get", "pods", "-n", "shop", "-l", "app=shop", "-o", "name"]))?.stdout
          == ""
      }
      #expect(collected, "\(cluster.name)")
    }
    // The hooks ran in weight order, the Job to completion before the next, the post-delete
    // hook last: each object was written after the one before it.
    let client = try sim.client("u-03")
    func version(_ apiVersion: String, _ kind: String, _ name: String) throws -> Int {
      let live = try client.get(apiVersion: apiVersion, kind: kind, namespace: "shop", name: name)
      return Int(live?["metadata"]?["resourceVersion"]?.string ?? "") ?? -1
    }
    let drain = try #require(
      try client.get(apiVersion: "batch/v1", kind: "Job", namespace: "shop", name: "shop-drain"))
    #expect(drain["status"]?["succeeded"] == 1)
    let order = [
      try version("v1", "ConfigMap", "shop-goodbye"), try version("batch/v1", "Job", "shop-drain"),
      try version("v1", "ConfigMap", "shop-drained"),
      try version("v1", "ConfigMap", "shop-farewell"),
    ]
    #expect(order == order.sorted() && Set(order).count == 4, "\(order)")

    let status = try fleetwave(["status", "retire-1", "--fleet", fleet])
    #expect(status.stdout.contains(", driver kube, uninstall, started"), "\(status.stdout)")
    let history = try fleetwave(["history", "--fleet", fleet])
    #expect(
      history.stdout.split(separator: "\n").last?.hasSuffix("kube    uninstall") == true,
      "\(history.stdout)")

    // Uninstalled already: every cluster is not-installed and counts as done.
    let again = try fleetwave(
      [
        "uninstall", fleet, "--kubeconfig", sim.kubeconfig, "--run", "retire-2", "--cluster",
        "u-01",
        "--report-json", sim.directory.file("again.json"),
      ],
      environment: try helm, timeout: 120)
    #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    let report = try JSONReader.parse(
      try String(contentsOfFile: sim.directory.file("again.json"), encoding: .utf8))
    let record = report["clusters"]?.sequence?.first { $0["name"] == "u-01" }
    #expect(record?["toRevision"]?.string == "not-installed", "\(String(describing: record))")
  }
}
