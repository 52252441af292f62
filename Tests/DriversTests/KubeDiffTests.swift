// `fleetwave diff` for the kube driver: the line diff itself, and rendered against live objects
// on fleet-sim with Secret data masked.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct KubeDiffTests {
  @Test func unifiedDiffsHaveHunksWithThreeLinesOfContext() {
    #expect(KubeDiff.unified(["a", "b"], ["a", "b"], from: "x", to: "y") == nil)
    let old = (1...12).map { "line \($0)" }
    var new = old
    new[1] = "LINE 2"
    new.remove(at: 10)
    new.append("line 13")
    #expect(
      KubeDiff.unified(old, new, from: "live", to: "rendered") == """
        --- live
        +++ rendered
        @@ -1,5 +1,5 @@
         line 1
        -line 2
        +LINE 2
         line 3
         line 4
         line 5
        @@ -8,5 +8,5 @@
         line 8
         line 9
         line 10
        -line 11
         line 12
        +line 13

        """)
    #expect(
      KubeDiff.unified([], ["a"], from: "/dev/null", to: "new")
        == "--- /dev/null\n+++ new\n@@ -0,0 +1 @@\n+a\n")
    #expect(
      KubeDiff.unified(["a"], [], from: "old", to: "/dev/null")
        == "--- old\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n")
  }

  @Test func changedObjectsShowAsDiffsWithSecretDataMasked() throws {
    let cluster = Cluster(name: "edge-3")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-diff")
    defer { fleet.remove() }
    try FileManager.default.createDirectory(
      atPath: fleet.file("m"), withIntermediateDirectories: true)
    func write(mode: String, password: String) throws {
      _ = try fleet.write(
        "m/objects.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {mode: \(mode), region: eu}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        type: Opaque
        data: {password: \(Data(password.utf8).base64EncodedString()), user: YWRtaW4=}
        """)
    }
    try write(mode: "fast", password: "hunter2")
    let driver = try sim.driver(
      Release(name: "edge", namespace: "edge", driver: .kube, manifests: "m"),
      fleetDirectory: fleet.path
    ) { _ in [:] }
    // Nothing is there yet: everything would be created.
    let fresh = try driver.diff(cluster)
    // In apply order: Secrets before the ConfigMaps.
    #expect(fresh.map(\.key.description) == ["Secret edge/creds", "ConfigMap edge/settings"])
    #expect(
      fresh.last?.text.hasPrefix("--- /dev/null\n+++ rendered/edge-3/ConfigMap/edge/settings\n")
        == true)

    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    #expect(try driver.diff(cluster) == [])

    try write(mode: "slow", password: "correct horse")
    let diffs = try driver.diff(cluster)
    #expect(
      diffs.map(\.text) == [
        """
        --- live/edge-3/Secret/edge/creds
        +++ rendered/edge-3/Secret/edge/creds
        @@ -1,6 +1,6 @@
         apiVersion: v1
         data:
        -  password: '*** (before)'
        +  password: '*** (after)'
           user: '***'
         kind: Secret
         metadata:

        """,
        """
        --- live/edge-3/ConfigMap/edge/settings
        +++ rendered/edge-3/ConfigMap/edge/settings
        @@ -1,6 +1,6 @@
         apiVersion: v1
         data:
        -  mode: fast
        +  mode: slow
           region: eu
         kind: ConfigMap
         metadata:

        """,
      ])
    let all = diffs.map(\.text).joined()
    for secret in [
      "hunter2", "correct horse", "YWRtaW4=", Data("hunter2".utf8).base64EncodedString(),
    ] {
      #expect(!all.contains(secret))
    }
  }
}
