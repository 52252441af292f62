// The plan: waves in order, each with its clusters, limits and earliest start.
import Foundation

public struct Wave: Sendable, Equatable {
  public var index: Int
  public var name: String
  public var isCanary: Bool
  /// Cluster names in the order they start.
  public var clusters: [String]
  public var maxParallel: Int
  public var maxPerDomain: Int?
  public var bake: Duration
  /// The budget as written, and what it allows for this wave's size.
  public var failureLimit: FailureLimit
  public var allowedFailures: Int
  public var approval: Bool
  /// Nil when no window opens before the planning horizon.
  public var earliestStart: Date?
  public var estimatedDuration: Duration

  public init(
    index: Int, name: String, isCanary: Bool = false, clusters: [String], maxParallel: Int,
    maxPerDomain: Int? = nil, bake: Duration = .zero, failureLimit: FailureLimit = .count(0),
    allowedFailures: Int = 0, approval: Bool = false, earliestStart: Date? = nil,
    estimatedDuration: Duration = .zero
  ) {
    self.index = index
    self.name = name
    self.isCanary = isCanary
    self.clusters = clusters
    self.maxParallel = maxParallel
    self.maxPerDomain = maxPerDomain
    self.bake = bake
    self.failureLimit = failureLimit
    self.allowedFailures = allowedFailures
    self.approval = approval
    self.earliestStart = earliestStart
    self.estimatedDuration = estimatedDuration
  }
}

/// Something the plan wants a reader to know: clusters no wave selected, a cluster two waves
/// matched, a window that never opens.
public struct PlanNote: Sendable, Equatable {
  public var message: String
  public var clusters: [String]

  public init(_ message: String, clusters: [String] = []) {
    self.message = message
    self.clusters = clusters
  }
}

public struct Plan: Sendable, Equatable {
  public var fleet: String
  public var release: String
  public var version: String?
  public var start: Date
  public var waves: [Wave]
  /// Clusters that no wave selected; they run in the last wave and are listed here too.
  public var unassigned: [String]
  public var notes: [PlanNote]
  /// Failures tolerated over the whole run; nil when only per-wave budgets apply.
  public var allowedFailuresTotal: Int?
  public var spreadBy: String?

  public init(
    fleet: String, release: String, version: String? = nil, start: Date, waves: [Wave],
    unassigned: [String] = [], notes: [PlanNote] = [], allowedFailuresTotal: Int? = nil,
    spreadBy: String? = nil
  ) {
    self.fleet = fleet
    self.release = release
    self.version = version
    self.start = start
    self.waves = waves
    self.unassigned = unassigned
    self.notes = notes
    self.allowedFailuresTotal = allowedFailuresTotal
    self.spreadBy = spreadBy
  }

  public var clusterCount: Int { waves.reduce(0) { $0 + $1.clusters.count } }
}
