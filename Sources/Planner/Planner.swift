// The planner: a fleet, its policy and a start time in; waves, limits and a timeline out.
import FleetCore
import Foundation

/// Turns a validated fleet into a plan. Pure: the same fleet, start time and horizon give the
/// same plan, byte for byte once rendered; it reads no clock and no files.
public struct Planner: Sendable {
  /// How far past the start the planner looks for open windows; clusters that cannot start
  /// before then are reported as unschedulable.
  public var horizon: Duration

  public static let defaultHorizon: Duration = .seconds(28 * 86_400)

  public init(horizon: Duration = Planner.defaultHorizon) {
    self.horizon = horizon
  }

  public func plan(_ fleet: Fleet, start: Date) -> Plan {
    let policy = fleet.rollout
    let clusters = fleet.clusters
    let order = ClusterOrder(clusters, priorityLabel: policy.priorityLabel)
    let assignment = WaveAssignment(fleet: fleet, order: order)
    var notes = assignment.notes

    let startInstant = Instant(start)
    let horizonEnd = startInstant + Swift.max(0, DurationText.milliseconds(horizon))
    let calendar = StartCalendar(fleet: fleet, from: startInstant, to: horizonEnd)
    notes += calendar.notes

    let spreadBy = policy.spreadBy
    if spreadBy == nil,
      policy.maxPerDomain != nil || policy.waves.contains(where: { $0.maxPerDomain != nil })
    {
      notes.append(PlanNote("maxPerDomain has no effect without spreadBy"))
    }

    var waves: [Wave] = []
    var ready: Instant = startInstant
    var unschedulable: [Int] = []
    var lastFinish: Instant?
    for (index, draft) in assignment.waves.enumerated() {
      let limits = WaveLimits(draft: draft, policy: policy, canary: policy.canary)
      let domains = draft.members.map { clusters[$0].domain(spreadBy) }
      let timeline = WaveTimeline(
        members: draft.members, domains: domains, fleet: fleet, ready: ready,
        maxParallel: limits.maxParallel, maxPerDomain: spreadBy == nil ? nil : limits.maxPerDomain,
        calendar: calendar)
      unschedulable += timeline.unschedulable.map { draft.members[$0] }

      var domainCounts: [String: Int] = [:]
      for domain in domains { domainCounts[domain, default: 0] += 1 }
      var schedule: [ScheduledCluster] = []
      schedule.reserveCapacity(draft.members.count)
      for (position, member) in draft.members.enumerated() {
        schedule.append(
          ScheduledCluster(
            name: clusters[member].name, domain: domains[position],
            earliestStart: timeline.earliest[position]?.date,
            estimatedStart: timeline.starts[position]?.date,
            estimatedFinish: timeline.finishes[position]?.date,
            expectedDuration: timeline.durations[position]))
      }
      let earliest = timeline.earliest.compactMap { $0 }.min()
      let finish = timeline.finishes.compactMap { $0 }.max()
      waves.append(
        Wave(
          index: index, name: draft.name, isCanary: draft.isCanary,
          clusters: draft.members.map { clusters[$0].name }, maxParallel: limits.maxParallel,
          maxPerDomain: spreadBy == nil ? nil : limits.maxPerDomain, bake: limits.bake,
          failureLimit: limits.failureLimit,
          allowedFailures: limits.failureLimit.allowed(of: draft.members.count),
          approval: limits.approval, earliestStart: earliest?.date,
          estimatedDuration: .milliseconds((finish ?? ready) - (earliest ?? ready)),
          selection: draft.selection, domainCounts: domainCounts, schedule: schedule,
          estimatedFinish: finish?.date))
      if let finish {
        ready = finish + DurationText.milliseconds(limits.bake)
        lastFinish = ready
      }
    }

    if !unschedulable.isEmpty {
      notes.append(
        PlanNote(
          "cannot start before the horizon " + Plan.timestamp(horizonEnd.date)
            + "; left out of the timeline (the rollout would wait for them)",
          clusters: unschedulable.sorted { order.rank[$0] < order.rank[$1] }.map {
            clusters[$0].name
          }))
    }
    if waves.contains(where: \.approval) {
      notes.append(
        PlanNote("the timeline assumes each approval is given as soon as its wave may start"))
    }

    var plan = Plan(
      fleet: fleet.name, release: fleet.release.name, version: fleet.release.version,
      start: startInstant.date, waves: waves,
      unassigned: assignment.unassigned.map { clusters[$0].name }, notes: notes,
      allowedFailuresTotal: policy.failurePolicy.maxFailuresTotal?.allowed(of: clusters.count),
      spreadBy: spreadBy, horizon: horizon,
      unschedulable: unschedulable.sorted { order.rank[$0] < order.rank[$1] }.map {
        clusters[$0].name
      },
      estimatedFinish: lastFinish?.date,
      freezes: fleet.freezes.filter {
        Instant($0.to) > startInstant && Instant($0.from) < horizonEnd
      }
      .sorted { ($0.from, $0.to, $0.reason) < ($1.from, $1.to, $1.reason) })
    plan.chartVersion = fleet.release.chartVersion
    return plan
  }
}

/// A wave's limits: its own settings, else the canary's, else the policy's.
struct WaveLimits {
  var maxParallel: Int
  var maxPerDomain: Int?
  var bake: Duration
  var failureLimit: FailureLimit
  var approval: Bool

  init(draft: DraftWave, policy: RolloutPolicy, canary: CanarySpec?) {
    let spec = draft.spec
    maxParallel = Swift.max(1, spec?.maxParallel ?? policy.maxParallel)
    maxPerDomain = (spec?.maxPerDomain ?? policy.maxPerDomain).map { Swift.max(1, $0) }
    if draft.isCanary, let canary {
      bake = canary.bake ?? policy.bake
      failureLimit = canary.maxFailures
      approval = canary.approval
    } else {
      bake = spec?.bake ?? policy.bake
      failureLimit = spec?.maxFailures ?? policy.failurePolicy.maxFailuresPerWave
      approval = spec?.approval ?? false
    }
  }
}
