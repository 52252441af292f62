// Renders once per distinct input: the cache on its own, and the kube driver with the real
// helm over fleet-sim, where clusters sharing their merged values share one `helm template`.
import Drivers
import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Inventory
import Kube
import Testing

@Suite struct RenderCacheTests {
  /// Objects that name the key they were rendered for, so a mixed-up answer shows.
  private static func objects(_ key: String) -> [Value] {
    [["kind": "ConfigMap", "metadata": ["name": .string(key)]]]
  }

  @Test func concurrentAsksForTheSameInputShareOneRender() async throws {
    let cache = RenderCache()
    let keys = ["eu", "us", "ap"]
    let answers = try await withThrowingTaskGroup(of: (String, [Value]).self) { group in
      for index in 0..<300 {
        let key = keys[index % keys.count]
        group.addTask {
          let objects = try await cache.objects(RenderKey([key])) { () throws(DriverError) in
            Self.objects(key)
          }
          return (key, objects)
        }
      }
      var answers: [(String, [Value])] = []
      for try await answer in group { answers.append(answer) }
      return answers
    }
    #expect(answers.count == 300)
    #expect(answers.allSatisfy { $0.1 == Self.objects($0.0) })
    #expect(cache.renders == 3)
  }

  @Test func aFailedRenderIsNotKept() async throws {
    let cache = RenderCache()
    let attempts = Counter()
    let render = { @Sendable () throws(DriverError) -> [Value] in
      if attempts.next() == 1 {
        throw DriverError(.setup, "helm template failed (exit 1): disk full")
      }
      return Self.objects("eu")
    }
    await #expect(throws: DriverError(.setup, "helm template failed (exit 1): disk full")) {
      try await cache.objects(RenderKey(["eu"]), render: render)
    }
    #expect(try await cache.objects(RenderKey(["eu"]), render: render) == Self.objects("eu"))
    #expect(cache.renders == 2)
  }

  @Test func theLeastRecentlyUsedRenderIsDroppedWhenFull() async throws {
    let cache = RenderCache(capacity: 2)
    for key in ["a", "b", "a", "c", "a", "b"] {
      _ = try await cache.objects(RenderKey([key])) { () throws(DriverError) in Self.objects(key) }
    }
    // a, b rendered; a hit; c evicts b (a was used later); a hit; b rendered again.
    #expect(cache.renders == 4)
  }

  @Test func keysTellInputListsApartHoweverTheyJoin() {
    #expect(RenderKey(["ab", "c"]) != RenderKey(["a", "bc"]))
    #expect(RenderKey(["a", "b"]) == RenderKey(["a", "b"]))
  }

  /// Asked from twelve threads of their own (not the cooperative pool, which other tests'
  /// blocking calls can hold), twelve distinct renders run three at a time.
  @Test func atMostConcurrencyRendersRunAtOnce() throws {
    let cache = RenderCache(concurrency: 3)
    let running = Counter()
    let peak = Counter()
    let gate = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    for index in 0..<12 {
      done.enter()
      Thread {
        _ = try? Blocking.wait { () async throws(DriverError) in
          try await cache.objects(RenderKey(["\(index)"])) { () throws(DriverError) in
            peak.raise(to: running.next())
            gate.wait()
            running.decrement()
            return Self.objects("\(index)")
          }
        }
        done.leave()
      }.start()
    }
    // Let the first renders in, then open the gate for all twelve, one at a time.
    #expect(eventually { running.value == 3 })
    for _ in 0..<12 { gate.signal() }
    #expect(done.wait(timeout: .now() + 60) == .success)
    #expect(peak.value == 3)
    #expect(cache.renders == 12)
  }

  @Test func theKubeDriverRendersOncePerDistinctValues() throws {
    let loaded = try demoFleet()
    let clusters = Array(loaded.fleet.clusters.prefix(12))
    let resolver = loaded.values
    let distinct = Set(
      try clusters.map { YAML.emit(try resolver.values(for: $0, sets: []).unmarked) })
    // The point of the test: some clusters share their values, so renders < clusters.
    try #require(distinct.count < clusters.count)
    let sim = try KubeSim(clusters: clusters)
    let driver = try sim.driver(
      loaded.fleet.release, fleetDirectory: loaded.fleet.directory,
      values: { cluster in (try? resolver.values(for: cluster, sets: [])) ?? .null })

    let results = ResultsBox()
    let done = DispatchGroup()
    for cluster in clusters {
      done.enter()
      driver.upgrade(call(cluster), from: nil) { result in
        results.append(cluster.name, result)
        done.leave()
      }
    }
    #expect(done.wait(timeout: .now() + 120) == .success)
    #expect(results.all.count == clusters.count)
    #expect(results.all.values.allSatisfy { $0 == .success("1") })
    let renders = driver.renderer.cache.renders
    #expect(renders == distinct.count)
    // Each cluster got the render of its own values, not another cluster's.
    for cluster in clusters {
      let values = try resolver.values(for: cluster, sets: [])
      let repository = try #require(values["image"]?["repository"]?.string)
      let tag = try #require(values["image"]?["tag"]?.string)
      let live = try sim.deployment(cluster.name, namespace: "shop", name: "checkout")
      #expect(image(live) == "\(repository):\(tag)", "\(cluster.name)")
    }
    #expect(
      Set(clusters.map { image(try? sim.deployment($0.name, namespace: "shop", name: "checkout")) })
        .count > 1)
  }
}

/// A thread-safe counter for closures that run on Dispatch threads.
private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0

  var value: Int { lock.withLock { count } }

  /// Adds one and returns the new count.
  func next() -> Int {
    lock.withLock {
      count += 1
      return count
    }
  }
  func decrement() { lock.withLock { count -= 1 } }
  func raise(to candidate: Int) { lock.withLock { count = max(count, candidate) } }
}

private final class ResultsBox: @unchecked Sendable {
  private let lock = NSLock()
  private var results: [String: Result<String, DriverError>] = [:]
  func append(_ cluster: String, _ result: Result<String, DriverError>) {
    lock.withLock { results[cluster] = result }
  }
  var all: [String: Result<String, DriverError>] { lock.withLock { results } }
}

@Suite struct RenderTimeoutTests {
  /// A helm that never finishes (here a stand-in that starts a child and waits on it, the one
  /// fault a real helm will not produce on demand) is killed with its whole process group at
  /// the render timeout, and the cluster gets an error that says so.
  @Test func aHungRenderIsKilledWithEverythingItStarted() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("fleetwave-render-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let helm = directory + "/helm"
    try "#!/bin/sh\nsleep 300 &\necho $! > \(directory)/child\nwait\n".write(
      toFile: helm, atomically: true, encoding: .utf8)
    #expect(chmod(helm, 0o755) == 0)
    let renderer = ReleaseRenderer(
      release: Release(name: "shop", namespace: "shop", driver: .kube, chart: "chart"),
      fleetDirectory: directory, helm: helm, renderTimeout: .milliseconds(300))

    await #expect(
      throws: DriverError(.setup, "helm template did not finish within 300ms; killed")
    ) {
      _ = try await renderer.render(Cluster(name: "eu-1"), values: ["replicas": 2])
    }
    let child = try #require(
      pid_t(
        try String(contentsOfFile: directory + "/child", encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines)))
    // The whole group got SIGKILL before the render returned: the child is gone, or dies now.
    if let watch = ProcessExitWatch(child) {
      defer { close(watch.descriptor) }
      #expect(watch.exited(withinMilliseconds: 10_000))
    }
  }
}
