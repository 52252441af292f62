// Chart sources end to end: charts pushed with `helm push` to a real OCI registry (Debian's
// docker-registry) and served as a Helm repository over HTTP, rolled out by the built binary
// with the kube driver (fleet-sim over TLS) and the helm driver, at pinned versions and
// constraints; a packaged .tgz; and the located errors of a missing version or registry.
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// The demo chart with a ConfigMap that records which chart version rendered it, packaged at
/// several versions.
struct VersionedCharts {
  let directory: TemporaryDirectory
  let helm: String
  /// helm's caches and config, private to the test.
  let environment: [String: String]

  init(_ directory: TemporaryDirectory) throws {
    self.directory = directory
    helm = try #require(BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh")
    environment = [
      "HOME": directory.path, "HELM_CACHE_HOME": directory.file("helm/cache"),
      "HELM_CONFIG_HOME": directory.file("helm/config"),
      "HELM_DATA_HOME": directory.file("helm/data"),
    ]
    let source = directory.file("chart-source/checkout")
    try FileManager.default.createDirectory(
      atPath: directory.file("chart-source"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo/charts/checkout").path,
      toPath: source)
    _ = try directory.write(
      "chart-source/checkout/templates/chart-version.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: checkout-chart
      data:
        version: {{ .Chart.Version | quote }}

      """)
  }

  /// `helm package` at `version` into `destination`; the archive's path.
  @discardableResult
  func package(_ version: String, into destination: String) throws -> String {
    try helmOK(
      [
        "package", directory.file("chart-source/checkout"), "--version", version, "-d",
        destination,
      ])
    return destination + "/checkout-\(version).tgz"
  }

  @discardableResult
  func helmOK(_ arguments: [String]) throws -> ProcessResult {
    let result = try runProcess(helm, arguments, environment: environment)
    #expect(result.status == 0, "helm \(arguments): \(result.stderr)")
    return result
  }
}

@Suite struct ChartSourceTests {
  static let registryMissing = OCIRegistry.unavailable
  static let canRun = registryMissing == nil || OCIRegistry.required

  let clusters = [
    Cluster(name: "mini-canary", labels: ["env": "dev", "canary": "true"]),
    Cluster(name: "mini-a", labels: ["env": "prod"]),
  ]

  /// A two-cluster kube-driver fleet whose release block (from `chart:` on) is `source`.
  func writeFleet(_ sim: KubeSim, _ source: String) throws -> String {
    _ = try sim.directory.write(
      "fleet/values.yaml", "image: {repository: shop/checkout, tag: \"1.0.0\"}\nreplicaCount: 1\n")
    _ = try sim.directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: charts}
      release:
        name: checkout
        namespace: shop
        driver: kube
      \(source)
      values: [values.yaml]
      clusters:
        - {name: mini-canary, labels: {env: dev, canary: "true"}, context: mini-canary}
        - {name: mini-a, labels: {env: prod}, context: mini-a}
      rollout:
        canary: {selector: canary=true, bake: 0s}
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 2
        clusterTimeout: 10s
        failurePolicy: {maxFailuresPerWave: 0, rollback: failed}

      """)
    return sim.directory.file("fleet")
  }

  func rollout(_ fleet: String, _ sim: KubeSim, _ charts: VersionedCharts, run: String) throws
    -> ProcessResult
  {
    try fleetwave(
      ["rollout", fleet, "--driver", "kube", "--kubeconfig", sim.kubeconfig, "--run", run],
      environment: charts.environment.merging(["FLEETWAVE_HELM": charts.helm]) { $1 },
      timeout: 180)
  }

  /// The chart version each cluster's objects were rendered from.
  func renderedVersions(_ sim: KubeSim) throws -> [String] {
    try clusters.map { cluster in
      try sim.client(cluster.name).get(
        apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "checkout-chart")?[
          "data"]?["version"]?.string ?? "-"
    }
  }

  @Test(.enabled(if: canRun, "\(registryMissing ?? "")"))
  func ociChartAtAPinnedVersionThenAConstraintWithTheKubeDriver() throws {
    let sim = try KubeSim(clusters: clusters)
    let charts = try VersionedCharts(sim.directory)
    try FileManager.default.createDirectory(
      atPath: sim.directory.file("registry"), withIntermediateDirectories: true)
    let registry = try OCIRegistry.start(in: sim.directory.file("registry"))
    defer { registry.stop() }
    var archives: [String: String] = [:]
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
      archives[version] = try charts.package(version, into: sim.directory.file("packages"))
      try charts.helmOK([
        "push", sim.directory.file("packages/checkout-\(version).tgz"),
        "oci://127.0.0.1:\(registry.port)/charts", "--plain-http",
      ])
    }
    let reference = "oci://127.0.0.1:\(registry.port)/charts/checkout"
    func source(_ version: String) -> String {
      "  chart: \(reference)\n  chartVersion: \"\(version)\"\n  appVersion: 1.0.0\n"
        + "  plainHTTP: true"
    }

    var fleet = try writeFleet(sim, source("1.0.0"))
    let pinned = try rollout(fleet, sim, charts, run: "r1")
    #expect(pinned.status == 0, "\(pinned.stdout)\(pinned.stderr)")
    #expect(try renderedVersions(sim) == ["1.0.0", "1.0.0"])

    // ^1.0 is the newest 1.x: 1.1.0, not 2.0.0.
    fleet = try writeFleet(sim, source("^1.0"))
    let constrained = try rollout(fleet, sim, charts, run: "r2")
    #expect(constrained.status == 0, "\(constrained.stdout)\(constrained.stderr)")
    #expect(try renderedVersions(sim) == ["1.1.0", "1.1.0"])

    // Each pulled archive is kept once, named by its digest (the bytes helm pushed).
    let cache = fleet + "/.fleetwave/charts"
    let digests = try ["1.0.0", "1.1.0"].map { version in
      let archive = try #require(archives[version])
      let bytes = try #require(FileManager.default.contents(atPath: archive))
      return "sha256-" + SHA256.hex(Array(bytes)) + ".tgz"
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: cache).sorted() == digests.sorted())

