// A chart's `crds/` in the kube driver: installed first on the first install and waited until
// established, never touched by an upgrade; the chart's custom resources applied after them.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// A chart with a CronTab CRD in `crds/` (short names `shortNames`) and a CronTab in templates/.
private func writeCRDChart(_ directory: TemporaryDirectory, shortNames: String) throws {
  try directory.write("chart/Chart.yaml", "apiVersion: v2\nname: cron\nversion: 0.1.0\n")
  try directory.write(
    "chart/crds/crontab.yaml",
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: crontabs.stable.example.com}
    spec:
      group: stable.example.com
      scope: Namespaced
      names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [\(shortNames)]}
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties: {cronSpec: {type: string}}
    """)
  // Templated only where helm templates: crds/ is read as it is.
  try directory.write(
    "chart/templates/crontab.yaml",
    """
    apiVersion: stable.example.com/v1
    kind: CronTab
    metadata: {name: "{{ .Release.Name }}-nightly"}
    spec: {cronSpec: "{{ .Values.schedule }}"}
    """)
}

/// Creates a CRD of kind CronTab in group stable.example.com under `plural`, as someone other
/// than the chart would.
private func createCronTabCRD(_ client: KubeClient, plural: String) throws {
  try client.create(
    [
      "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "metadata": ["name": .string("\(plural).stable.example.com")],
      "spec": [
        "group": "stable.example.com", "scope": "Namespaced",
        "names": ["plural": .string(plural), "kind": "CronTab"],
        "versions": [["name": "v1", "served": true, "storage": true]],
      ],
    ])
}

@Suite struct KubeCRDTests {
  @Test func chartCRDsAreInstalledFirstAndNeverUpgraded() throws {
    let cluster = Cluster(name: "crd-1")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-crds")
    defer { fleet.remove() }
    try writeCRDChart(fleet, shortNames: "ct")
    let release = Release(name: "jobs", namespace: "jobs", driver: .kube, chart: "chart")
    let client = try sim.client(cluster.name)

    let v1 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["schedule": "0 2 * * *"] }
    #expect(try finish { v1.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    let crd = try #require(
      try client.get(
        apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", namespace: nil,
        name: "crontabs.stable.example.com"))
    let established = crd["status"]?["conditions"]?.sequence?.first {
      $0["type"]?.string == "Established"
    }
    #expect(established?["status"] == "True")
    let instance = try client.get(
      apiVersion: "stable.example.com/v1", kind: "CronTab", namespace: "jobs", name: "jobs-nightly")
    #expect(instance?["spec"]?["cronSpec"] == "0 2 * * *")

    // An upgrade applies the new CronTab but leaves the CRD as installed, a changed file too.
    try writeCRDChart(fleet, shortNames: "ct, cron")
    let v2 = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["schedule": "0 3 * * *"] }
    #expect(try finish { v2.upgrade(call(cluster), from: "1", completion: $0) }.get() == "2")
    let after = try client.get(
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", namespace: nil,
      name: "crontabs.stable.example.com")
    #expect(after?["metadata"]?["resourceVersion"] == crd["metadata"]?["resourceVersion"])
    #expect(after?["spec"]?["names"]?["shortNames"] == ["ct"])
    let upgraded = try client.get(
      apiVersion: "stable.example.com/v1", kind: "CronTab", namespace: "jobs", name: "jobs-nightly")
    #expect(upgraded?["spec"]?["cronSpec"] == "0 3 * * *")
  }

  @Test func aCRDWhoseNamesAreTakenFailsTheInstallNamingTheConflict() throws {
    let cluster = Cluster(name: "crd-2")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-crds")
    defer { fleet.remove() }
    try writeCRDChart(fleet, shortNames: "ct")
    // Another CRD of the group already holds the kind CronTab.
    try createCronTabCRD(sim.client(cluster.name), plural: "cronjobs")
    let release = Release(name: "jobs", namespace: "jobs", driver: .kube, chart: "chart")
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["schedule": "x"] }
    let result = try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }
    guard case .failure(let error) = result else {
      Issue.record("the install succeeded: \(result)")
      return
    }
    #expect(
      error.message
        == "CRD crontabs.stable.example.com names not accepted: \"CronTabList\" is already in use")
  }
}

@Suite struct KubeCapabilitiesTests {
  @Test func eachClusterRendersWithItsOwnVersionAndAPIVersions() throws {
    let clusters = [
      Cluster(name: "old", labels: ["fleet-sim/kube-version": "1.29.4"]),
      Cluster(name: "crd"), Cluster(name: "plain-a"), Cluster(name: "plain-b"),
    ]
    let sim = try KubeSim(clusters: clusters)
    let fleet = try TemporaryDirectory("kube-capabilities")
    defer { fleet.remove() }
    try fleet.write("chart/Chart.yaml", "apiVersion: v2\nname: caps\nversion: 0.1.0\n")
    try fleet.write(
      "chart/templates/caps.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: caps}
      data:
        version: "{{ .Capabilities.KubeVersion.Version }}"
        crontabs: "{{ .Capabilities.APIVersions.Has "stable.example.com/v1" }}"
        {{- if semverCompare "<1.30-0" .Capabilities.KubeVersion.Version }}
        legacy: "true"
        {{- end }}
      """)
    try createCronTabCRD(sim.client("crd"), plural: "crontabs")
    let release = Release(name: "caps", namespace: "caps", driver: .kube, chart: "chart")
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in [:] }
    for cluster in clusters {
      #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    }
    func data(_ cluster: String) throws -> Value? {
      try sim.client(cluster).get(
        apiVersion: "v1", kind: "ConfigMap", namespace: "caps", name: "caps")?[
          "data"]
    }
    #expect(try data("old") == ["version": "v1.29.4", "crontabs": "false", "legacy": "true"])
    #expect(try data("crd") == ["version": "v1.32.0", "crontabs": "true"])
    #expect(try data("plain-a") == ["version": "v1.32.0", "crontabs": "false"])
    #expect(try data("plain-b") == ["version": "v1.32.0", "crontabs": "false"])
    // plain-a and plain-b have the same capabilities and values: one render for both.
    #expect(driver.renderer.cache.renders == 3)
  }
}
