// The application each virtual cluster runs: request and error counters that grow with time, at
// an error ratio set by the deployed images, served as Prometheus text and a health endpoint.
import FleetCore
import Foundation

/// Monotonic counters advanced lazily: each read adds the traffic since the previous read at the
/// error ratio in force now.
final class AppTraffic: @unchecked Sendable {
  private let lock = NSLock()
  private var last: Date
  private var requests: Double = 0
  private var errors: Double = 0

  init(start: Date) { last = start }

  func advance(to now: Date, requestsPerSecond: Double, errorRatio: Double) -> (
    requests: Double, errors: Double
  ) {
    lock.lock()
    defer { lock.unlock() }
    let elapsed = max(0, now.timeIntervalSince(last))
    last = max(last, now)
    let added = elapsed * requestsPerSecond
    requests += added
    errors += added * errorRatio
    return (requests.rounded(.down), errors.rounded(.down))
  }
}

/// How the application of a virtual cluster behaves, given its deployed images and the faults.
struct AppModel {
  /// Healthy versions still fail a little, so error-ratio gates have a baseline to compare with.
  static let baselineErrorRatio = 0.001
  static let requestsPerSecond = 20.0

  let cluster: VirtualCluster
  let faults: FaultSet
  let speed: Double

  var images: [String] { cluster.deployedImages() }

  func errorRatio(_ images: [String]) -> Double {
    var ratio = Self.baselineErrorRatio
    for image in images {
      if let fault = faults.imageFault(image, cluster: cluster.name, labels: cluster.spec.labels) {
        ratio = max(ratio, fault.effect == .errors ? fault.errorRatio : 1)
      }
    }
    return ratio
  }

  /// Healthy unless a deployed image crashes, never starts, or fails most requests.
  func isHealthy(_ images: [String]) -> Bool { errorRatio(images) < 0.5 }

  static let families: [(name: String, type: String, help: String)] = [
    ("app_requests_total", "counter", "Requests served by the application."),
    ("app_request_errors_total", "counter", "Requests that failed with a 5xx."),
    ("app_up", "gauge", "1 when the application passes its health check."),
    ("app_version_info", "gauge", "The images the application runs, one series each."),
  ]

  /// Sample lines per family, in the order of `families`; `withClusterLabel` for the fleet scrape.
  func samples(now: Date, withClusterLabel: Bool) -> [[String]] {
    let images = self.images
    let ratio = errorRatio(images)
    let counts = cluster.traffic.advance(
      to: now, requestsPerSecond: Self.requestsPerSecond * speed, errorRatio: ratio)
    let label = withClusterLabel ? "cluster=\"\(cluster.name)\"" : ""
    func labels(_ extra: String) -> String {
      let parts = [label, extra].filter { !$0.isEmpty }
      return parts.isEmpty ? "" : "{" + parts.joined(separator: ",") + "}"
    }
    return [
      ["app_requests_total\(labels("")) \(Int64(counts.requests))"],
      ["app_request_errors_total\(labels("")) \(Int64(counts.errors))"],
      ["app_up\(labels("")) \(isHealthy(images) ? 1 : 0)"],
      images.map { "app_version_info\(labels("image=\"\($0)\"")) 1" },
    ]
  }

  /// Prometheus text exposition of several clusters' samples, each family once.
  static func exposition(_ perCluster: [[[String]]]) -> String {
    var out = ""
    for (index, family) in families.enumerated() {
      out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
      for samples in perCluster where index < samples.count {
        for line in samples[index] { out += line + "\n" }
      }
    }
    return out
  }
}
