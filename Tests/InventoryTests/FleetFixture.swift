// Fleets written into temporary directories for tests, and readable renderings of the result.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory

/// A fleet directory built from file texts; `fleet.yaml` is always among them.
struct FleetFixture {
  let directory: TemporaryDirectory

  init(_ files: [String: String]) throws {
    directory = try TemporaryDirectory("inventory")
    for (path, text) in files { try directory.write(path, text) }
  }

  var path: String { directory.path }

  func load() throws -> LoadedFleet {
    try FleetLoader.load(directory: path)
  }

  /// Every diagnostic of a failed load, rendered, with the directory shown as `FLEET`.
  func problems() -> String {
    do {
      let loaded = try FleetLoader.load(directory: path)
      return "loaded without errors; warnings: "
        + loaded.warnings.map(\.description).joined(separator: "\n")
    } catch {
      return error.diagnostics.map(\.description).joined(separator: "\n")
        .replacingOccurrences(of: path, with: "FLEET")
    }
  }

  func remove() { directory.remove() }
}

/// A fleet file with the given clusters and extra top-level text.
func fleetFile(clusters: String, _ extra: String = "") -> String {
  """
  apiVersion: fleetwave/v1
  kind: Fleet
  metadata: {name: test}
  release: {name: app, namespace: shop, driver: sim}
  clusters:
  \(clusters)
  \(extra)
  """
}

/// Six clusters over two environments and three regions.
let sixClusters = """
    - {name: dev-a, labels: {env: dev, region: eu, canary: "true"}}
    - {name: dev-b, labels: {env: dev, region: us}}
    - {name: prod-a, labels: {env: prod, region: eu, canary: "true"}}
    - {name: prod-b, labels: {env: prod, region: us, tier: gold}}
    - {name: prod-c, labels: {env: prod, region: ap, tier: silver}}
    - {name: prod-d, labels: {env: prod, region: ap}}
  """

extension Value {
  /// Plain data for comparisons: marks dropped.
  var plain: Value { unmarked }
}
