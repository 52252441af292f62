// How a rollout proceeds: waves, limits, bake times, failure budgets, rollback scope, health gates.

/// A failure budget: a count, or a percentage of the clusters it applies to.
public enum FailureLimit: Sendable, Equatable, CustomStringConvertible {
  case count(Int)
  case percent(Double)

  /// How many failures are tolerated among `total` clusters. Percentages round down, so
  /// "10%" of 9 clusters tolerates 0 failures: a budget never allows more than it says.
  public func allowed(of total: Int) -> Int {
    switch self {
    case .count(let n): return n
    case .percent(let p): return Int((Double(total) * p / 100).rounded(.down))
    }
  }

  public var description: String {
    switch self {
    case .count(let n): return String(n)
    case .percent(let p): return Value.format(p) + "%"
    }
  }
}

public enum RollbackScope: String, Sendable, CaseIterable {
  /// Nothing is rolled back automatically.
  case none
  /// Only the clusters that failed.
  case failed
  /// Every cluster of the wave that crossed its budget.
  case wave
  /// Every cluster the run upgraded, in reverse wave order.
  case all
}

/// What happens to clusters still upgrading when the budget is crossed.
public enum InFlightPolicy: String, Sendable, CaseIterable {
  /// Let them finish (and count them), then roll back as the scope says.
  case finish
  /// Cancel them at once.
  case cancel
}

public struct FailurePolicy: Sendable, Equatable {
  public var maxFailuresPerWave: FailureLimit
  public var maxFailuresTotal: FailureLimit?
  public var rollback: RollbackScope
  public var inFlight: InFlightPolicy

  public init(
    maxFailuresPerWave: FailureLimit = .count(0), maxFailuresTotal: FailureLimit? = nil,
    rollback: RollbackScope = .failed, inFlight: InFlightPolicy = .finish
  ) {
    self.maxFailuresPerWave = maxFailuresPerWave
    self.maxFailuresTotal = maxFailuresTotal
    self.rollback = rollback
    self.inFlight = inFlight
  }
}

/// What happens to a cluster whose API cannot be reached: the connection refused or reset, a
/// connect or request timeout, a failed TLS handshake, or 502/503/504 from a proxy in front of
/// it. Not a 401, 403 or other answer from the API server, and not a failed readiness: those
/// say the cluster was reached and something else is wrong.
public enum UnreachableAction: String, Sendable, CaseIterable {
  /// The cluster fails at once, as any other failure.
  case fail
  /// The cluster goes back to its wave's queue and is tried again after a backoff, up to
  /// `deferAttempts` times, before it counts as failed.
  case `defer`
}

/// `onUnreachable` with its attempts and backoff, for the fleet or one wave.
public struct UnreachablePolicy: Sendable, Equatable {
  public var action: UnreachableAction
  /// How many times a cluster is deferred before it fails.
  public var attempts: Int
  /// The wait before the first retry; each further one doubles it, up to `maxBackoff`.
  public var backoff: Duration
  public var maxBackoff: Duration

  /// Failing at once is the default: a rollout that waits on an unreachable cluster is a
  /// choice the fleet makes, not a surprise it finds.
  public init(
    action: UnreachableAction = .fail, attempts: Int = 3, backoff: Duration = .seconds(10),
    maxBackoff: Duration = .seconds(120)
  ) {
    self.action = action
    self.attempts = attempts
    self.backoff = backoff
    self.maxBackoff = maxBackoff
  }

  /// The wait before retry number `attempt` (1-based): 10s, 20s, 40s, ... capped.
  public func delay(beforeRetry attempt: Int) -> Duration {
    var delay = backoff
    for _ in 1..<max(1, attempt) {
      guard delay < maxBackoff else { break }
      delay = delay * 2
    }
    return min(delay, maxBackoff)
  }
}

/// The canary wave: always first, tolerating no failures unless told otherwise.
public struct CanarySpec: Sendable, Equatable {
  public var selector: LabelSelector?
  public var count: Int?
  public var maxFailures: FailureLimit
  public var bake: Duration?
  public var approval: Bool
  /// With `spreadBy`, split the canaries into consecutive canary waves of one failure domain
  /// each, so a bad release reaches one new domain at a time.
  public var oneDomainPerWave: Bool
  /// The fleet's `onUnreachable` policy with the canary's own keys laid over it, for every
  /// canary wave; nil when the canary sets none.
  public var unreachable: UnreachablePolicy?
  public var mark: SourceMark?