    // A version the registry lacks, then a registry nobody serves: located at the fleet field,
    // nothing touched.
    fleet = try writeFleet(sim, source("9.9.9"))
    let missing = try rollout(fleet, sim, charts, run: "r3")
    #expect(missing.status == 1)
    #expect(
      missing.stderr
        == "error: \(fleet)/fleet.yaml:9:17: cannot fetch chart \(reference) version 9.9.9: failed"
        + " to perform \"FetchReference\" on source: 127.0.0.1:\(registry.port)/charts/checkout:"
        + "9.9.9: not found\n")
    let unused = try freeLoopbackPort()
    _ = try sim.directory.write(
      "fleet/fleet.yaml",
      try String(contentsOfFile: fleet + "/fleet.yaml", encoding: .utf8)
        .replacingOccurrences(of: "\(registry.port)", with: "\(unused)")
        .replacingOccurrences(of: "9.9.9", with: "1.0.0"))
    let unreachable = try rollout(fleet, sim, charts, run: "r4")
    #expect(unreachable.status == 1)
    #expect(
      unreachable.stderr
        == "error: \(fleet)/fleet.yaml:8:10: cannot fetch chart oci://127.0.0.1:\(unused)/charts/"
        + "checkout version 1.0.0: failed to perform \"FetchReference\" on source: Get"
        + " \"http://127.0.0.1:\(unused)/v2/charts/checkout/manifests/1.0.0\": dial tcp"
        + " 127.0.0.1:\(unused): connect: connection refused\n")
    #expect(try renderedVersions(sim) == ["1.1.0", "1.1.0"])
  }

  /// A registry as production runs one: HTTPS with a private CA (`caFile`) and a login
  /// (FLEETWAVE_REGISTRY_USERNAME/PASSWORD, given to helm on stdin). The password never shows.
  @Test(.enabled(if: canRun, "\(registryMissing ?? "")"))
  func ociRegistryBehindALoginAndAPrivateCA() throws {
    let sim = try KubeSim(clusters: clusters)
    let charts = try VersionedCharts(sim.directory)
    let tls = try TLSMaterial.get()
    let password = "s3cret-Pa55-\(UUID().uuidString.prefix(8))"
    let registryDirectory = sim.directory.file("registry")
    try FileManager.default.createDirectory(
      atPath: registryDirectory, withIntermediateDirectories: true)
    let hashed = try runProcess("/usr/bin/htpasswd", ["-Bbn", "deployer", password])
    try #require(hashed.status == 0, "\(hashed.stderr)")
    let htpasswd = try sim.directory.write("registry/htpasswd", hashed.stdout)
    let registry = try OCIRegistry.start(
      in: registryDirectory, htpasswd: htpasswd,
      tls: (tls.directory.file("server.crt"), tls.directory.file("server.key")))
    defer { registry.stop() }
    let host = "127.0.0.1:\(registry.port)"
    try charts.helmOK([
      "registry", "login", host, "--username", "deployer", "--password", password, "--ca-file",
      tls.caFile,
    ])
    try charts.package("1.0.0", into: sim.directory.file("packages"))
    try charts.helmOK([
      "push", sim.directory.file("packages/checkout-1.0.0.tgz"), "oci://\(host)/charts",
      "--ca-file", tls.caFile,
    ])

    // The rollout's helm has no login of its own: a fresh HELM_CONFIG_HOME.
    let fleet = try writeFleet(
      sim,
      "  chart: oci://\(host)/charts/checkout\n  chartVersion: 1.0.0\n  appVersion: 1.0.0\n"
        + "  caFile: ca.crt")
    try FileManager.default.copyItem(atPath: tls.caFile, toPath: fleet + "/ca.crt")
    func rollout(run: String, password: String?) throws -> ProcessResult {
      var environment = charts.environment.merging([
        "FLEETWAVE_HELM": charts.helm, "HELM_CONFIG_HOME": sim.directory.file("rollout-helm"),
      ]) { $1 }
      if let password {
        environment["FLEETWAVE_REGISTRY_USERNAME"] = "deployer"
        environment["FLEETWAVE_REGISTRY_PASSWORD"] = password
      }
      return try fleetwave(
        ["rollout", fleet, "--driver", "kube", "--kubeconfig", sim.kubeconfig, "--run", run],
        environment: environment, timeout: 180)
    }

    let anonymous = try rollout(run: "r1", password: nil)
    #expect(anonymous.status == 1)
    #expect(
      anonymous.stderr
        == "error: \(fleet)/fleet.yaml:9:17: cannot fetch chart oci://\(host)/charts/checkout"
        + " version 1.0.0: failed to perform \"FetchReference\" on source: GET"
        + " \"https://\(host)/v2/charts/checkout/manifests/1.0.0\": basic credential not found\n")

    let wrong = try rollout(run: "r2", password: "not-the-password")
    #expect(wrong.status == 1)
    #expect(
      wrong.stderr
        == "error: \(fleet)/fleet.yaml:8:10: cannot log in to \(host) as deployer"
        + " (FLEETWAVE_REGISTRY_PASSWORD): authenticating to \"\(host)\": GET"
        + " \"https://\(host)/v2/\": response status code 401: unauthorized: authentication"
        + " required\n")
    #expect(!wrong.stderr.contains("not-the-password"))
    #expect(try renderedVersions(sim) == ["-", "-"])

    let done = try rollout(run: "r3", password: password)
    #expect(done.status == 0, "\(done.stdout)\(done.stderr)")
    #expect(try renderedVersions(sim) == ["1.0.0", "1.0.0"])
    for output in [done.stdout, done.stderr] { #expect(!output.contains(password)) }
    let state = try FileManager.default.subpathsOfDirectory(atPath: fleet + "/.fleetwave")
    for file in state {
      let text = (try? String(contentsOfFile: fleet + "/.fleetwave/" + file, encoding: .utf8))
      #expect(text?.contains(password) != true, "\(file)")
    }
  }

  @Test func helmRepositoryThenAPackagedChartWithTheKubeDriver() throws {
    let sim = try KubeSim(clusters: clusters)
    let charts = try VersionedCharts(sim.directory)
    let repository = sim.directory.file("repository")
    try charts.package("1.0.0", into: repository)
    try charts.package("1.1.0", into: repository)
    let server = try StaticHTTPServer.start(
      serving: repository, log: sim.directory.file("http.log"))
    defer { server.stop() }
    let url = "http://127.0.0.1:\(server.port)"
    try charts.helmOK(["repo", "index", repository, "--url", url])

    var fleet = try writeFleet(
      sim, "  chart: checkout\n  repo: \(url)\n  chartVersion: 1.0.0\n  appVersion: 1.0.0")
    let fromRepository = try rollout(fleet, sim, charts, run: "r1")
    #expect(fromRepository.status == 0, "\(fromRepository.stdout)\(fromRepository.stderr)")
    #expect(try renderedVersions(sim) == ["1.0.0", "1.0.0"])

    try charts.package("1.1.0", into: sim.directory.file("fleet"))
    fleet = try writeFleet(sim, "  chart: checkout-1.1.0.tgz\n  appVersion: 1.0.0")
    let packaged = try rollout(fleet, sim, charts, run: "r2")
    #expect(packaged.status == 0, "\(packaged.stdout)\(packaged.stderr)")
    #expect(try renderedVersions(sim) == ["1.1.0", "1.1.0"])

    // A version the repository's index lacks.
    fleet = try writeFleet(
      sim, "  chart: checkout\n  repo: \(url)\n  chartVersion: 3.0.0\n  appVersion: 1.0.0")
    let missing = try rollout(fleet, sim, charts, run: "r3")
    #expect(missing.status == 1)
    #expect(
      missing.stderr
        == "error: \(fleet)/fleet.yaml:10:17: cannot fetch chart checkout version 3.0.0: chart"
        + " \"checkout\" version \"3.0.0\" not found in \(url) repository\n")
  }

  @Test(.enabled(if: canRun, "\(registryMissing ?? "")"))
  func ociChartAtAConstraintWithTheHelmDriver() throws {
    let sim = try HelmFixture()
    let charts = try VersionedCharts(sim.directory)
    try FileManager.default.createDirectory(
      atPath: sim.directory.file("registry"), withIntermediateDirectories: true)
    let registry = try OCIRegistry.start(in: sim.directory.file("registry"))
    defer { registry.stop() }
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
      try charts.package(version, into: sim.directory.file("packages"))
      try charts.helmOK([
        "push", sim.directory.file("packages/checkout-\(version).tgz"),
        "oci://127.0.0.1:\(registry.port)/charts", "--plain-http",
      ])
    }
    let fleetFile = sim.fleetDirectory + "/fleet.yaml"
    let local = "  chart: charts/checkout\n  version: 1.4.2\n"
    let text = try String(contentsOfFile: fleetFile, encoding: .utf8)
    try #require(text.contains(local))
    try text.replacingOccurrences(
      of: local,
      with: "  chart: oci://127.0.0.1:\(registry.port)/charts/checkout\n"
        + "  chartVersion: \">=1.0.0 <2.0.0\"\n  appVersion: 1.4.2\n  plainHTTP: true\n"
    ).write(toFile: fleetFile, atomically: true, encoding: .utf8)

    let result = try fleetwave(
      [
        "rollout", sim.fleetDirectory, "--driver", "helm", "--kubeconfig", sim.kubeconfig,
        "--run", "r1", "--log-dir", sim.directory.file("logs"),
      ], environment: sim.environment.merging(["FLEETWAVE_HELM": sim.helm]) { $1 }, timeout: 240)
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    for cluster in sim.clusters {
      let history = try sim.runHelm(["history", "checkout", "-o", "json"], cluster: cluster.name)
      let charts = try JSONReader.parse(history.stdout).sequence?.map { $0["chart"]?.string }
      #expect(charts == ["checkout-1.1.0"], "\(cluster.name)")
    }
  }

  @Test func aChartMissingADependencyIsReportedThenBuiltOnceByTheRollout() throws {
    let sim = try KubeSim(clusters: clusters)
    let charts = try VersionedCharts(sim.directory)
    _ = try sim.directory.write(
      "fleet/charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n")
    _ = try sim.directory.write(
      "fleet/charts/sub/templates/cm.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-sub\ndata: {a: b}\n")
    _ = try sim.directory.write(
      "fleet/charts/web/Chart.yaml",
      "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n"
        + "  - {name: sub, version: 0.1.0, repository: \"file://../sub\"}\n")
    _ = try sim.directory.write(
      "fleet/charts/web/templates/cm.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-web\ndata: {a: b}\n")
    // Chart.lock as its author would commit it; charts/ left out, as .gitignore files do.
    try charts.helmOK(["dependency", "update", sim.directory.file("fleet/charts/web")])
    try FileManager.default.removeItem(atPath: sim.directory.file("fleet/charts/web/charts"))
    let fleet = try writeFleet(sim, "  chart: charts/web\n  appVersion: 1.0.0")

    let validate = try fleetwave(["validate", fleet])
    #expect(validate.status == 0)
    #expect(
      validate.stderr.hasPrefix(
        "\(fleet)/fleet.yaml:8:10: warning: the chart's charts/ lacks its dependency 'sub'; a"
          + " rollout runs helm dependency build (from Chart.lock) first\n"))

    let result = try rollout(fleet, sim, charts, run: "r1")
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(
      FileManager.default.fileExists(atPath: fleet + "/charts/web/charts/sub-0.1.0.tgz"))
    for cluster in clusters {
      let object = try sim.client(cluster.name).get(
        apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "from-sub")
      #expect(object?["data"]?["a"]?.string == "b", "\(cluster.name)")
    }
  }
}
