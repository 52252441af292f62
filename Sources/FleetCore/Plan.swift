// The plan: waves in order, each with its clusters, limits and earliest start.
import Foundation

/// One cluster's place in the timeline. Times are nil when the cluster cannot start before the
/// planning horizon (no window opens, or the timeline runs past it).
public struct ScheduledCluster: Sendable, Equatable {
  public var name: String
  /// The value of the spread label, or "-".
  public var domain: String
  /// The earliest moment its windows and the freezes let it start once its wave may begin,
  /// ignoring the wave's parallel limits.
  public var earliestStart: Date?
  /// When it is expected to start and finish with the wave's limits applied.
  public var estimatedStart: Date?
  public var estimatedFinish: Date?
  public var expectedDuration: Duration

  public init(
    name: String, domain: String = "-", earliestStart: Date? = nil, estimatedStart: Date? = nil,
    estimatedFinish: Date? = nil, expectedDuration: Duration = .zero
  ) {
    self.name = name
    self.domain = domain
    self.earliestStart = earliestStart
    self.estimatedStart = estimatedStart
    self.estimatedFinish = estimatedFinish
    self.expectedDuration = expectedDuration
  }
}

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
  /// How the members were chosen, in words ("selector env=prod", "10% of 40 = 4").
  public var selection: String
  /// How many members each failure domain has, by domain name.
  public var domainCounts: [String: Int]
  /// The members in start order with their times; same order as `clusters`.
  public var schedule: [ScheduledCluster]
  /// When the last member is expected to finish (before the bake); nil when none can start.
  public var estimatedFinish: Date?

  public init(
    index: Int, name: String, isCanary: Bool = false, clusters: [String], maxParallel: Int,
    maxPerDomain: Int? = nil, bake: Duration = .zero, failureLimit: FailureLimit = .count(0),
    allowedFailures: Int = 0, approval: Bool = false, earliestStart: Date? = nil,
    estimatedDuration: Duration = .zero, selection: String = "",
    domainCounts: [String: Int] = [:], schedule: [ScheduledCluster] = [],
    estimatedFinish: Date? = nil
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
    self.selection = selection
    self.domainCounts = domainCounts
    self.schedule = schedule
    self.estimatedFinish = estimatedFinish
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
  /// The chart version (or constraint) a repository or OCI chart is fetched at.
  public var chartVersion: String?
  public var start: Date
  public var waves: [Wave]
  /// Clusters that no wave selected; they run in the last wave and are listed here too.
  public var unassigned: [String]
  public var notes: [PlanNote]
  /// Failures tolerated over the whole run; nil when only per-wave budgets apply.
  public var allowedFailuresTotal: Int?
  public var spreadBy: String?
  /// How far ahead the planner looks for open windows.
  public var horizon: Duration
  /// Clusters that cannot start before the horizon; they are in a wave but not in the timeline.
  public var unschedulable: [String]
  /// When the last wave is expected to finish, bake included; nil when no cluster can start.
  public var estimatedFinish: Date?
  /// The freezes between the start and the horizon, in time order.
  public var freezes: [FreezePeriod]

  public init(
    fleet: String, release: String, version: String? = nil, start: Date, waves: [Wave],
    unassigned: [String] = [], notes: [PlanNote] = [], allowedFailuresTotal: Int? = nil,
    spreadBy: String? = nil, horizon: Duration = .seconds(28 * 86_400),
    unschedulable: [String] = [], estimatedFinish: Date? = nil, freezes: [FreezePeriod] = []
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
    self.horizon = horizon
    self.unschedulable = unschedulable
    self.estimatedFinish = estimatedFinish
    self.freezes = freezes
  }

  public var clusterCount: Int { waves.reduce(0) { $0 + $1.clusters.count } }

  /// A plan time as ISO 8601 UTC with "Z", whole seconds unless it has milliseconds
  /// ("2026-03-29T01:00:00Z", "2026-03-29T01:00:00.250Z"); no formatter, so it is cheap and the
  /// same on every platform.
  public static func timestamp(_ date: Date) -> String {
    let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
    let inDay = ms - days * 86_400_000
    let (year, month, day) = civilDate(daysSince1970: days)
    func two(_ n: Int64) -> String { n < 10 ? "0" + String(n) : String(n) }
    var text = String(year) + "-" + two(month) + "-" + two(day) + "T" + two(inDay / 3_600_000)
    text += ":" + two(inDay / 60_000 % 60) + ":" + two(inDay / 1000 % 60)
    let fraction = inDay % 1000
    if fraction != 0 {
      text += "." + String(String(fraction + 1000).dropFirst())
    }
    return text + "Z"
  }

  /// Year, month, day of a day count since 1970-01-01 in the proleptic Gregorian calendar
  /// (Howard Hinnant's days-to-civil algorithm).
  public static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}
