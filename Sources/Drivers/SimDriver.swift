// The `sim` driver: in-process upgrades with seeded durations and injected failures, for dry
// runs, demos, tests and benchmarks; and the health gate that reads its injected faults.
import FleetCore
import Foundation

/// Deterministic draws keyed by (seed, cluster, purpose), so a simulated cluster behaves the
/// same whatever order the executor happens to start clusters in.
public struct SimRandom: Sendable, Equatable {
  public var seed: UInt64

  public init(seed: UInt64) { self.seed = seed }

  /// A number in [0, 1) for `key`.
  public func unit(_ key: String, _ purpose: String) -> Double {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in (purpose + "\u{0}" + key).utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    var z = hash &+ seed &* 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    z ^= z >> 31
    return Double(z >> 11) / Double(UInt64(1) << 53)
  }
}

/// How long one simulated upgrade takes.
public enum SimDuration: Sendable, Equatable {
  case fixed(Duration)
  /// Uniform between the two bounds.
  case uniform(Duration, Duration)

  func draw(_ u: Double) -> Duration {
    switch self {
    case .fixed(let d): return d
    case .uniform(let low, let high):
      let lo = DurationText.seconds(low)
      let hi = DurationText.seconds(high)
      return .milliseconds(Int64(((lo + (hi - lo) * u) * 1000).rounded()))
    }
  }
}

/// Which clusters fail, and where.
public struct SimFaults: Sendable, Equatable {
  /// Which clusters a fault hits: by name, by label selector, or at random.
  public struct Target: Sendable, Equatable {
    public var names: Set<String>
    public var selectors: [LabelSelector]
    public var probability: Double

    public init(names: Set<String> = [], selectors: [LabelSelector] = [], probability: Double = 0) {
      self.names = names
      self.selectors = selectors
      self.probability = probability
    }

    func hits(_ cluster: Cluster, random: SimRandom, purpose: String) -> Bool {
      if names.contains(cluster.name) { return true }
      if selectors.contains(where: { $0.matches(cluster.labels) }) { return true }
      return probability > 0 && random.unit(cluster.name, purpose) < probability
    }
  }

  public var upgrade: Target
  public var health: Target
  public var rollback: Target

  public init(upgrade: Target = Target(), health: Target = Target(), rollback: Target = Target()) {
    self.upgrade = upgrade
    self.health = health
    self.rollback = rollback
  }
}

public final class SimDriver: Driver, @unchecked Sendable {
  public let name = "sim"
  public let duration: SimDuration
  /// Clusters whose upgrades take their own time (e.g. from `expectedDuration`).
  public let durations: [String: SimDuration]
  public let rollbackDuration: SimDuration
  public let faults: SimFaults
  public let random: SimRandom

  private let lock = NSLock()
  /// Revisions per cluster, oldest first; a cluster starts at revision 1.
  private var histories: [String: [Int]] = [:]
  /// Clusters whose release an uninstall removed.
  private var removed: Set<String> = []

  public init(
    duration: SimDuration = .fixed(.seconds(1)), durations: [String: SimDuration] = [:],
    rollbackDuration: SimDuration? = nil, faults: SimFaults = SimFaults(), seed: UInt64 = 1
  ) {
    self.duration = duration
    self.durations = durations
    self.rollbackDuration = rollbackDuration ?? duration
    self.faults = faults
    self.random = SimRandom(seed: seed)
  }

  /// The revision the cluster is at now.
  public func revision(of cluster: String) -> Int {
    lock.lock()
    defer { lock.unlock() }
    return histories[cluster]?.last ?? 1
  }

  /// Every revision the cluster went through, starting at 1.
  public func history(of cluster: String) -> [Int] {
    lock.lock()
    defer { lock.unlock() }
    return histories[cluster] ?? [1]
  }

  /// The health fault injected for `cluster`, if any.
  public func healthFails(_ cluster: Cluster) -> Bool {
    faults.health.hits(cluster, random: random, purpose: "health")
  }

