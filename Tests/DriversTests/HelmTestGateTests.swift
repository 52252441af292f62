// The `helmTest` health gate against fleet-sim over TLS with a chart written for the test:
// the kube driver runs the deployed revision's test hooks itself (helm test's order, delete
// policy and first-failure stop), the helm driver runs `helm test --logs`, and a failing test
// fails the gate and, in a rollout, the cluster.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Health
import Kube
import Testing

/// The shop chart with three test hooks: a weighted schema check that runs first, a legacy
/// `test-success` auth check, and a connection check; the auth check's image follows the tag.
private func writeTestedChart(_ directory: TemporaryDirectory, under prefix: String = "") throws {
  try writeShopChart(directory, under: prefix)
  try directory.write(
    prefix + "chart/templates/tests.yaml",
    """
    apiVersion: v1
    kind: Pod
    metadata:
      name: shop-test-schema
      annotations: {"helm.sh/hook": test, "helm.sh/hook-weight": "-1"}
    spec:
      restartPolicy: Never
      containers: [{name: schema, image: "shop-schema-check:1"}]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: shop-test-auth
      annotations: {"helm.sh/hook": test-success}
    spec:
      restartPolicy: Never
      containers: [{name: auth, image: "shop-auth-check:{{ .Values.tag }}"}]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: shop-test-connection
      annotations: {"helm.sh/hook": test}
    spec:
      restartPolicy: Never
      containers: [{name: wget, image: busybox}]
    """)
}

/// Test images tagged `bad` crash: their test Pods end `Failed`.
private let crashingTests = FaultSet(images: [
  ImageFault(match: "shop-auth-check:bad", effect: .crashLoop)
])

private func gate(_ driver: any ReleaseTesting, timeout: Duration = .seconds(30)) -> HelmTestGate {
  HelmTestGate(spec: HelmTestSpec(timeout: timeout), tester: driver, run: "test")
}

@Suite struct HelmTestGateTests {
  let release = Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart")

  @Test func kubeGateRunsTheTestHooksInOrderAndAttachesTheirLogs() async throws {
    let cluster = Cluster(name: "tests-1")
    let sim = try KubeSim(clusters: [cluster])
    let fleet = try TemporaryDirectory("kube-tests")
    defer { fleet.remove() }
    try writeTestedChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "1.0"] }
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")
    let client = try sim.client(cluster.name)
    func pod(_ name: String) throws -> Value? {
      try client.get(apiVersion: "v1", kind: "Pod", namespace: "shop", name: name)
    }
    // The upgrade never applies a test hook.
    for name in ["shop-test-schema", "shop-test-auth", "shop-test-connection"] {
      #expect(try pod(name) == nil)
    }

    let result = await gate(driver).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    #expect(result.passed)
    #expect(result.summary == "3 tests of revision 1 passed")
    #expect(
      result.measurements.map(\.detail) == [
        """
        3 tests of revision 1 passed
        POD LOGS: shop-test-schema
        fleet-sim: container schema started from image shop-schema-check:1
        fleet-sim: container schema exited with code 0
        POD LOGS: shop-test-auth
        fleet-sim: container auth started from image shop-auth-check:1.0
        fleet-sim: container auth exited with code 0
        POD LOGS: shop-test-connection
        fleet-sim: container wget started from image busybox
        fleet-sim: container wget exited with code 0
        """
      ])
    let first = try #require(try pod("shop-test-connection"))
    #expect(first["status"]?["phase"] == "Succeeded")

    // before-hook-creation (the default): a second run deletes the last run's Pods first.
    let again = await gate(driver).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    #expect(again.summary == "3 tests of revision 1 passed")
    let second = try #require(try pod("shop-test-connection"))
    #expect(second["metadata"]?["uid"] != first["metadata"]?["uid"])
  }

  @Test func kubeGateFailsAtTheFirstFailedTestPodNamingItAndItsReason() async throws {
    let cluster = Cluster(name: "tests-2")
    let sim = try KubeSim(clusters: [cluster], faults: crashingTests)
    let fleet = try TemporaryDirectory("kube-tests")
    defer { fleet.remove() }
    try writeTestedChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "bad"] }
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")

    let result = await gate(driver).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    let reason =
      "test hook Pod shop/shop-test-auth failed: pod \"shop-test-auth\" failed "
      + "(container auth: Error, exit code 1)"
    #expect(!result.passed)
    #expect(result.summary == reason)
    #expect(
      result.measurements.map(\.detail) == [
        """
        \(reason)
        POD LOGS: shop-test-schema
        fleet-sim: container schema started from image shop-schema-check:1
        fleet-sim: container schema exited with code 0
        POD LOGS: shop-test-auth
        fleet-sim: container auth started from image shop-auth-check:bad
        fleet-sim: container auth exited with code 1
        """
      ])
    // The weighted schema test ran first; the failure stopped the connection test.
    let client = try sim.client(cluster.name)
    let connection = try await client.get(
      apiVersion: "v1", kind: "Pod", namespace: "shop", name: "shop-test-connection")
    #expect(connection == nil)
  }

  @Test func aTestPodThatNeverFinishesFailsTheGateAtItsTimeout() async throws {
    let cluster = Cluster(name: "tests-3")
    let sim = try KubeSim(
      clusters: [cluster],
      faults: FaultSet(images: [ImageFault(match: "shop-auth-check:stuck", effect: .neverReady)]))
    let fleet = try TemporaryDirectory("kube-tests")
    defer { fleet.remove() }
    try writeTestedChart(fleet)
    let driver = try sim.driver(release, fleetDirectory: fleet.path) { _ in ["tag": "stuck"] }
    #expect(try finish { driver.upgrade(call(cluster), from: nil, completion: $0) }.get() == "1")

    let result = await gate(driver, timeout: .seconds(2)).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    #expect(!result.passed)
    #expect(
      result.summary
        == "test hook Pod shop/shop-test-auth did not complete in time: pod \"shop-test-auth\" is Pending"
    )
  }

  @Test func aDriverThatCannotRunTestsFailsTheGate() async throws {
    let result = await HelmTestGate(spec: HelmTestSpec(), tester: nil, run: "r").verify(
      clusters: [Cluster(name: "x")], clock: SystemClock(), cancellation: Cancellation())
    #expect(
      result
        == GateResult(
          gate: "helm-test", passed: false, measurements: result.measurements,
          summary: "helmTest needs the kube or helm driver"))
  }
}

