// Work over many clusters at most `window` at a time, results in the clusters' order.
import FleetCore

extension Array where Element == Cluster {
  /// `work` for each cluster, at most `window` running at once: each is a task awaiting
  /// requests on the shared HTTP loop, so a fleet of any size holds a bounded number of tasks
  /// and no thread per cluster. (PreflightAction.run and ReleaseRenderer.check hold the same
  /// loop; they can move onto this.)
  func inWindow<T: Sendable>(_ window: Int, _ work: @escaping @Sendable (Cluster) async -> T)
    async -> [T]
  {
    var results: [T?] = [T?](repeating: nil, count: count)
    await withTaskGroup(of: (Int, T).self) { group in
      var next = 0
      func startNext() {
        guard next < count else { return }
        let index = next
        let cluster = self[index]
        next += 1
        group.addTask { (index, await work(cluster)) }
      }
      for _ in 0..<Swift.max(1, window) { startNext() }
      for await (index, result) in group {
        results[index] = result
        startNext()
      }
    }
    return results.compactMap { $0 }
  }
}
