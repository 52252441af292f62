// Renders a release for every cluster of a fleet without touching any cluster: what
// `validate --render` runs, so a values type error, a template reading a missing key or a
// missing chart dependency fails before wave 0 rather than on every cluster mid-rollout.
import FleetCore
import Foundation

/// One reason the release does not render, and the clusters it fails for, in fleet order.
public struct RenderProblem: Sendable, Equatable {
  public var message: String
  public var clusters: [String]

  public init(message: String, clusters: [String]) {
    self.message = message
    self.clusters = clusters
  }
}

extension ReleaseRenderer {
  /// Renders the release for each of `clusters` (once per distinct input, through the cache)
  /// and returns the failures grouped by message, in the order first met. At most `window`
  /// clusters are being worked on at once, so a fleet of any size holds a bounded number of
  /// tasks and rendered releases.
  public func check(
    _ clusters: [Cluster], values: @escaping @Sendable (Cluster) throws(DriverError) -> Value,
    window: Int = 64
  ) async -> [RenderProblem] {
    var failures: [(index: Int, message: String)] = []
    await withTaskGroup(of: (Int, String?).self) { group in
      var next = 0
      func startNext() {
        guard next < clusters.count else { return }
        let index = next
        let cluster = clusters[index]
        next += 1
        group.addTask {
          do throws(DriverError) {
            _ = try await self.render(cluster, values: try values(cluster))
            return (index, nil)
          } catch {
            return (index, error.message)
          }
        }
      }
      for _ in 0..<max(1, window) { startNext() }
      for await (index, message) in group {
        if let message { failures.append((index, message)) }
        startNext()
      }
    }
    var problems: [RenderProblem] = []
    var byMessage: [String: Int] = [:]
    for failure in failures.sorted(by: { $0.index < $1.index }) {
      let name = clusters[failure.index].name
      if let at = byMessage[failure.message] {
        problems[at].clusters.append(name)
      } else {
        byMessage[failure.message] = problems.count
        problems.append(RenderProblem(message: failure.message, clusters: [name]))
      }
    }
    return problems
  }
}
