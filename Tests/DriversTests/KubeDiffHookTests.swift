// `diff` and hooks: hook changes are compared with what the deployed revision recorded and
// kept apart from the release's objects; test hooks are never compared.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct KubeDiffHookTests {
  @Test func hookChangesComeApartFromObjectsAndTestHooksAreLeftOut() throws {
    let cluster = Cluster(name: "diff-hooks")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-diff-hooks")
    defer { fleet.remove() }
    try writeShopChart(fleet)
    func hooks(migrate: String, test: String) throws {
      try fleet.write(
        "chart/templates/hooks.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: shop-migrate
          annotations: {"helm.sh/hook": pre-upgrade}
        data: {step: "\(migrate)"}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: shop-test
          annotations: {"helm.sh/hook": test}
        spec:
          containers: [{name: t, image: "check:\(test)"}]
        """)
    }
    try hooks(migrate: "one", test: "1")
    let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(try driver.diff(cluster) == [])

    // Only the hooks change: the pre-upgrade hook shows, against the recorded one; the test
    // hook's change does not.
    try hooks(migrate: "two", test: "2")
    // A new driver: one driver renders each distinct input once.
    let changed = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    let diffs = try changed.diff(cluster)
    #expect(diffs.map(\.key.description) == ["ConfigMap shop/shop-migrate"])
    #expect(diffs.map(\.isHook) == [true])
    #expect(
      diffs.first?.text == """
        --- recorded/diff-hooks/ConfigMap/shop/shop-migrate
        +++ rendered/diff-hooks/ConfigMap/shop/shop-migrate
        @@ -1,6 +1,6 @@
         apiVersion: v1
         data:
        -  step: one
        +  step: two
         kind: ConfigMap
         metadata:
           annotations:

        """)

    // From the command line, the hook diff comes in its own section.
    let fleetFile = try fleet.write(
      "fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: hooks}
      release: {name: shop, namespace: shop, driver: kube, chart: chart}
      clusters: [{name: diff-hooks, context: diff-hooks}]
      """)
    let printed = try fleetwave(
      ["diff", fleetFile, "--kubeconfig", sim.kubeconfig],
      environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)])
    #expect(printed.status == 0, "\(printed.stderr)")
    #expect(
      printed.stdout.hasPrefix(
        "diff-hooks: hooks, as recorded by the deployed revision and as rendered:\n"
          + "--- recorded/diff-hooks/ConfigMap/shop/shop-migrate\n"), "\(printed.stdout)")
  }
}
