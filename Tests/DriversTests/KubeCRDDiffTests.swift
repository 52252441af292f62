// A dependency's CRDs installed with the parent's on a first install, as helm installs them,
// and `fleetwave diff` showing CRD changes in a section of their own.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// A CRD of kind `kind` in group `group`, with `shortNames`.
private func crd(_ kind: String, group: String, shortNames: String) -> String {
  let plural = kind.lowercased() + "s"
  return """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: \(plural).\(group)}
    spec:
      group: \(group)
      scope: Namespaced
      names: {plural: \(plural), singular: \(kind.lowercased()), kind: \(kind), shortNames: [\(shortNames)]}
      versions:
        - {name: v1, served: true, storage: true}
    """
}

/// A chart with a CronTab CRD and a dependency, `charts/backup`, with a Backup CRD of its own;
/// each templates an instance of its kind.
private func writeChartWithDependency(_ directory: TemporaryDirectory, cronShortNames: String)
  throws
{
  try directory.write("chart/Chart.yaml", "apiVersion: v2\nname: cron\nversion: 0.1.0\n")
  try directory.write(
    "chart/crds/crontab.yaml",
    crd("CronTab", group: "stable.example.com", shortNames: cronShortNames))
  try directory.write(
    "chart/templates/crontab.yaml",
    "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: nightly}\n")
  try directory.write(
    "chart/charts/backup/Chart.yaml", "apiVersion: v2\nname: backup\nversion: 0.2.0\n")
  try directory.write(
    "chart/charts/backup/crds/backup.yaml",
    crd("Backup", group: "backup.example.com", shortNames: "bk"))
  try directory.write(
    "chart/charts/backup/templates/backup.yaml",
    "apiVersion: backup.example.com/v1\nkind: Backup\nmetadata: {name: daily}\n")
}

@Suite struct KubeCRDDiffTests {
  @Test func aDependencysCRDsAreInstalledAndDiffShowsCRDChangesApart() throws {
    let cluster = Cluster(name: "crd-dep")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-crd-deps")
    defer { fleet.remove() }
    try writeChartWithDependency(fleet, cronShortNames: "ct")
    let release = Release(name: "jobs", namespace: "jobs", driver: .kube, chart: "chart")
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in [:] }
    #expect(
      try driver.renderer.chartCRDs().map { ObjectKey($0).name } == [
        "crontabs.stable.example.com", "backups.backup.example.com",
      ])

    // The first install creates both CRDs before the instances that need them.
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    let client = try sim.client(cluster.name)
    for name in ["crontabs.stable.example.com", "backups.backup.example.com"] {
      let live = try client.get(
        apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", namespace: nil,
        name: name)
      let established = live?["status"]?["conditions"]?.sequence?.first {
        $0["type"]?.string == "Established"
      }
      #expect(established?["status"] == "True", "\(name)")
    }
    #expect(
      try client.get(
        apiVersion: "backup.example.com/v1", kind: "Backup", namespace: "jobs", name: "daily")
        != nil)
    #expect(try driver.diff(cluster) == [])

    // A changed CRD file: the upgrade would not touch it, and diff says so in its own section.
    try writeChartWithDependency(fleet, cronShortNames: "ct, cron")
    let fleetFile = try fleet.write(
      "fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: crds}
      release: {name: jobs, namespace: jobs, driver: kube, chart: chart}
      clusters: [{name: crd-dep, context: crd-dep}]
      """)
    let printed = try fleetwave(
      ["diff", fleetFile, "--kubeconfig", sim.kubeconfig, "--exit-code"],
      environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)])
    #expect(printed.status == 1, "\(printed.stderr)")
    #expect(
      printed.stdout == """
        crd-dep: CRDs, as the cluster has them and as the chart's crds/ has them (created on a first install only, never upgraded):
        --- live/crd-dep/CustomResourceDefinition/crontabs.stable.example.com
        +++ chart/crd-dep/CustomResourceDefinition/crontabs.stable.example.com
        @@ -9,6 +9,7 @@
             plural: crontabs
             shortNames:
             - ct
        +    - cron
             singular: crontab
           scope: Namespaced
           versions:

        """)
  }
}
