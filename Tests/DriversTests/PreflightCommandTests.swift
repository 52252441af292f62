// `fleetwave preflight` end to end: the built binary against a TLS fleet-sim whose RBAC, Leases
// and revision records are set up with the real kubectl, and its exact table and problem lines.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct PreflightCommandTests {
  let clusters = [Cluster(name: "pf-a"), Cluster(name: "pf-b")]

  /// Two clusters with the demo chart plus a HorizontalPodAutoscaler, image tag `tag`.
  func writeFleet(_ sim: KubeSim, tag: String = "1.0.0") throws -> String {
    let fleet = sim.directory.file("fleet")
    try copyDemoChart(into: fleet)
    try sim.directory.write(
      "fleet/charts/checkout/templates/hpa.yaml",
      """
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata: {name: checkout}
      spec:
        scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}
        minReplicas: 1
        maxReplicas: 3

      """)
    try sim.directory.write(
      "fleet/values.yaml", "image: {repository: shop/checkout, tag: \"\(tag)\"}\n")
    try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: pf}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 1.0.0}
      values: [values.yaml]
      clusters:
        - {name: pf-a, context: pf-a}
        - {name: pf-b, context: pf-b}
      rollout:
        waves: [{name: all}]
      """)
    return fleet
  }

  func preflight(_ fleet: String, kubeconfig: String, _ extra: [String] = []) throws
    -> ProcessResult
  {
    try fleetwave(
      ["preflight", fleet, "--kubeconfig", kubeconfig] + extra,
      environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 120)
  }

  @discardableResult
  func kubectl(_ sim: KubeSim, _ cluster: String, _ arguments: [String], input: String? = nil)
    throws -> ProcessResult
  {
    let result = try runProcess(
      "/usr/bin/env",
      ["kubectl", "--request-timeout=30s", "--kubeconfig", sim.kubeconfig, "--context", cluster]
        + arguments, input: input, timeout: 90)
    #expect(result.status == 0, "kubectl \(arguments): \(result.stderr)")
    return result
  }

  @Test func anIdentityWithFullRightsPassesEveryCheck() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY         CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-a     fleet-sim-admin  ok          ok           ok      ok           ok       ok     ok
        pf-b     fleet-sim-admin  ok          ok           ok      ok           ok       ok     ok

        """)
    #expect(result.stderr == "")

    let json = try preflight(
      fleet, kubeconfig: sim.kubeconfig, ["-o", "json", "--cluster", "pf-b"])
    #expect(json.status == 0, "\(json.stderr)")
    let report = try JSONReader.parse(json.stdout)
    #expect(report["passed"] == true)
    #expect(report["clusters"]?.sequence?.count == 1)
    let checked = try #require(report["clusters"]?.sequence?.first)
    #expect(checked["name"] == "pf-b")
    #expect(checked["identity"] == "fleet-sim-admin")
    #expect(checked["checks"]?["permissions"] == "passed")
    #expect(checked["problems"] == [])
  }

  @Test func anUnreachableClusterIsNamedAndItsOtherChecksAreSkipped() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    let port = try freeLoopbackPort()
    let path = fleet + "/fleet.yaml"
    let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
      of: "  - {name: pf-b, context: pf-b}",
      with:
        "  - {name: pf-b, context: pf-b}\n  - {name: pf-gone, server: \"https://127.0.0.1:\(port)\"}"
    )
    try text.write(toFile: path, atomically: true, encoding: .utf8)

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-gone"])
    #expect(result.status == 1)
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY  CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-gone  -         1 error     -            -       -            -        -      -

        """)
    #expect(
      result.stderr
        == "pf-gone: cannot reach the API: GET https://127.0.0.1:\(port)/apis/authentication.k8s.io/v1: "
        + "connection refused (after 3 attempts)\npreflight failed on 1 of 1 cluster\n")
  }

  @Test func aServiceAccountMissingOneVerbOnOneClusterIsNamedExactly() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    let credentials = try #require(sim.server.credentials)
    var contexts: [String] = []
    for cluster in ["pf-a", "pf-b"] {
      for arguments in [
        ["create", "namespace", "ci"], ["create", "namespace", "shop"],
        ["create", "serviceaccount", "deployer", "-n", "ci"],
        ["create", "clusterrole", "namespace-reader", "--verb=get", "--resource=namespaces"],
        [
          "create", "clusterrolebinding", "deployer-namespaces", "--clusterrole=namespace-reader",
          "--serviceaccount=ci:deployer",
        ],
        [
          "create", "role", "deployer", "-n", "shop", "--verb=create,get,list,patch,update,delete",
          "--resource=configmaps,services,secrets,deployments.apps,leases.coordination.k8s.io",
        ],
        // pf-b's deployer may not delete autoscalers: the one thing preflight must name.
        [
          "create", "role", "autoscalers", "-n", "shop",
          cluster == "pf-b" ? "--verb=create,get,patch" : "--verb=create,get,patch,delete",
          "--resource=horizontalpodautoscalers.autoscaling",
        ],
        [
          "create", "rolebinding", "deployer", "-n", "shop", "--role=deployer",
          "--serviceaccount=ci:deployer",
        ],
        [
          "create", "rolebinding", "autoscalers", "-n", "shop", "--role=autoscalers",
          "--serviceaccount=ci:deployer",
        ],
      ] {
        try kubectl(sim, cluster, arguments)
      }
      let token = try kubectl(sim, cluster, ["create", "token", "deployer", "-n", "ci"]).stdout
        .trimmingCharacters(in: .whitespacesAndNewlines)
      contexts.append(
        """
        - name: \(cluster)
          cluster:
            server: "\(sim.server.baseURL(for: cluster, tls: true))"
            certificate-authority: "\(credentials.caCertificate)"
          user: {token: "\(token)"}
        """)
    }
    // One kubeconfig entry per cluster: its own server and its own deployer's token.
    let clusterEntries = contexts.map { entry in
      entry.split(separator: "\n").prefix(4).joined(separator: "\n")
    }
    let users = zip(["pf-a", "pf-b"], contexts).map { name, entry in
      "- name: \(name)\n" + (entry.split(separator: "\n").last.map(String.init) ?? "")
    }
    let kubeconfig = try sim.directory.write(
      "deployer-kubeconfig",
      """
      apiVersion: v1
      kind: Config
      clusters:
      \(clusterEntries.joined(separator: "\n"))
      contexts:
      - {name: pf-a, context: {cluster: pf-a, user: pf-a}}
      - {name: pf-b, context: {cluster: pf-b, user: pf-b}}
      users:
      \(users.joined(separator: "\n"))
      current-context: pf-a

      """)

    let result = try preflight(fleet, kubeconfig: kubeconfig)
    #expect(result.status == 1)
    let deployer = "system:serviceaccount:ci:deployer"
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY                           CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-a     \(deployer)  ok          ok           ok      ok           ok       -      ok
        pf-b     \(deployer)  ok          ok           ok      1 error      ok       -      ok

        """)
    #expect(
      result.stderr
        == "pf-b: cannot delete horizontalpodautoscalers.autoscaling in namespace shop (as "
        + "\(deployer))\npreflight failed on 1 of 2 clusters\n")
  }

  @Test func aHeldLeaseFailsAndAPendingRevisionWarns() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    let loaded = try FleetLoader.load(directory: fleet)
    let cluster = try #require(loaded.fleet.cluster(named: "pf-a"))
    let driver = try sim.driver(
      loaded.fleet.release, fleetDirectory: fleet,
      values: { cluster in (try? loaded.values.values(for: cluster, sets: [])) ?? [:] })
    try kubectl(sim, "pf-a", ["create", "namespace", "shop"])
    try leavePending(
      revision: 1, of: driver, cluster,
      RevisionHistory(client: try sim.client("pf-a"), release: "checkout", namespace: "shop"))
    try kubectl(
      sim, "pf-a", ["apply", "-f", "-"],
      input: """
        apiVersion: coordination.k8s.io/v1
        kind: Lease
        metadata: {name: fleetwave-checkout, namespace: shop}
        spec:
          holderIdentity: pf-20261128/host-1
          acquireTime: "2026-11-28T10:00:00.000000Z"
          renewTime: "2026-11-28T10:00:00.000000Z"
          leaseDurationSeconds: 60
        """)

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig)
    #expect(result.status == 1)
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY         CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE             QUOTA  IMAGES
        pf-a     fleet-sim-admin  ok          ok           ok      ok           1 error, 1 warning  ok     ok
        pf-b     fleet-sim-admin  ok          ok           ok      ok           ok                  ok     ok

        """)
    #expect(
      result.stderr
        == """
        pf-a: release checkout is locked: the Lease shop/fleetwave-checkout is held by \
        pf-20261128/host-1 since 2026-11-28T10:00:00.000000Z
        pf-a: warning: revision 1 of checkout is pending-upgrade: a run stopped mid-change (the \
        next rollout carries the same change on, or closes it as failed)
        preflight failed on 1 of 2 clusters

        """)
  }

  @Test func aLatestImageWarnsAndStrictFails() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim, tag: "latest")
    let line =
      "pf-a: Deployment shop/checkout runs image shop/checkout:latest: the tag latest moves "
      + "(pin a version or a digest)"

    let warned = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-a"])
    #expect(warned.status == 0, "\(warned.stderr)")
    #expect(
      warned.stdout
        == """
        CLUSTER  IDENTITY         CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-a     fleet-sim-admin  ok          ok           ok      ok           ok       ok     1 warning

        """)
    #expect(
      warned.stderr == line.replacingOccurrences(of: "pf-a: ", with: "pf-a: warning: ") + "\n")

    let strict = try preflight(
      fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-a", "--strict"])
    #expect(strict.status == 1)
    #expect(strict.stdout.hasSuffix("ok           ok       ok     1 error\n"), "\(strict.stdout)")
    #expect(strict.stderr == line + "\npreflight failed on 1 of 1 cluster\n")
  }

  @Test func aServerOlderThanTheChartsKubeVersionIsAnErrorNamingBoth() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    let chart = fleet + "/charts/checkout/Chart.yaml"
    let metadata = try String(contentsOfFile: chart, encoding: .utf8)
    try (metadata + "kubeVersion: \">=1.33.0-0 || ~1.30\"\n").write(
      toFile: chart, atomically: true, encoding: .utf8)

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-a"])
    #expect(result.status == 1)
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY         CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-a     fleet-sim-admin  ok          1 error      -       -            -        -      -

        """)
    // fleet-sim says it is v1.32.0-fleet-sim. helm would refuse the render for it as well;
    // the one cause is named once.
    #expect(
      result.stderr
        == "pf-a: the server's version v1.32.0-fleet-sim does not satisfy the chart's "
        + "kubeVersion >=1.33.0-0 || ~1.30\npreflight failed on 1 of 1 cluster\n")

    try (metadata + "kubeVersion: \">=1.25.0-0\"\n").write(
      toFile: chart, atomically: true, encoding: .utf8)
    let passed = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-a"])
    #expect(passed.status == 0, "\(passed.stderr)")
  }

  @Test func aQuotaTooSmallForTheReleaseAndItsSurgeIsNamedWithNeedAndFree() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    // 2 replicas and 1 surge pod (25% of 2, rounded up) of 500m each: 1500m at the peak.
    try sim.directory.write(
      "fleet/values.yaml",
      """
      image: {repository: shop/checkout, tag: "1.0.0"}
      replicaCount: 2
      resources: {requests: {cpu: 500m, memory: 100Mi}, limits: {memory: 256Mi}}

      """)
    try kubectl(sim, "pf-a", ["create", "namespace", "shop"])
    try kubectl(
      sim, "pf-a",
      ["create", "quota", "compute-quota", "-n", "shop", "--hard=requests.cpu=1,limits.memory=1Gi"])
    try kubectl(
      sim, "pf-a", ["create", "quota", "objects", "-n", "shop", "--hard=count/deployments.apps=0"])

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-a"])
    #expect(result.status == 1)
    #expect(
      result.stdout
        == """
        CLUSTER  IDENTITY         CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA     IMAGES
        pf-a     fleet-sim-admin  ok          ok           ok      ok           ok       2 errors  ok

        """)
    #expect(
      result.stderr
        == """
        pf-a: quota compute-quota: needs requests.cpu 1500m, 1 free
        pf-a: quota objects: needs count/deployments.apps 1, 0 free
        preflight failed on 1 of 1 cluster

        """)
  }

  @Test func helmsOwnPendingRecordIsReportedLikeFleetwaves() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim)
    try kubectl(sim, "pf-b", ["create", "namespace", "shop"])
    // What `helm upgrade` leaves behind when it is killed mid-change.
    try kubectl(
      sim, "pf-b",
      [
        "create", "secret", "generic", "sh.helm.release.v1.checkout.v2", "-n", "shop",
        "--type=helm.sh/release.v1", "--from-literal=release=H4sI",
      ])
    try kubectl(
      sim, "pf-b",
      [
        "label", "secret", "sh.helm.release.v1.checkout.v2", "-n", "shop", "owner=helm",
        "name=checkout", "status=pending-upgrade", "version=2",
      ])

    let result = try preflight(fleet, kubeconfig: sim.kubeconfig, ["--cluster", "pf-b"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasSuffix("ok           1 warning  ok     ok\n"), "\(result.stdout)")
    #expect(
      result.stderr
        == "pf-b: warning: helm's revision 2 of checkout is pending-upgrade (Secret "
        + "shop/sh.helm.release.v1.checkout.v2): a helm operation stopped mid-change (helm "
        + "refuses another until it is rolled back)\n")
  }

  @Test func markdownAndJUnitListEveryProblemPerCluster() throws {
    let sim = try KubeSim(clusters: clusters)
    let fleet = try writeFleet(sim, tag: "latest")
    try kubectl(sim, "pf-b", ["create", "namespace", "shop"])
    try kubectl(
      sim, "pf-b", ["create", "quota", "objects", "-n", "shop", "--hard=count/deployments.apps=0"])
    let junit = sim.directory.file("preflight.xml")

    let result = try fleetwave(
      [
        "preflight", fleet, "--kubeconfig", sim.kubeconfig, "-o", "markdown", "--junit", junit,
      ],
      environment: [
        "FLEETWAVE_HELM": try #require(BuiltProducts.helm),
        "FLEETWAVE_NOW": "2026-11-28T09:00:00Z",
      ], timeout: 120)
    #expect(result.status == 1)
    let image =
      "Deployment shop/checkout runs image shop/checkout:latest: the tag latest moves (pin a "
      + "version or a digest)"
    #expect(
      result.stdout
        == """
        ## Fleetwave preflight `pf`: failed

        Release **checkout** in namespace `shop`, 2 clusters, 1 failed, checked 2026-11-28T09:00:00.000Z.

        | cluster | identity | connection | kubeVersion | render | permissions | release | quota | images |
        |---|---|---|---|---|---|---|---|---|
        | `pf-a` | fleet-sim-admin | ok | ok | ok | ok | ok | ok | 1 warning |
        | `pf-b` | fleet-sim-admin | ok | ok | ok | ok | ok | 1 error | 1 warning |

        ### Problems

        - `pf-a`: warning: \(image)
        - `pf-b`: quota objects: needs count/deployments.apps 1, 0 free
        - `pf-b`: warning: \(image)

        """)
    let host = ProcessInfo.processInfo.hostName
    let xml = try String(contentsOfFile: junit, encoding: .utf8)
    #expect(
      xml
        == """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="fleetwave preflight pf" tests="2" failures="1" errors="0" skipped="0" time="0.000">
          <testsuite name="preflight" tests="2" failures="1" errors="0" skipped="0" time="0.000" \
        timestamp="2026-11-28T09:00:00" hostname="\(host)" id="0" package="pf">
            <properties>
              <property name="release" value="checkout"/>
              <property name="namespace" value="shop"/>
              <property name="strict" value="false"/>
            </properties>
            <testcase classname="pf.preflight" name="pf-a" time="0.000">
              <system-out>warning: \(image)&#10;</system-out>
            </testcase>
            <testcase classname="pf.preflight" name="pf-b" time="0.000">
              <failure message="2 problems: quota objects: needs count/deployments.apps 1, 0 free" \
        type="preflight">quota objects: needs count/deployments.apps 1, 0 free&#10;warning: \
        \(image)&#10;</failure>
            </testcase>
            <system-out/>
            <system-err/>
          </testsuite>
        </testsuites>

        """, "\(xml)")
  }
}
