// Fidelity gaps closed against the real kubectl: namespace deletion resetting the controllers.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct SimGapsTests {
  /// The shared web manifest (a Deployment and two ConfigMaps) in namespace `shop`.
  private func shopManifest(_ sim: SimFixture, image: String) throws -> String {
    try sim.directory.write(
      "web.yaml",
      manifest(image: image).replacingOccurrences(of: "namespace: default", with: "namespace: shop")
    )
  }

  private static let applied =
    "deployment.apps/web created\nconfigmap/web-config created\nconfigmap/other created\n"

  /// The deployment's readiness as kubectl shows it, without the wall-clock AGE column.
  private func readiness(_ sim: SimFixture) throws -> String {
    sim.server.settle()
    let listed = try sim.kubectl([
      "get", "deployments", "-n", "shop", "-o",
      "custom-columns=NAME:.metadata.name,READY:.status.readyReplicas,"
        + "UPDATED:.status.updatedReplicas",
    ])
    return listed.stdout + listed.stderr
  }

  @Test func aReCreatedNamespaceStartsFresh() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let file = try shopManifest(sim, image: "app:1")
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == Self.applied)
    for _ in 0..<3 {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    #expect(try readiness(sim) == "NAME   READY   UPDATED\nweb    3       3\n")

    let deleted = try sim.kubectl(["delete", "namespace", "shop"])
    #expect(deleted.stdout == "namespace \"shop\" deleted\n", "\(deleted.stderr)")
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    // The controller manager's per-namespace objects come back with the namespace.
    let defaults = try sim.kubectl([
      "get", "serviceaccounts,configmaps", "-n", "shop", "-o", "name",
    ])
    #expect(
      defaults.stdout == "serviceaccount/default\nconfigmap/kube-root-ca.crt\n",
      "\(defaults.stderr)")
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == Self.applied)
    // Nothing carried over: no replica is ready before the clock moves, one pod is starting.
    let fresh = try readiness(sim)
    #expect(fresh == "NAME   READY   UPDATED\nweb    0       1\n", "\(fresh)")
    let pods = try sim.kubectl([
      "get", "pods", "-n", "shop", "-o",
      "custom-columns=PHASE:.status.phase,READY:.status.containerStatuses[0].ready",
    ])
    #expect(pods.stdout == "PHASE     READY\nPending   false\n", "\(pods.stderr)")
    clock.advance(by: .seconds(RolloutController.replicaInterval))
    let first = try readiness(sim)
    #expect(first == "NAME   READY   UPDATED\nweb    1       2\n", "\(first)")

  }

  @Test func podEventsNameThePodSoDescribeAndSortByFindThem() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [ImageFault(match: "*:broken", effect: .neverReady)])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    let file = try shopManifest(sim, image: "app:broken")
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == Self.applied)
    sim.server.settle()
    // At the progress deadline the controller looks again and the kubelet's events repeat, so
    // the pod's events are seen last and sort after the deployment's.
    clock.advance(by: .seconds(600))
    sim.server.settle()
    let pod = try sim.kubectl(["get", "pods", "-n", "shop", "-o", "name"]).stdout
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let described = try sim.kubectl(["describe", "-n", "shop", pod])
    let events = described.stdout.components(separatedBy: "Events:").last ?? ""
    let pullFailure =
      #"Failed to pull image "app:broken": rpc error: code = NotFound desc = failed to pull "#
      + #"and unpack image "app:broken": not found"#
    // The emulator's clock runs ahead of the wall clock kubectl reckons ages by.
    #expect(
      events == """

          Type     Reason   Age                            From     Message
          ----     ------   ----                           ----     -------
          Warning  Failed   <invalid> (x2 over <invalid>)  kubelet  \(pullFailure)
          Normal   BackOff  <invalid> (x2 over <invalid>)  kubelet  Back-off pulling image "app:broken"

        """, "\(described.stderr)")
    let sorted = try sim.kubectl([
      "get", "events", "-n", "shop", "--sort-by=.lastTimestamp", "-o",
      "custom-columns=LAST:.lastTimestamp,REASON:.reason,KIND:.involvedObject.kind",
    ])
    #expect(
      sorted.stdout == """
        LAST                   REASON              KIND
        2027-01-15T08:00:00Z   ScalingReplicaSet   Deployment
        2027-01-15T08:10:00Z   Failed              Pod
        2027-01-15T08:10:00Z   BackOff             Pod

        """, "\(sorted.stderr)")
    let table = try sim.kubectl(["get", "events", "-n", "shop", "--sort-by=.lastTimestamp"])
    let padding = String(repeating: " ", count: max(0, pod.count - "deployment/web".count))
    #expect(
      table.stdout == """
        LAST SEEN   TYPE      REASON              OBJECT\(String(repeating: " ", count: pod.count - 3))MESSAGE
        10m         Normal    ScalingReplicaSet   deployment/web\(padding)   Scaled up replica set web-z57rhh2l65 from 0 to 1
        0s          Warning   Failed              \(pod)   \(pullFailure)
        0s          Normal    BackOff             \(pod)   Back-off pulling image "app:broken"

        """, "\(table.stderr)")
  }

  @Test func tablesCarryWholeObjectsWhenAskedAndSingleGetsPrintAsTables() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    #expect(try sim.kubectl(["apply", "-f", try shopManifest(sim, image: "app:1")]).status == 0)
    let api = try sim.kubectl([
      "create", "deployment", "api", "-n", "shop", "--image=app:1", "--replicas=5",
    ])
    #expect(api.stdout == "deployment.apps/api created\n", "\(api.stderr)")
    sim.server.settle()
    let sorted = try sim.kubectl(["get", "deployments", "-n", "shop", "--sort-by=.spec.replicas"])
    #expect(
      sorted.stdout == """
        NAME   READY   UP-TO-DATE   AVAILABLE   AGE
        web    0/3     1            0           0s
        api    0/5     1            0           0s

        """, "\(sorted.stderr)")
    let reversed = try sim.kubectl([
      "get", "deployments", "-n", "shop", "--sort-by=.metadata.name", "-o", "name",
    ])
    #expect(reversed.stdout == "deployment.apps/api\ndeployment.apps/web\n")
    let single = try sim.kubectl(["get", "deployment", "web", "-n", "shop"])
    #expect(
      single.stdout
        == "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    0/3     1            0           0s\n",
      "\(single.stderr)")
    let refused = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/apis/apps/v1/namespaces/shop/deployments?includeObject=All"),
      headers: ["Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"])
    #expect(refused.status == 400)
    #expect(
      refused.json?["message"]
        == #"includeObject: Unsupported value: "All": supported values: "Metadata", "None", "Object""#
    )
  }

  @Test func theProgressDeadlineRunsAtTheSimulatedSpeed() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [ImageFault(match: "*:broken", effect: .neverReady)])
    let sim = try SimFixture(speed: 10, clock: clock, faults: faults)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    let file = try shopManifest(sim, image: "app:broken")
    #expect(try sim.kubectl(["apply", "-f", file]).stdout == Self.applied)
    sim.server.settle()
    let progressing = [
      "get", "deployment", "web", "-n", "shop", "-o",
      #"jsonpath={.status.conditions[?(@.type=="Progressing")].reason}"#,
    ]
    // The default 600 s deadline is 60 s of the emulator's clock at speed 10.
    clock.advance(by: .seconds(59))
    sim.server.settle()
    #expect(try sim.kubectl(progressing).stdout == "ReplicaSetUpdated")
    clock.advance(by: .seconds(1))
    sim.server.settle()
    #expect(try sim.kubectl(progressing).stdout == "ProgressDeadlineExceeded")
    let rollout = try sim.kubectl(["rollout", "status", "deployment/web", "-n", "shop"])
    #expect(rollout.status == 1)
    #expect(
      rollout.stderr == "error: deployment \"web\" exceeded its progress deadline\n",
      "\(rollout.stdout)")
  }
}