  public func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    let cluster = call.cluster
    let length = (durations[cluster.name] ?? duration).draw(random.unit(cluster.name, "duration"))
    let fails = faults.upgrade.hits(cluster, random: random, purpose: "upgrade")
    after(length, call, completion) { [self] in
      if fails { return .failure(DriverError(.failed, "simulated upgrade failure")) }
      return .success(String(advance(cluster.name)))
    }
  }

  public func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    let cluster = call.cluster
    let length = rollbackDuration.draw(random.unit(cluster.name, "rollback-duration"))
    let fails = faults.rollback.hits(cluster, random: random, purpose: "rollback")
    after(length, call, completion) { [self] in
      if fails { return .failure(DriverError(.failed, "simulated rollback failure")) }
      return .success(String(advance(cluster.name)))
    }
  }

  /// Takes as long as an upgrade and fails where an upgrade would (`--sim-fail`); a cluster
  /// uninstalled before answers `not-installed`.
  public func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>
  ) {
    let cluster = call.cluster
    let length = (durations[cluster.name] ?? duration).draw(random.unit(cluster.name, "duration"))
    let fails = faults.upgrade.hits(cluster, random: random, purpose: "upgrade")
    after(length, call, completion) { [self] in
      if fails { return .failure(DriverError(.failed, "simulated uninstall failure")) }
      let (inserted, _) = lock.withLock { removed.insert(cluster.name) }
      return .success(inserted ? UninstallOutcome.uninstalled : UninstallOutcome.notInstalled)
    }
  }

  public func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    let gone = lock.withLock { removed.contains(call.cluster.name) }
    let current = gone ? nil : String(revision(of: call.cluster.name))
    call.queue.async { completion(.success(current)) }
  }

  private func advance(_ cluster: String) -> Int {
    lock.lock()
    defer { lock.unlock() }
    var history = histories[cluster] ?? [1]
    let next = (history.last ?? 1) + 1
    history.append(next)
    histories[cluster] = history
    return next
  }

  /// Completes after `length` of clock time (or at the timeout, or on cancellation), once.
  private func after(
    _ length: Duration, _ call: DriverCall, _ completion: @escaping DriverCompletion<String>,
    _ outcome: @escaping @Sendable () -> Result<String, DriverError>
  ) {
    let once = CompletionOnce(completion)
    let timedOut = length > call.timeout
    let deadline = call.clock.now().addingTimeInterval(
      DurationText.seconds(timedOut ? call.timeout : length))
    let timer = call.clock.schedule(at: deadline, on: call.queue) {
      if timedOut {
        once.complete(
          .failure(
            DriverError(.timedOut, "timed out after \(DurationText.format(call.timeout))")))
      } else {
        once.complete(outcome())
      }
    }
    call.cancellation.onCancel {
      timer.cancel()
      call.queue.async { once.complete(.failure(DriverError(.cancelled, "cancelled"))) }
    }
  }
}

/// Guards a completion so a timer and a cancellation racing each other report once.
final class CompletionOnce<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var completion: DriverCompletion<T>?

  init(_ completion: @escaping DriverCompletion<T>) { self.completion = completion }

  func complete(_ result: Result<T, DriverError>) {
    lock.lock()
    let pending = completion
    completion = nil
    lock.unlock()
    pending?(result)
  }
}

/// The health gate of simulated clusters: fails where the sim driver injects health faults,
/// with a measurement as a real error-rate gate would record it.
public struct SimHealthGate: HealthGate {
  public let name: String
  public let driver: SimDriver

  public init(driver: SimDriver, name: String = "sim-health") {
    self.driver = driver
    self.name = name
  }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    -> GateResult
  {
    var measurements: [FleetCore.Measurement] = []
    var failing: [String] = []
    for cluster in clusters {
      let fails = driver.healthFails(cluster)
      if fails { failing.append(cluster.name) }
      measurements.append(
        FleetCore.Measurement(
          gate: name, at: clock.now(), value: fails ? 0.25 : 0, outcome: fails ? .failed : .passed,
          detail: fails ? "error rate 0.25 > 0.01" : "error rate 0 <= 0.01"))
    }
    if failing.isEmpty {
      return GateResult(gate: name, passed: true, measurements: measurements, summary: "healthy")
    }
    return GateResult(
      gate: name, passed: false, measurements: measurements,
      summary: "unhealthy: " + failing.joined(separator: ", ") + " (error rate 0.25 > 0.01)")
  }
}
