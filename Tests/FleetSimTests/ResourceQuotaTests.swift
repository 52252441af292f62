// ResourceQuota admission with the real kubectl: the server's refusals word for word,
// `status.used` following the namespace, and a Deployment whose pods the quota refuses.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ResourceQuotaTests {
  private func pod(_ name: String, cpu: String?) -> String {
    let resources = cpu.map { "\n    resources: {requests: {cpu: \($0)}}" } ?? ""
    return """
      apiVersion: v1
      kind: Pod
      metadata: {name: \(name), namespace: pay}
      spec:
        containers:
        - name: app
          image: nginx:1.27\(resources)

      """
  }

  @Test func createsPastAQuotaAreRefusedWithTheServersMessage() throws {
    let sim = try SimFixture()
    #expect(try sim.kubectl(["create", "namespace", "pay"]).status == 0)
    let quota = try sim.kubectl([
      "create", "quota", "compute", "-n", "pay", "--hard=pods=2,requests.cpu=1,configmaps=2",
    ])
    #expect(quota.stdout == "resourcequota/compute created\n", "\(quota.stderr)")

    let bare = try sim.kubectl(["apply", "-f", "-"], input: pod("bare", cpu: nil))
    #expect(bare.status == 1)
    #expect(
      bare.stderr
        == "Error from server (Forbidden): error when creating \"STDIN\": pods \"bare\" is "
        + "forbidden: failed quota: compute: must specify requests.cpu for: app\n")
    for name in ["one", "two"] {
      let created = try sim.kubectl(["apply", "-f", "-"], input: pod(name, cpu: "400m"))
      #expect(created.stdout == "pod/\(name) created\n", "\(created.stderr)")
    }
    let third = try sim.kubectl(["apply", "-f", "-"], input: pod("three", cpu: "400m"))
    #expect(
      third.stderr
        == "Error from server (Forbidden): error when creating \"STDIN\": pods \"three\" is "
        + "forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=400m, used: "
        + "pods=2,requests.cpu=800m, limited: pods=2,requests.cpu=1\n")
    // kube-root-ca.crt counts, as on a real cluster: one more ConfigMap fits, not two.
    #expect(try sim.kubectl(["create", "configmap", "a", "-n", "pay"]).status == 0)
    let configMap = try sim.kubectl(["create", "configmap", "b", "-n", "pay"])
    #expect(
      configMap.stderr
        == "error: failed to create configmap: configmaps \"b\" is forbidden: exceeded quota: "
        + "compute, requested: configmaps=1, used: configmaps=2, limited: configmaps=2\n")

    let used = try sim.kubectl([
      "get", "quota", "compute", "-n", "pay", "-o", "jsonpath={.status.used}",
    ])
    #expect(used.stdout == #"{"configmaps":"2","pods":"2","requests.cpu":"800m"}"#)
    #expect(try sim.kubectl(["delete", "pod", "one", "-n", "pay"]).status == 0)
    let after = try sim.kubectl([
      "get", "quota", "compute", "-n", "pay", "-o", "jsonpath={.status.used}",
    ])
    #expect(after.stdout == #"{"configmaps":"2","pods":"1","requests.cpu":"400m"}"#)
    let table = try sim.kubectl(["get", "quota", "-n", "pay", "--no-headers"])
    #expect(
      table.stdout.hasSuffix(
        "   configmaps: 2/2, pods: 1/2, requests.cpu: 400m/1   \n"), "\(table.stdout)")
  }

  @Test func aDeploymentsPodsStopAtTheQuotaWithFailedCreate() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    #expect(try sim.kubectl(["create", "quota", "pods", "--hard=pods=2"]).status == 0)
    let file = try sim.directory.write("web.yaml", manifest(image: "nginx:1.27"))
    #expect(try sim.kubectl(["apply", "-f", file]).status == 0)
    for _ in 0..<5 {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    sim.server.settle()
    let deployment = try #require(
      try JSONReader.parse(try sim.kubectl(["get", "deployment", "web", "-o", "json"]).stdout))
    #expect(deployment.at("status", "readyReplicas") == 2)
    let failure = deployment.at("status", "conditions")?.sequence?.first {
      $0["type"] == "ReplicaFailure"
    }
    let hash = try #require(
      try sim.kubectl([
        "get", "pods", "-o", "jsonpath={.items[0].metadata.labels.pod-template-hash}",
      ])
      .stdout.split(separator: " ").first)
    let refusal =
      "pods \"web-\(hash)-\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, "
      + "limited: pods=2"
    #expect(failure?["status"] == "True")
    #expect(failure?["reason"] == "FailedCreate")
    #expect(failure?["message"] == .string(refusal))
    let pods = try sim.kubectl(["get", "pods", "-o", "name"]).stdout
    #expect(pods.split(separator: "\n").count == 2)
    let events = try sim.kubectl([
      "get", "events", "--field-selector", "reason=FailedCreate", "-o",
      "jsonpath={.items[*].involvedObject.kind} {.items[*].message}",
    ])
    #expect(events.stdout == "ReplicaSet Error creating: " + refusal)

    // Room again: the third pod is created and the Deployment completes.
    #expect(
      try sim.kubectl(["patch", "quota", "pods", "-p", #"{"spec":{"hard":{"pods":"3"}}}"#]).status
        == 0)
    for _ in 0..<3 {
      clock.advance(by: .seconds(RolloutController.replicaInterval))
      sim.server.settle()
    }
    let ready = try sim.kubectl([
      "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}",
    ])
    #expect(ready.stdout == "3")
  }

  @Test func aStatefulSetStopsAtTheQuotaWithTheControllersEvent() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    #expect(try sim.kubectl(["create", "quota", "pods", "--hard=pods=2"]).status == 0)
    let statefulSet = """
      apiVersion: apps/v1
      kind: StatefulSet
      metadata: {name: db}
      spec:
        replicas: 3
        serviceName: db
        selector: {matchLabels: {app: db}}
        template:
          metadata: {labels: {app: db}}
          spec: {containers: [{name: db, image: "postgres:17"}]}

      """
    #expect(try sim.kubectl(["apply", "-f", "-"], input: statefulSet).status == 0)
    for _ in 0..<5 {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    sim.server.settle()
    let ready = try sim.kubectl([
      "get", "statefulset", "db", "-o", "jsonpath={.status.readyReplicas}",
    ])
    #expect(ready.stdout == "2")
    #expect(try sim.kubectl(["get", "pods", "-o", "name"]).stdout == "pod/db-0\npod/db-1\n")
    let events = try sim.kubectl([
      "get", "events", "--field-selector", "reason=FailedCreate", "-o",
      "jsonpath={.items[*].involvedObject.kind} {.items[*].message}",
    ])
    #expect(
      events.stdout
        == "StatefulSet create Pod db-2 in StatefulSet db failed error: pods \"db-2\" is "
        + "forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2")
  }

  @Test func aPodThatHasEndedFreesItsPlace() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    #expect(try sim.kubectl(["create", "quota", "one-pod", "--hard=pods=1"]).status == 0)
    let run = ["run", "--image=busybox:1.36", "--restart=Never"]
    #expect(try sim.kubectl(run + ["first"]).stdout == "pod/first created\n")
    let refused = try sim.kubectl(run + ["second"])
    #expect(
      refused.stderr
        == "Error from server (Forbidden): pods \"second\" is forbidden: exceeded quota: one-pod, "
        + "requested: pods=1, used: pods=1, limited: pods=1\n")
    for _ in 0..<3 {
      clock.advance(by: .seconds(RolloutController.replicaInterval))
      sim.server.settle()
    }
    let phase = try sim.kubectl(["get", "pod", "first", "-o", "jsonpath={.status.phase}"])
    #expect(phase.stdout == "Succeeded")
    let used = try sim.kubectl(["get", "quota", "one-pod", "-o", "jsonpath={.status.used.pods}"])
    #expect(used.stdout == "0")
    #expect(try sim.kubectl(run + ["second"]).stdout == "pod/second created\n")
  }

  @Test func quantitiesPrintAsTheAPIServerPrintsThem() {
    let cases: [(String, String)] = [
      ("500m", "500m"), ("1", "1"), ("1.5", "1500m"), ("2000", "2k"), ("128Mi", "128Mi"),
      ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("1G", "1G"), ("0", "0"),
    ]
    for (text, canonical) in cases {
      #expect(Quantity(text)?.text == canonical, "\(text)")
    }
    #expect(((Quantity("250m") ?? .zero) + (Quantity("750m") ?? .zero)).text == "1")
    #expect(Quantity("lots") == nil)
    #expect(Quantity("-1") == nil)
  }
}
