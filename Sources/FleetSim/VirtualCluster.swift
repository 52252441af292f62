// One virtual cluster: its name and labels, its objects, and its application's traffic counters.
import FleetCore
import Foundation

/// What the server is asked to serve: a cluster name (used in its URL) and its labels.
public struct VirtualClusterSpec: Sendable, Equatable {
  public var name: String
  public var labels: [String: String]

  public init(name: String, labels: [String: String] = [:]) {
    self.name = name
    self.labels = labels
  }

  /// `sim-0001` ... `sim-N`, labelled with an env, a region and a canary flag, so selectors have
  /// something to select.
  public static func numbered(_ count: Int) -> [VirtualClusterSpec] {
    let width = max(4, String(count).count)
    let regions = ["eu-west-1", "us-east-1", "ap-south-1"]
    return (1...max(1, count)).prefix(count).map { i in
      let digits = String(i)
      let name = "sim-" + String(repeating: "0", count: max(0, width - digits.count)) + digits
      return VirtualClusterSpec(
        name: name,
        labels: [
          "env": i % 10 == 1 ? "staging" : "prod", "region": regions[i % regions.count],
          "canary": i == 1 ? "true" : "false",
        ])
    }
  }
}

public final class VirtualCluster: @unchecked Sendable {
  public let spec: VirtualClusterSpec
  public let store: ClusterStore
  let traffic: AppTraffic

  init(spec: VirtualClusterSpec, caBundle: String = "", now: Date) {
    self.spec = spec
    store = ClusterStore(name: spec.name, labels: spec.labels, caBundle: caBundle, now: now)
    traffic = AppTraffic(start: now)
  }

  public var name: String { spec.name }

  /// Images of every workload's pod template, in a stable order.
  func deployedImages() -> [String] {
    var images: [String] = []
    for type in ResourceCatalog.all where type.isWorkload {
      for object in store.all(type) {
        for container in object.at("spec", "template", "spec", "containers")?.sequence ?? [] {
          if let image = container["image"]?.string, !images.contains(image) {
            images.append(image)
          }
        }
      }
    }
    return images.sorted()
  }
}
