// Loading a whole fleet and merging every cluster's values: the Inventory's scale benchmark.
import FleetCore
import Foundation
import Inventory

/// `fleetwave-bench inventory DIR [--runs N]`: times FleetLoader.load (which validates and
/// reads every values file once) and then values(for:) for every cluster, best of N runs.
/// Memory is measured from outside: `/usr/bin/time -v fleetwave-bench inventory DIR --runs 1`.
enum InventoryBenchmark {
  static func run(_ arguments: [String]) throws {
    guard let directory = arguments.first else {
      throw Diagnostic.error("inventory: a fleet DIR is required")
    }
    var runs = 3
    if let i = arguments.firstIndex(of: "--runs"), i + 1 < arguments.count,
      let n = Int(arguments[i + 1])
    {
      runs = n
    }
    var bestLoad = Double.infinity
    var bestMerge = Double.infinity
    var bestTotal = Double.infinity
    var clusters = 0
    var leaves = 0
    for _ in 0..<runs {
      let start = DispatchTime.now().uptimeNanoseconds
      let loaded = try FleetLoader.load(directory: directory)
      let loadedAt = DispatchTime.now().uptimeNanoseconds
      leaves = 0
      for cluster in loaded.fleet.clusters {
        leaves += count(try loaded.values.values(for: cluster))
      }
      let end = DispatchTime.now().uptimeNanoseconds
      clusters = loaded.fleet.clusters.count
      bestLoad = min(bestLoad, Double(loadedAt - start) / 1e9)
      bestMerge = min(bestMerge, Double(end - loadedAt) / 1e9)
      bestTotal = min(bestTotal, Double(end - start) / 1e9)
    }
    print(
      String(
        format: "inventory  %@: %d clusters, %d leaves merged, best of %d\n"
          + "  load + validate   %8.3f s\n"
          + "  merge all values  %8.3f s  (%.1f us per cluster)\n"
          + "  total             %8.3f s",
        directory, clusters, leaves, runs, bestLoad, bestMerge,
        bestMerge / Double(max(clusters, 1)) * 1e6, bestTotal))
  }

  static func count(_ value: Value) -> Int {
    switch value.kind {
    case .sequence(let items): return items.reduce(0) { $0 + count($1) }
    case .mapping(let m): return m.entries.reduce(0) { $0 + count($1.value) }
    default: return 1
    }
  }
}