@Suite struct HelmTestGateRolloutTests {
  @Test func aFailingTestHookFailsTheCanaryAndTheRolloutRollsItBackAndHalts() throws {
    let clusters = [
      Cluster(name: "gate-canary", labels: ["canary": "true"]),
      Cluster(name: "gate-a", labels: ["env": "prod"]),
    ]
    let sim = try KubeSim(clusters: clusters, faults: crashingTests)
    try writeTestedChart(sim.directory, under: "fleet/")
    _ = try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: tested}
      release: {name: shop, namespace: shop, driver: kube, chart: chart, version: "1.0"}
      clusters:
        - {name: gate-canary, labels: {canary: "true"}, context: gate-canary}
        - {name: gate-a, labels: {env: prod}, context: gate-a}
      rollout:
        canary: {selector: canary=true, bake: 0s}
        waves: [{name: prod, selector: env=prod}]
        clusterTimeout: 30s
        failurePolicy: {maxFailuresPerWave: 0, rollback: failed}
        health:
          - helmTest: {timeout: 20s}
      """)
    let fleet = sim.directory.file("fleet")
    func rollout(_ extra: [String]) throws -> ProcessResult {
      try fleetwave(
        ["rollout", fleet, "--driver", "kube", "--kubeconfig", sim.kubeconfig] + extra,
        environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
    }

    let first = try rollout(["--run", "r1"])
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.hasSuffix("rollout r1: succeeded (2 succeeded)\n"), "\(first.stdout)")

    // The canary's auth test crashes under tag `bad`: its gate fails, it is rolled back to
    // revision 1 and the prod wave never starts.
    let bad = try rollout(["--run", "r2", "--set", "tag=bad"])
    #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
    #expect(
      bad.stdout.contains(
        "health gate 'helm-test' failed: test hook Pod shop/shop-test-auth failed: pod "
          + "\"shop-test-auth\" failed (container auth: Error, exit code 1)"), "\(bad.stdout)")
    #expect(
      bad.stdout.hasSuffix(
        """
        rollout r2: halted (1 rolled-back, 1 skipped)
          wave 'canary' has 1 failed of 1 clusters; its budget allows 0
          rolled back: gate-canary

