// Scripts/gen-fleet.py writes fleets that load cleanly, in both cluster-file layouts.
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct GeneratorTests {
  @Test(arguments: ["per-cluster", "grouped"])
  func generatedFleetsLoadWithoutProblems(layout: String) throws {
    let work = try TemporaryDirectory("gen-fleet")
    defer { work.remove() }
    let script = BuiltProducts.packageRoot.appendingPathComponent("Scripts/gen-fleet.py").path
    let result = try runProcess(
      "/usr/bin/env", ["python3", script, "400", work.file("fleet"), "--layout", layout],
      timeout: 60)
    #expect(result.status == 0, "\(result.stderr)")
    let loaded = try FleetLoader.load(directory: work.file("fleet"))
    #expect(loaded.warnings.isEmpty)
    #expect(loaded.fleet.clusters.count == 400)
    #expect(loaded.fleet.name == "synthetic-400")
    let files = try FileManager.default.subpathsOfDirectory(atPath: work.file("fleet/clusters"))
      .filter { $0.hasSuffix(".yaml") }
    #expect(files.count == (layout == "per-cluster" ? 400 : 20))
    // One cluster in a hundred has an override file, which sets a chart value to null.
    let first = try #require(loaded.fleet.clusters.first { $0.name.hasSuffix("-000000") })
    let values = try loaded.values.values(for: first)
    #expect(values["replicaCount"] == 3)
    #expect(values["config"]?["setting02"]?.isNull == true)
    let plain = try #require(loaded.fleet.clusters.first { $0.name.hasSuffix("-000001") })
    #expect(try loaded.values.values(for: plain)["config"]?["setting02"] != nil)
    #expect(try loaded.values.values(for: plain)["config"]?["setting02"]?.isNull == false)
  }
}
