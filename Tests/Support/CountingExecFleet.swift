// An exec-driver fleet whose commands count each cluster's upgrades: for tests that check no
// cluster is upgraded twice across stops, approvals and resumes.
import Foundation

public struct CountingExecFleet {
  /// Where the commands leave `CLUSTER.runs` (a line per upgrade) and `CLUSTER.rev`.
  public let marks: String
  public let clusters: [String]

  /// Writes `fleet/fleet.yaml` under `dir`: release checkout 2.0.0 by the exec driver, the
  /// `clusters` block and `rollout` block given as YAML lines.
  public init(
    in dir: TemporaryDirectory, name: String, clusters: [(name: String, labels: String)],
    rollout: String
  ) throws {
    marks = dir.file("marks")
    self.clusters = clusters.map(\.name)
    try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
    let clusterLines = clusters.map { "  - {name: \($0.name), labels: {\($0.labels)}}" }
    _ = try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: \(name)}
      release:
        name: checkout
        namespace: shop
        driver: exec
        version: 2.0.0
        exec:
          upgrade: 'echo x >> \(marks)/$FLEETWAVE_CLUSTER.runs; echo 2.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
          rollback: 'echo 1.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
          revision: 'cat \(marks)/$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
      clusters:

      """ + clusterLines.joined(separator: "\n") + "\nrollout:\n" + rollout)
  }

  /// How many times each cluster was upgraded.
  public var upgrades: [String: Int] { Self.upgrades(marks: marks, clusters: clusters) }

  public static func upgrades(marks: String, clusters: [String]) -> [String: Int] {
    var counts: [String: Int] = [:]
    for name in clusters {
      let text = (try? String(contentsOfFile: "\(marks)/\(name).runs", encoding: .utf8)) ?? ""
      counts[name] = text.split(separator: "\n").count
    }
    return counts
  }
}
