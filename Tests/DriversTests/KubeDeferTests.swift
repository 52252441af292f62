// `onUnreachable` end to end: the built binary rolls out to fleet-sim while one virtual
// cluster drops every connection (fleet-sim's `unreachable` API fault) from the start of its
// wave until the test lifts the fault: past its first retry, 10 s into the wave. `defer`
// waits it out and succeeds; `fail` fails it at once.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct KubeDeferTests {
  let clusters = [
    Cluster(name: "edge-a", labels: ["env": "prod"]),
    Cluster(name: "edge-b", labels: ["env": "prod"]),
  ]

  func writeFleet(_ sim: KubeSim, onUnreachable: String) throws -> String {
    let fleet = sim.directory.file("fleet-\(onUnreachable)")
    try copyDemoChart(into: fleet)
    _ = try sim.directory.write(
      "fleet-\(onUnreachable)/values.yaml",
      "image: {repository: shop/checkout, tag: \"1.0.0\"}\nreplicaCount: 1\n")
    _ = try sim.directory.write(
      "fleet-\(onUnreachable)/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: edge}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 1.0.0}
      values: [values.yaml]
      clusters:
        - {name: edge-a, labels: {env: prod}, context: edge-a}
        - {name: edge-b, labels: {env: prod}, context: edge-b}
      rollout:
        waves: [{name: prod, selector: env=prod, onUnreachable: \(onUnreachable)}]
        maxParallel: 2
        clusterTimeout: 60s
        deferAttempts: 3
        deferBackoff: 10s
        failurePolicy: {maxFailuresPerWave: 0, rollback: none}
      """)
    return fleet
  }

  /// Runs the rollout in the background; once the run's journal holds a record of edge-b
  /// that `lift` accepts (or the rollout ended), the fault is lifted.
  func rollout(
    _ fleet: String, _ sim: KubeSim, run: String, liftWhen lift: @escaping (String) -> Bool
  ) throws -> ProcessResult {
    let helm = try #require(BuiltProducts.helm)
    let result = ProcessResultBox()
    let done = DispatchSemaphore(value: 0)
    let report = sim.directory.file("\(run).json")
    let kubeconfig = sim.kubeconfig
    Thread.detachNewThread {
      result.value = try? fleetwave(
        [
          "rollout", fleet, "--driver", "kube", "--kubeconfig", kubeconfig, "--run", run,
          "--report-json", report,
        ], environment: ["FLEETWAVE_HELM": helm], timeout: 240)
      done.signal()
    }
    let journal = fleet + "/.fleetwave/runs/\(run)/journal.log"
    // The journal is the test's signal: the fault stays until the run has recorded what the
    // test waits for, however slow the machine.
    while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
      let text = (try? String(contentsOfFile: journal, encoding: .utf8)) ?? ""
      if text.split(separator: "\n").contains(where: { lift(String($0)) }) {
        sim.server.faults.faults = FaultSet()
      }
    }
    sim.server.faults.faults = FaultSet()
    return try #require(result.value)
  }

  @Test func deferWaitsForAClusterUnreachableAtTheStartOfItsWaveAndFailFailsIt() throws {
    let sim = try KubeSim(
      clusters: clusters,
      faults: FaultSet(api: [APIFault(scope: ClusterScope(clusters: ["edge-b"]), unreachable: true)]
      ))

    let deferring = try writeFleet(sim, onUnreachable: "defer")
    // Tried at once and again 10 s later, both refused; lifted then, the third try at 30 s
    // reaches it.
    let deferred = try rollout(deferring, sim, run: "d1") { line in
      line.contains("\"type\":\"deferred\"") && line.contains("\"cluster\":\"edge-b\"")
        && line.contains("\"attempt\":2")
    }
    #expect(deferred.status == 0, "\(deferred.stdout)\(deferred.stderr)")
    #expect(deferred.stdout.contains("rollout d1: succeeded (2 succeeded)"), "\(deferred.stdout)")
    let report = try JSONReader.parse(
      String(contentsOfFile: sim.directory.file("d1.json"), encoding: .utf8))
    let clusterReports = report["clusters"]?.sequence ?? []
    let b = try #require(clusterReports.first { $0["name"]?.string == "edge-b" })
    #expect(b["state"]?.string == "succeeded")
    #expect(b["deferrals"]?.int == 2)
    #expect(
      b["deferralReason"]?.string?.hasPrefix("cannot read the current revision: edge-b: ") == true)
    #expect(
      clusterReports.first { $0["name"]?.string == "edge-a" }?["deferrals"]?.int == 0)
    #expect(
      image(try sim.deployment("edge-b", namespace: "shop", name: "checkout"))
        == "shop/checkout:1.0.0")

    // The same outage under `fail`: edge-b fails at once and crosses the wave's budget.
    sim.server.faults.faults = FaultSet(api: [
      APIFault(scope: ClusterScope(clusters: ["edge-b"]), unreachable: true)
    ])
    let failing = try writeFleet(sim, onUnreachable: "fail")
    let failed = try rollout(failing, sim, run: "f1") { line in
      line.contains("\"cluster\":\"edge-b\"") && line.contains("\"state\":\"failed\"")
    }
    #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
    let failedReport = try JSONReader.parse(
      String(contentsOfFile: sim.directory.file("f1.json"), encoding: .utf8))
    let failedB = try #require(
      (failedReport["clusters"]?.sequence ?? []).first { $0["name"]?.string == "edge-b" })
    #expect(failedB["state"]?.string == "failed")
    #expect(failedB["deferrals"]?.int == 0)
    #expect(
      failedB["error"]?.string?.hasPrefix("cannot read the current revision: edge-b: ") == true)
  }
}

private final class ProcessResultBox: @unchecked Sendable {
  var value: ProcessResult?
}
