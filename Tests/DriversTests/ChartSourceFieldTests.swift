// The release's chart-source fields as the loader reads them, and the version options: what
// `version` means now, and each misuse located at its field.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct ChartSourceFieldTests {
  /// Loads a one-cluster fleet whose release block (from `chart:` on) is `source`; the
  /// release, or the diagnostics' first lines; the directory is removed unless `keep`.
  func load(_ source: String, keep: Bool = false) throws -> (Release?, [String], String) {
    let directory = try TemporaryDirectory("chart-fields")
    defer { if !keep { directory.remove() } }
    try FileManager.default.createDirectory(
      atPath: directory.file("charts/web"), withIntermediateDirectories: true)
    _ = try directory.write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n")
    _ = try directory.write(
      "fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: web}
      release:
        name: web
        driver: kube
      \(source)
      clusters: [{name: a, labels: {env: x}, server: "https://a.example"}]
      rollout: {waves: [{name: all, selector: env=x}]}

      """)
    do throws(DiagnosticError) {
      return (try FleetLoader.load(directory: directory.path).fleet.release, [], directory.path)
    } catch {
      // The first line: the rest quotes the source under a caret.
      let lines = error.diagnostics.map { String($0.description.prefix { $0 != "\n" }) }
      return (nil, lines, directory.path)
    }
  }

  @Test func versionIsTheOldNameOfAppVersionAndStillPinsARemoteChart() throws {
    let (legacy, _, _) = try load("  chart: oci://registry.example/charts/web\n  version: 1.2.0")
    #expect(legacy?.appVersion == "1.2.0")
    #expect(legacy?.chartVersion == "1.2.0")
    let (split, _, _) = try load(
      "  chart: oci://registry.example/charts/web\n  chartVersion: ^1.2\n  appVersion: 2.0.0")
    #expect(split?.appVersion == "2.0.0")
    #expect(split?.chartVersion == "^1.2")
    let (local, _, _) = try load("  chart: charts/web\n  version: 3.0.0")
    #expect(local?.appVersion == "3.0.0")
    #expect(local?.chartVersion == nil)
  }

  @Test func misusedFieldsAreLocated() throws {
    let (_, local, dir1) = try load("  chart: charts/web\n  chartVersion: 1.0.0")
    #expect(
      local == [
        "\(dir1)/fleet.yaml:8:17: error: chartVersion applies to a repository or OCI chart; a"
          + " local chart's version is its Chart.yaml"
      ])
    let (_, both, dir2) = try load("  chart: charts/web\n  version: 1.0.0\n  appVersion: 2.0.0")
    #expect(
      both == [
        "\(dir2)/fleet.yaml:8:12: error: release.version '1.0.0' and release.appVersion '2.0.0'"
          + " differ; version is the old name of appVersion: keep one"
      ])
    let (_, oci, dir3) = try load(
      "  chart: oci://registry.example/web\n  repo: https://charts.example")
    #expect(
      oci == [
        "\(dir3)/fleet.yaml:8:9: error: repo is for a chart named in a Helm repository; an"
          + " oci:// chart names its registry itself"
      ])
    let (_, archive, dir4) = try load("  chart: web-1.0.0.tgz\n  caFile: ca.pem")
    #expect(
      archive == [
        "\(dir4)/fleet.yaml:7:10: error: chart archive 'web-1.0.0.tgz' does not exist",
        "\(dir4)/fleet.yaml:8:11: error: caFile 'ca.pem' does not exist",
      ])
  }

  @Test func rolloutVersionIsTheChartVersionNotTheToolsVersion() throws {
    let demo = BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path
    let result = try fleetwave(["rollout", demo, "--version", "1.2.3", "--dry-run"])
    #expect(result.status == 2)
    #expect(
      result.stderr.hasPrefix(
        "Error: --chart-version applies to a repository or OCI chart; this release's chart is"
          + " local (its version is its Chart.yaml)\n"))
    let plan = try fleetwave(["plan", demo, "--app-version", "9.9.9"])
    #expect(plan.stdout.hasPrefix("Plan for fleet demo, release checkout 9.9.9\n"))

    // A remote chart's version shows in the plan, the command line's over the fleet's.
    let (_, _, remote) = try load(
      "  chart: oci://registry.example/charts/web\n  chartVersion: ^1.2\n  appVersion: 2.0.0",
      keep: true)
    defer { try? FileManager.default.removeItem(atPath: remote) }
    let remotePlan = try fleetwave(["plan", remote, "--version", "~1.3"])
    #expect(
      remotePlan.stdout.hasPrefix("Plan for fleet web, release web 2.0.0 (chart ~1.3)\n"),
      "\(remotePlan.stdout)\(remotePlan.stderr)")
    let json = try fleetwave(["plan", remote, "-o", "json"])
    #expect(json.stdout.contains("\"version\": \"2.0.0\",\n  \"chartVersion\": \"^1.2\",\n"))
  }
}
