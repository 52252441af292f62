// The controller loop on a ManualClock: rollouts replica by replica, conditions, progress
// deadlines, StatefulSets, DaemonSets and Jobs.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ControllerTests {
  private func deployment(image: String, replicas: Int = 3, deadline: Int = 30) -> String {
    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":"#
      + "\(replicas),\"progressDeadlineSeconds\":\(deadline)"
      + #","selector":{"matchLabels":{"app":"web"}},"#
      + #""template":{"metadata":{"labels":{"app":"web"}},"#
      + #""spec":{"containers":[{"name":"web","image":""#
      + image + #""}]}}}}"#
  }

  private func status(_ sim: SimFixture, _ path: String) throws -> Value {
    sim.server.settle()
    let object = try #require(try HTTPExchange.send("GET", sim.url("sim-0001", path)).json)
    return object["status"] ?? .null
  }

  private func condition(_ status: Value, _ type: String) -> String {
    guard let found = status["conditions"]?.sequence?.first(where: { $0["type"]?.string == type })
    else { return "-" }
    return "\(found["status"]?.string ?? "") \(found["reason"]?.string ?? "")"
  }

  private func summary(_ status: Value) -> String {
    let fields = [
      "observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
    ]
    return fields.map { status[$0]?.scalarText ?? "-" }.joined(separator: " ")
      + " | " + condition(status, "Available") + " | " + condition(status, "Progressing")
  }

  @Test func deploymentRollsOutReplicaByReplicaAndStallsOnABrokenImage() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [ImageFault(match: "*:broken", effect: .neverReady)])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    let collection = "/apis/apps/v1/namespaces/default/deployments"
    let created = try HTTPExchange.send(
      "POST", sim.url("sim-0001", collection), body: deployment(image: "app:1"),
      contentType: "application/json")
    #expect(created.status == 201)
    var seen = [summary(try status(sim, collection + "/web"))]
    // Other writes in between do not hurry the rollout along.
    let relabelled = try HTTPExchange.send(
      "PATCH", sim.url("sim-0001", collection + "/web"),
      body: #"{"metadata":{"labels":{"x":"y"}}}"#,
      contentType: "application/merge-patch+json")
    #expect(relabelled.status == 200)
    #expect(summary(try status(sim, collection + "/web")) == seen[0])
    for _ in 0..<3 {
      clock.advance(by: .seconds(RolloutController.replicaInterval))
      seen.append(summary(try status(sim, collection + "/web")))
    }
    #expect(
      seen == [
        "1 1 1 0 0 | False MinimumReplicasUnavailable | True ReplicaSetUpdated",
        "1 2 2 1 1 | False MinimumReplicasUnavailable | True ReplicaSetUpdated",
        "1 3 3 2 2 | False MinimumReplicasUnavailable | True ReplicaSetUpdated",
        "1 3 3 3 3 | True MinimumReplicasAvailable | True NewReplicaSetAvailable",
      ])

    // A broken image: old pods keep serving, the new one never gets ready, the deadline passes.
    let patched = try HTTPExchange.send(
      "PATCH", sim.url("sim-0001", collection + "/web"),
      body: #"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"app:broken"}]}}}}"#,
      contentType: "application/strategic-merge-patch+json")
    #expect(patched.status == 200)
    #expect(
      summary(try status(sim, collection + "/web"))
        == "2 4 1 3 3 | True MinimumReplicasAvailable | True ReplicaSetUpdated")
    clock.advance(by: .seconds(29))
    #expect(
      summary(try status(sim, collection + "/web"))
        == "2 4 1 3 3 | True MinimumReplicasAvailable | True ReplicaSetUpdated")
    clock.advance(by: .seconds(1))
    let stalled = try status(sim, collection + "/web")
    #expect(
      summary(stalled)
        == "2 4 1 3 3 | True MinimumReplicasAvailable | False ProgressDeadlineExceeded")
    let message = stalled["conditions"]?.sequence?.first { $0["type"] == "Progressing" }?[
      "message"]?.string
    #expect(message?.hasPrefix("ReplicaSet \"web-") == true)
    #expect(message?.hasSuffix("\" has timed out progressing.") == true)

    // The pods tell the same story: three old ones serving, the new one stuck pulling its image.
    let pods = sim.url("sim-0001", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")
    let states = (try HTTPExchange.send("GET", pods).json?["items"]?.sequence ?? []).map {
      ($0.at("status", "containerStatuses")?.sequence?.first?.at("state", "waiting", "reason")?
        .string
        ?? $0.at("status", "phase")?.string ?? "") + " "
        + ($0.at("spec", "containers")?.sequence?.first?["image"]?.string ?? "")
    }
    #expect(
      states.sorted() == [
        "ImagePullBackOff app:broken", "Running app:1", "Running app:1", "Running app:1",
      ])
    let events = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/api/v1/namespaces/default/events"))
    let reasons = (events.json?["items"]?.sequence ?? []).map {
      "\($0.at("involvedObject", "kind")?.string ?? "") \($0["reason"]?.string ?? "")"
    }
    #expect(
      reasons.sorted() == [
        "Deployment ScalingReplicaSet", "Deployment ScalingReplicaSet",
        "Deployment ScalingReplicaSet", "Deployment ScalingReplicaSet", "Pod BackOff", "Pod Failed",
      ])
    #expect(try HTTPExchange.send("DELETE", sim.url("sim-0001", collection + "/web")).status == 200)
    sim.server.settle()
    #expect(try HTTPExchange.send("GET", pods).json?["items"] == [])
  }

  @Test func statefulSetsDaemonSetsAndJobsComplete() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let template =
      #""selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"#
      + #""spec":{"containers":[{"name":"db","image":"db:1"}]}}"#
    let statefulSets = "/apis/apps/v1/namespaces/default/statefulsets"
    let daemonSets = "/apis/apps/v1/namespaces/default/daemonsets"
    let jobs = "/apis/batch/v1/namespaces/default/jobs"
    #expect(
      try HTTPExchange.send(
        "POST", sim.url("sim-0001", statefulSets),
        body:
          #"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"#
          + #""spec":{"replicas":2,"serviceName":"db","#
          + template + "}}",
        contentType: "application/json"
      ).status == 201)
    #expect(
      try HTTPExchange.send(
        "POST", sim.url("sim-0001", daemonSets),
        body: #"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"#
          + template + "}}",
        contentType: "application/json"
      ).status == 201)
    #expect(
      try HTTPExchange.send(
        "POST", sim.url("sim-0001", jobs),
        body:
          #"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate"},"#
          + #""spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"m","#
          + #""image":"m:1"}]}}}}"#,
        contentType: "application/json"
      ).status == 201)

    let job = try status(sim, jobs + "/migrate")
    #expect(job["succeeded"] == 1)
    #expect(condition(job, "Complete") == "True CompletionsReached")

    for _ in 0..<3 {
      sim.server.settle()
      clock.advance(by: .seconds(RolloutController.replicaInterval))
    }
    let sts = try status(sim, statefulSets + "/db")
    #expect(sts["readyReplicas"] == 2)
    #expect(sts["updatedReplicas"] == 2)
    #expect(sts["currentRevision"] == sts["updateRevision"])
    let ds = try status(sim, daemonSets + "/agent")
    #expect(ds["numberReady"] == 3)
    #expect(ds["updatedNumberScheduled"] == 3)
    #expect(ds["desiredNumberScheduled"] == 3)
  }

  @Test func watchStreamsEventsAsJSONLines() throws {
    let clock = ManualClock()
    let sim = try SimFixture(speed: 1, clock: clock)
    let path = "/api/v1/namespaces/default/configmaps"
    // A watch that times out after one second of real time: the initial state arrives as ADDED.
    _ = try HTTPExchange.send(
      "POST", sim.url("sim-0001", path),
      body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"}}"#,
      contentType: "application/json")
    let watch = try HTTPExchange.send(
      "GET", sim.url("sim-0001", path + "?watch=true&timeoutSeconds=1"))
    let lines = watch.body.split(separator: "\n").map { try? JSONReader.parse(String($0)) }
    // The namespace's kube-root-ca.crt is there from the start.
    #expect(lines.map { $0?["type"] } == ["ADDED", "ADDED"])
    #expect(lines.map { $0?.at("object", "metadata", "name") } == ["kube-root-ca.crt", "w"])
    #expect(watch.headers["content-type"] == "application/json")
  }
}