  public init(
    selector: LabelSelector? = nil, count: Int? = nil, maxFailures: FailureLimit = .count(0),
    bake: Duration? = nil, approval: Bool = false, oneDomainPerWave: Bool = false,
    mark: SourceMark? = nil
  ) {
    self.selector = selector
    self.count = count
    self.maxFailures = maxFailures
    self.bake = bake
    self.approval = approval
    self.oneDomainPerWave = oneDomainPerWave
    self.mark = mark
  }
}

/// One wave as the policy describes it; the planner decides its members.
public struct WaveSpec: Sendable, Equatable {
  public enum Members: Sendable, Equatable {
    case selector(LabelSelector)
    /// ceil(percent% of the fleet), at least 1.
    case percent(Double)
    case count(Int)
    /// Everything not yet in a wave.
    case rest
  }

  public var name: String
  public var members: Members
  public var maxParallel: Int?
  public var maxPerDomain: Int?
  public var bake: Duration?
  public var maxFailures: FailureLimit?
  /// The wave waits for `fleetwave approve` before it starts.
  public var approval: Bool
  /// The fleet's `onUnreachable` policy with this wave's own keys laid over it; nil when the
  /// wave sets none.
  public var unreachable: UnreachablePolicy?
  public var mark: SourceMark?

  public init(
    name: String, members: Members, maxParallel: Int? = nil, maxPerDomain: Int? = nil,
    bake: Duration? = nil, maxFailures: FailureLimit? = nil, approval: Bool = false,
    unreachable: UnreachablePolicy? = nil, mark: SourceMark? = nil
  ) {
    self.unreachable = unreachable
    self.name = name
    self.members = members
    self.maxParallel = maxParallel
    self.maxPerDomain = maxPerDomain
    self.bake = bake
    self.maxFailures = maxFailures
    self.approval = approval
    self.mark = mark
  }
}

/// Automatic waves when none are listed: canary, then waves growing by `factor`.
public struct WaveGrowth: Sendable, Equatable {
  public var initial: Int
  public var factor: Double
  public var maxWaveSize: Int?

  public init(initial: Int = 1, factor: Double = 2, maxWaveSize: Int? = nil) {
    self.initial = initial
    self.factor = factor
    self.maxWaveSize = maxWaveSize
  }
}

public struct RolloutPolicy: Sendable, Equatable {
  public var canary: CanarySpec?
  /// Empty means automatic growth.
  public var waves: [WaveSpec]
  public var growth: WaveGrowth
  public var maxParallel: Int
  public var spreadBy: String?
  public var maxPerDomain: Int?
  /// Priority label: lower values go first within a wave.
  public var priorityLabel: String?
  public var bake: Duration
  public var failurePolicy: FailurePolicy
  public var health: [HealthCheckSpec]
  /// Gates run over a whole wave after its bake.
  public var waveHealth: [HealthCheckSpec]
  /// Default expected duration of one cluster's upgrade, for timeline estimates.
  public var expectedDuration: Duration
  /// Upper bound on one cluster's upgrade before it is cancelled and counted failed.
  public var clusterTimeout: Duration
  /// What happens to a cluster whose API cannot be reached; a wave may override it.
  public var unreachable = UnreachablePolicy()

  public init(
    canary: CanarySpec? = nil, waves: [WaveSpec] = [], growth: WaveGrowth = WaveGrowth(),
    maxParallel: Int = 10, spreadBy: String? = nil, maxPerDomain: Int? = nil,
    priorityLabel: String? = nil, bake: Duration = .zero,
    failurePolicy: FailurePolicy = FailurePolicy(),
    health: [HealthCheckSpec] = [], waveHealth: [HealthCheckSpec] = [],
    expectedDuration: Duration = .seconds(300), clusterTimeout: Duration = .seconds(1800)
  ) {
    self.canary = canary
    self.waves = waves
    self.growth = growth
    self.maxParallel = maxParallel
    self.spreadBy = spreadBy
    self.maxPerDomain = maxPerDomain
    self.priorityLabel = priorityLabel
    self.bake = bake
    self.failurePolicy = failurePolicy
    self.health = health
    self.waveHealth = waveHealth
    self.expectedDuration = expectedDuration
    self.clusterTimeout = clusterTimeout
  }

  /// The `onUnreachable` policy of each listed wave that sets its own, by wave name.
  public var waveUnreachable: [String: UnreachablePolicy] {
    Dictionary(
      waves.compactMap { wave in wave.unreachable.map { (wave.name, $0) } },
      uniquingKeysWith: { first, _ in first })
  }
}
