// The fleet-sim executable as a user runs it, and a real Prometheus scraping the fleet.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

/// A background program's output so far.
private func text(_ path: String) -> String {
  (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Stops a background program with SIGTERM; its exit status.
private func stop(_ process: BackgroundProcess) -> Int32 {
  process.signal(SIGTERM)
  return process.wait()
}

@Suite struct FleetSimCommandTests {
  @Test func serveWithTLSThenWriteAKubeconfigFromAnotherProcess() throws {
    let dir = try TemporaryDirectory("fleet-sim-cli")
    defer { dir.remove() }
    let server = try BackgroundProcess(
      BuiltProducts.path("fleet-sim"),
      ["serve", "--clusters", "2", "--tls", "--state", dir.file("state"), "--speed", "50"],
      output: dir.file("serve.log"))
    defer { _ = stop(server) }
    #expect(
      eventually(timeout: 60) { text(dir.file("serve.log")).contains("metrics:") },
      "\(text(dir.file("serve.log")))")
    #expect(
      text(dir.file("serve.log")).hasPrefix(
        "fleet-sim: 2 virtual clusters\n  http:    http://127.0.0.1:"))

    let written = try runProcess(
      BuiltProducts.path("fleet-sim"),
      ["kubeconfig", "--state", dir.file("state"), "-o", dir.file("kc")])
    #expect(written.status == 0, "\(written.stderr)")
    let environment = [
      "KUBECONFIG": dir.file("kc"), "HOME": dir.path, "KUBECACHEDIR": dir.file("cache"),
    ]
    let contexts = try runProcess(
      "/usr/bin/env", ["kubectl", "config", "get-contexts", "-o", "name"], environment: environment)
    #expect(contexts.stdout == "sim-0001\nsim-0002\n")
    let namespaces = try runProcess(
      "/usr/bin/env",
      [
        "kubectl", "--request-timeout=30s", "--context", "sim-0002", "get", "namespaces", "-o",
        "name",
      ],
      environment: environment)
    #expect(
      namespaces.stdout
        == "namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\n"
        + "namespace/kube-system\n",
      "\(namespaces.stderr)")
    #expect(stop(server) == 0)
  }

  @Test func usageErrorsExitTwo() throws {
    let result = try runProcess(BuiltProducts.path("fleet-sim"), ["serve", "--clusters", "0"])
    #expect(result.status == 2)
    #expect(result.stderr.hasPrefix("Error: --clusters must be at least 1\n"), "\(result.stderr)")
  }

  @Test func serveTheDemoFleetOneVirtualClusterPerCluster() throws {
    let dir = try TemporaryDirectory("fleet-sim-cli")
    defer { dir.remove() }
    let fleet = BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path
    let server = try BackgroundProcess(
      BuiltProducts.path("fleet-sim"),
      [
        "serve", "--fleet", fleet, "--state", dir.file("state"), "--kubeconfig", dir.file("kc"),
      ],
      output: dir.file("serve.log"))
    defer { _ = stop(server) }
    #expect(
      eventually(timeout: 60) { text(dir.file("serve.log")).contains("metrics:") },
      "\(text(dir.file("serve.log")))")
    #expect(text(dir.file("serve.log")).hasPrefix("fleet-sim: 60 virtual clusters\n"))
    let environment = [
      "KUBECONFIG": dir.file("kc"), "HOME": dir.path, "KUBECACHEDIR": dir.file("cache"),
    ]
    let contexts = try runProcess(
      "/usr/bin/env", ["kubectl", "config", "get-contexts", "-o", "name"], environment: environment)
    let names = contexts.stdout.split(separator: "\n")
    #expect(names.count == 60)
    #expect(names.contains("prod-euw1-a-1"))
    let namespace = try runProcess(
      "/usr/bin/env",
      [
        "kubectl", "--request-timeout=30s", "--context", "prod-euw1-a-1", "get", "namespace",
        "default", "-o", "name",
      ],
      environment: environment)
    #expect(namespace.stdout == "namespace/default\n", "\(namespace.stderr)")
    #expect(stop(server) == 0)
  }

  @Test func serveRefusesABrokenFleetWithItsErrors() throws {
    let dir = try TemporaryDirectory("fleet-sim-cli")
    defer { dir.remove() }
    try dir.write("fleet/fleet.yaml", "apiVersion: fleetwave/v1\nkind: Fleet\nrelease: [x]\n")
    let result = try runProcess(
      BuiltProducts.path("fleet-sim"),
      ["serve", "--fleet", dir.file("fleet"), "--state", dir.file("state")])
    #expect(result.status == 1)
    #expect(result.stderr.hasPrefix("\(dir.file("fleet/fleet.yaml")):"), "\(result.stderr)")
    let both = try runProcess(
      BuiltProducts.path("fleet-sim"), ["serve", "--fleet", "x", "--clusters", "2"])
    #expect(both.status == 2)
    #expect(both.stderr.contains("--fleet and --clusters cannot be used together"))
  }

  @Test func anInvalidFaultsFileIsRefusedWithItsPosition() throws {
    let dir = try TemporaryDirectory("fleet-sim-cli")
    defer { dir.remove() }
    let faults = try dir.write(
      "faults.yaml", "images:\n  - match: \"*:bad\"\n    effect: explode\n")
    let result = try runProcess(
      BuiltProducts.path("fleet-sim"), ["serve", "--state", dir.file("state"), "--faults", faults])
    #expect(result.status == 1)
    #expect(
      result.stderr.hasPrefix(
        "\(faults):3:13: error: unknown image effect 'explode'; expected never-ready,"
          + " crash-loop, unschedulable, probe-failing, slow or errors\n"
      ),
      "\(result.stderr)")
  }

  @Test func prometheusScrapesTheFleetEndpoint() throws {
    let sim = try SimFixture(speed: 50)
    let port = try freeLoopbackPort()
    let config = try sim.directory.write(
      "prometheus.yml",
      """
      global: {scrape_interval: 1s}
      scrape_configs:
        - job_name: fleet
          static_configs: [{targets: ["127.0.0.1:\(sim.server.port)"]}]

      """)
    let prometheus = try BackgroundProcess(
      "/usr/bin/prometheus",
      [
        "--config.file=\(config)", "--storage.tsdb.path=\(sim.directory.file("tsdb"))",
        "--web.listen-address=127.0.0.1:\(port)",
      ],
      output: sim.directory.file("prometheus.log"))
    defer { _ = stop(prometheus) }
    let query = "http://127.0.0.1:\(port)/api/v1/query?query=count%28app_requests_total%29"
    var answer: Value?
    let scraped = eventually(timeout: 60) {
      answer = try? HTTPExchange.send("GET", query).json
      return answer?.at("data", "result")?.sequence?.isEmpty == false
    }
    #expect(scraped, "\(text(sim.directory.file("prometheus.log")).suffix(2000))")
    // One series per virtual cluster, told apart by the cluster label.
    let value = answer?.at("data", "result")?.sequence?.first?["value"]?.sequence?.last
    #expect(value == "2")
  }
}

@Suite struct KubeconfigPathTests {
  /// kubectl resolves a kubeconfig's relative paths against the kubeconfig's folder, so the
  /// certificates must be named by absolute path whatever the state directory was called.
  @Test func certificatesAreNamedByAbsolutePath() throws {
    let dir = try TemporaryDirectory("fleet-sim-paths")
    defer { dir.remove() }
    try dir.write("state/token", "t")
    // The same directory, named relative to the working directory.
    let cwd = FileManager.default.currentDirectoryPath
    let ups = String(repeating: "../", count: cwd.split(separator: "/").count)
    let relative = ups + dir.file("state").dropFirst()
    let endpoints = Endpoints(port: 1, tlsPort: 2, clusters: ["a"], stateDirectory: relative)
    let text = try endpoints.kubeconfig()
    #expect(text.contains("certificate-authority: \"\(dir.file("state"))/ca.crt\""))
    #expect(text.contains("client-certificate: \"\(dir.file("state"))/client.crt\""))
    #expect(!text.contains("../"))
  }
}