        """), "\(bad.stdout)")
    let config = try sim.client("gate-canary").get(
      apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "shop-config")
    #expect(config?["data"] == ["tag": "1.0"])
    let prod = try sim.client("gate-a").get(
      apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "shop-config")
    #expect(prod?["data"] == ["tag": "1.0"])
  }
}

@Suite struct HelmDriverTestGateTests {
  @Test func helmTestPassesThenAFailingTestPodFailsTheGate() async throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [ImageFault(match: "checkout-test:bad", effect: .crashLoop)]))
    try writeCheckoutTest(sim)
    let cluster = try sim.cluster("b-2")
    let good = sim.driver()
    let installed = try finish {
      good.upgrade(call(cluster, timeout: .seconds(16)), from: nil, completion: $0)
    }
    #expect(installed == .success("1"))
    // helm itself never applies a test hook on upgrade.
    let before = try sim.kubectl(["get", "pod", "checkout-test"], cluster: "b-2")
    #expect(before.stderr == "Error from server (NotFound): pods \"checkout-test\" not found\n")

    let passed = await gate(good).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    #expect(passed.passed)
    #expect(passed.summary == "helm test passed")
    let detail = try #require(passed.measurements.first?.detail)
    #expect(detail.contains("POD LOGS: checkout-test\n"), "\(detail)")
    #expect(detail.contains("Phase:          Succeeded"), "\(detail)")

    let bad = sim.driver(sets: ["image": ["repository": "shop/checkout", "tag": "bad"]])
    #expect(
      try finish { bad.upgrade(call(cluster, timeout: .seconds(16)), from: "1", completion: $0) }
        == .success("2"))
    let failed = await gate(bad).verify(
      clusters: [cluster], clock: SystemClock(), cancellation: Cancellation())
    #expect(!failed.passed)
    #expect(
      failed.summary
        == "Error: resource Pod/shop/checkout-test not ready. status: Failed, message: pod "
        + "checkout-test failed")
    let failure = try #require(failed.measurements.first?.detail)
    #expect(
      failure.contains(
        """
        POD LOGS: checkout-test
        fleet-sim: container check started from image checkout-test:bad
        fleet-sim: container check exited with code 1
        """), "\(failure)")
  }

  @Test func withTheHelmDriverAFailingHelmTestRollsTheCanaryBackAndHalts() throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [ImageFault(match: "checkout-test:bad", effect: .crashLoop)]))
    try writeCheckoutTest(sim)
    let fleetFile = sim.fleetDirectory + "/fleet.yaml"
    let text = try String(contentsOfFile: fleetFile, encoding: .utf8)
    try (text + "  health:\n    - helmTest: {timeout: 15s}\n").write(
      toFile: fleetFile, atomically: true, encoding: .utf8)
    func rollout(_ extra: [String]) throws -> ProcessResult {
      try fleetwave(
        ["rollout", sim.fleetDirectory, "--driver", "helm", "--kubeconfig", sim.kubeconfig]
          + extra,
        environment: sim.environment.merging(["FLEETWAVE_HELM": sim.helm]) { $1 }, timeout: 240)
    }

    let first = try rollout(["--run", "r1"])
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.hasSuffix("rollout r1: succeeded (4 succeeded)\n"), "\(first.stdout)")

    let bad = try rollout(["--run", "r2", "--set", "image.tag=bad"])
    #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
    #expect(
      bad.stdout.contains(
        "canary-1 failed: health gate 'helm-test' failed: Error: resource Pod/shop/checkout-test"
          + " not ready. status: Failed, message: pod checkout-test failed"), "\(bad.stdout)")
    #expect(
      bad.stdout.hasSuffix(
        """
        rollout r2: halted (1 rolled-back, 3 skipped)
          wave 'canary' has 1 failed of 1 clusters; its budget allows 0
          rolled back: canary-1

        """), "\(bad.stdout)")
    #expect(try sim.image("canary-1") == "shop/checkout:1.0.0")
  }
}

/// A `helm test` Pod for the demo chart; its image follows the chart's image tag.
private func writeCheckoutTest(_ sim: HelmFixture) throws {
  try sim.directory.write(
    "fleet/charts/checkout/templates/tests.yaml",
    """
    apiVersion: v1
    kind: Pod
    metadata:
      name: checkout-test
      annotations: {"helm.sh/hook": test}
    spec:
      restartPolicy: Never
      containers: [{name: check, image: "checkout-test:{{ .Values.image.tag }}"}]
    """)
}
