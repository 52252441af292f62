// Revision history as the real kubectl reads it: a Deployment's ReplicaSets, a StatefulSet's
// ControllerRevisions, `kubectl rollout history` and `rollout undo`.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct RolloutHistoryTests {
  /// Lets the controller take `steps` replica intervals, so a rollout of that many replicas ends.
  private func run(_ sim: SimFixture, _ clock: ManualClock, steps: Int = 4) {
    for _ in 0..<steps {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    sim.server.settle()
  }

  private func output(_ result: ProcessResult) -> String { result.stdout + result.stderr }

  private static let history12 =
    "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"

  @Test func aDeploymentRollsThroughReplicaSetsThatHistoryListsAndUndoRestores() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let created = try sim.kubectl(["create", "deployment", "web", "--image=web:1", "--replicas=2"])
    #expect(output(created) == "deployment.apps/web created\n")
    run(sim, clock)
    #expect(
      output(try sim.kubectl(["set", "image", "deploy/web", "web=web:2"]))
        == "deployment.apps/web image updated\n")
    // Mid-rollout: the new ReplicaSet scales up while the old one still serves.
    sim.server.settle()
    clock.advance(by: .seconds(RolloutController.replicaInterval))
    sim.server.settle()
    let columns =
      "custom-columns=NAME:.metadata.name,DESIRED:.spec.replicas,READY:.status.readyReplicas,"
      + "REVISION:.metadata.annotations.deployment\\.kubernetes\\.io/revision,"
      + "OWNER:.metadata.ownerReferences[0].name"
    let midway = try sim.kubectl(["get", "replicasets", "-o", columns])
    #expect(
      output(midway) == """
        NAME             DESIRED   READY   REVISION   OWNER
        web-fcz886tcjg   2         1       2          web
        web-wmqnbst42q   1         1       1          web

        """)
    run(sim, clock)
    #expect(
      output(try sim.kubectl(["rollout", "status", "deploy/web", "--timeout=10s"]))
        == "deployment \"web\" successfully rolled out\n")
    let wide = try sim.kubectl(["get", "replicasets", "-o", "wide"])
    #expect(
      output(wide) == """
        NAME             DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES   SELECTOR
        web-fcz886tcjg   2         2         2       10s   web          web:2    app=web,pod-template-hash=fcz886tcjg
        web-wmqnbst42q   0         0         0       18s   web          web:1    app=web,pod-template-hash=wmqnbst42q

        """)
    let deployment = try sim.kubectl(["get", "deployment", "web", "-o", "wide"])
    #expect(
      output(deployment) == """
        NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES   SELECTOR
        web    2/2     2            2           18s   web          web:2    app=web

        """)
    let pods = try sim.kubectl([
      "get", "pods", "-o",
      "custom-columns=KIND:.metadata.ownerReferences[0].kind,"
        + "OWNER:.metadata.ownerReferences[0].name,HASH:.metadata.labels.pod-template-hash",
    ])
    #expect(
      output(pods) == """
        KIND         OWNER            HASH
        ReplicaSet   web-fcz886tcjg   fcz886tcjg
        ReplicaSet   web-fcz886tcjg   fcz886tcjg

        """)
    #expect(output(try sim.kubectl(["rollout", "history", "deploy/web"])) == Self.history12)

    // kubectl sends the old ReplicaSet's template back as a JSON patch; it is the same template,
    // so the old ReplicaSet comes back under a new revision number.
    #expect(
      output(try sim.kubectl(["rollout", "undo", "deploy/web"]))
        == "deployment.apps/web rolled back\n")
    run(sim, clock)
    #expect(
      output(try sim.kubectl(["rollout", "history", "deploy/web"]))
        == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n")
    let back = try sim.kubectl(["get", "replicasets", "-o", columns])
    #expect(
      output(back) == """
        NAME             DESIRED   READY    REVISION   OWNER
        web-fcz886tcjg   0         <none>   2          web
        web-wmqnbst42q   2         2        3          web

        """)
    let image = try sim.kubectl([
      "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}",
    ])
    #expect(output(image) == "web:1")
    #expect(
      output(try sim.kubectl(["rollout", "undo", "deploy/web", "--to-revision=3"]))
        == "deployment.apps/web skipped rollback (current template already matches revision 3)\n")
    #expect(
      output(try sim.kubectl(["rollout", "undo", "deploy/web", "--to-revision=7"]))
        == "error: unable to find specified revision 7 in history\n")

    // The garbage collector's part: the ReplicaSets and pods go with the Deployment.
    #expect(
      output(try sim.kubectl(["delete", "deployment", "web"]))
        == "deployment.apps \"web\" deleted\n")
    sim.server.settle()
    #expect(
      output(try sim.kubectl(["get", "replicasets,pods"]))
        == "No resources found in default namespace.\n")
  }

  @Test func statefulSetRevisionsAreControllerRevisionsThatUndoAppliesBack() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let file = try sim.directory.write(
      "db.yaml",
      """
      apiVersion: apps/v1
      kind: StatefulSet
      metadata: {name: db, namespace: default}
      spec:
        replicas: 2
        serviceName: db
        selector: {matchLabels: {app: db}}
        template:
          metadata: {labels: {app: db}}
          spec: {containers: [{name: db, image: "pg:1"}]}
      """)
    #expect(output(try sim.kubectl(["apply", "-f", file])) == "statefulset.apps/db created\n")
    run(sim, clock)
    #expect(
      output(try sim.kubectl(["set", "image", "sts/db", "db=pg:2"]))
        == "statefulset.apps/db image updated\n")
    run(sim, clock)
    let revisions = try sim.kubectl(["get", "controllerrevisions"])
    #expect(
      output(revisions) == """
        NAME            CONTROLLER            REVISION   AGE
        db-k8cjfdlnmk   statefulset.apps/db   2          8s
        db-vqzcxz8cgp   statefulset.apps/db   1          16s

        """)
    #expect(
      output(try sim.kubectl(["rollout", "history", "sts/db"]))
        == "statefulset.apps/db \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")
    #expect(
      output(try sim.kubectl(["rollout", "undo", "sts/db"])) == "statefulset.apps/db rolled back\n")
    run(sim, clock)
    #expect(
      output(try sim.kubectl(["rollout", "history", "sts/db"]))
        == "statefulset.apps/db \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n")
    let image = try sim.kubectl([
      "get", "sts", "db", "-o",
      "jsonpath={.spec.template.spec.containers[0].image} {.status.updateRevision}",
    ])
    #expect(output(image) == "pg:1 db-vqzcxz8cgp")
    #expect(
      output(try sim.kubectl(["delete", "sts", "db"])) == "statefulset.apps \"db\" deleted\n")
    sim.server.settle()
    #expect(
      output(try sim.kubectl(["get", "controllerrevisions,pods"]))
        == "No resources found in default namespace.\n")
  }
}