@Suite struct ImageFaultControllerTests {
  @Test func slowImagesTakeLongerAndCrashingOnesLoop() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [
      ImageFault(match: "*:slow", effect: .slow, slowFactor: 3),
      ImageFault(match: "*:crashy", effect: .crashLoop),
    ])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    let collection = "/apis/apps/v1/namespaces/default/deployments"
    func create(_ name: String, _ image: String) throws {
      let body =
        #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":""# + name
        + #""},"spec":{"replicas":2,"selector":{"matchLabels":{"app":""# + name
        + #""}},"template":{"metadata":{"labels":{"app":""# + name
        + #""}},"spec":{"containers":[{"name":"c","image":""# + image + #""}]}}}}"#
      let created = try HTTPExchange.send(
        "POST", sim.url("sim-0001", collection), body: body, contentType: "application/json")
      #expect(created.status == 201)
    }
    func ready(_ name: String) throws -> Value? {
      sim.server.settle()
      return try HTTPExchange.send("GET", sim.url("sim-0001", collection + "/" + name))
        .json?.at("status", "readyReplicas")
    }
    try create("slow", "app:slow")
    try create("crashy", "app:crashy")
    sim.server.settle()
    clock.advance(by: .seconds(2 * RolloutController.replicaInterval))
    #expect(try ready("slow") == 0)
    clock.advance(by: .seconds(RolloutController.replicaInterval))
    #expect(try ready("slow") == 1)
    #expect(try ready("crashy") == 0)
    let pods = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/api/v1/namespaces/default/pods?labelSelector=app%3Dcrashy"))
    let pod = pods.json?["items"]?.sequence?.first
    #expect(pod?.at("status", "phase") == "Running")
    let container = pod?.at("status", "containerStatuses")?.sequence?.first
    #expect(container?.at("state", "waiting", "reason") == "CrashLoopBackOff")
    #expect(container?["restartCount"] == 5)
  }
}
