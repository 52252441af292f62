// Clusters share the parsed values they have in common: a large values file is in memory once,
// however many clusters' values are resolved from it.
import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct ValuesSharingTests {
  /// Where a collection's elements live: equal for two values that share their storage.
  func storage(_ value: Value?) -> UnsafeRawPointer? {
    switch value?.kind {
    case .mapping(let mapping):
      return mapping.entries.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) }
        ?? nil
    case .sequence(let items):
      return items.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    default: return nil
    }
  }

  @Test func subtreesNoLayerChangesAreSharedBetweenClusters() throws {
    let services = (0..<20).map { "  service-\($0): {replicas: \($0), ports: [80, 443]}" }
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        values:
          - values/base.yaml
          - "values/env/{{ .labels.env }}.yaml"
        """),
      "values/base.yaml": "global: {env: none}\nservices:\n" + services.joined(separator: "\n"),
      "values/env/dev.yaml": "global: {env: dev}\n",
      "values/env/prod.yaml": "global: {env: prod}\nservices: {service-3: {replicas: 9}}\n",
    ])
    defer { fixture.remove() }
    let loaded = try fixture.load()
    var values: [String: Value] = [:]
    for cluster in loaded.fleet.clusters {
      values[cluster.name] = try loaded.values.values(for: cluster)
    }
    let dev = try #require(values["dev-a"])
    let otherDev = try #require(values["dev-b"])
    let prod = try #require(values["prod-a"])
    #expect(dev["global"] == ["env": "dev"])
    #expect(prod["services"]?["service-3"]?["replicas"] == 9)
    // Untouched by the dev layer: every dev cluster holds the base file's own `services`.
    #expect(storage(dev["services"]) != nil)
    #expect(storage(dev["services"]) == storage(otherDev["services"]))
    // The prod layer changes one service: the map around it is the cluster's own, the
    // services beside it are still the base file's.
    #expect(storage(prod["services"]) != storage(dev["services"]))
    #expect(storage(prod["services"]?["service-4"]) == storage(dev["services"]?["service-4"]))
    #expect(
      storage(prod["services"]?["service-4"]?["ports"])
        == storage(dev["services"]?["service-4"]?["ports"]))
  }
}
