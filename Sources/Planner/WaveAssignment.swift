// Which cluster goes in which wave, and in which order inside it.
import FleetCore
import Foundation

/// How a wave's members were chosen, before limits and times are attached.
struct DraftWave {
  var name: String
  var isCanary: Bool
  var spec: WaveSpec?
  var selection: String
  /// Indices into `fleet.clusters`, in the order they start.
  var members: [Int]
}

/// The order clusters are considered in everywhere: priority label (numbers ascending, then
/// other values ascending, then clusters without the label), then name, then file order.
struct ClusterOrder {
  /// `rank[i]` is the position of `fleet.clusters[i]` in that order.
  let rank: [Int]
  /// Cluster indices sorted by rank.
  let sorted: [Int]

  private enum PriorityKey: Comparable {
    case number(Int)
    case text(String)
    case missing
  }

  init(_ clusters: [Cluster], priorityLabel: String?) {
    let keys: [PriorityKey] = clusters.map { cluster in
      guard let label = priorityLabel, let value = cluster.labels[label] else { return .missing }
      if let number = Int(value) { return .number(number) }
      return .text(value)
    }
    sorted = clusters.indices.sorted { a, b in
      if keys[a] != keys[b] { return keys[a] < keys[b] }
      if clusters[a].name != clusters[b].name { return clusters[a].name < clusters[b].name }
      return a < b
    }
    var rank = [Int](repeating: 0, count: clusters.count)
    for (position, index) in sorted.enumerated() { rank[index] = position }
    self.rank = rank
  }
}

/// The number of clusters a `percent: p` wave takes from a fleet of `fleetSize`: the ceiling of
/// p% of the fleet, at least 1. A tolerance of one millionth of a cluster keeps float noise from
/// rounding an exact result up (7% of 100 is 7, not 8).
public func percentWaveSize(_ percent: Double, fleetSize: Int) -> Int {
  let exact = Double(fleetSize) * percent / 100
  return Swift.max(1, Int((exact - 1e-6).rounded(.up)))
}

struct WaveAssignment {
  var waves: [DraftWave] = []
  var unassigned: [Int] = []
  var notes: [PlanNote] = []

  init(fleet: Fleet, order: ClusterOrder) {
    let policy = fleet.rollout
    let clusters = fleet.clusters
    var taken = [Int?](repeating: nil, count: clusters.count)
    // Percent, count, rest and automatic waves take free clusters in cluster order, dealt across
    // failure domains when there is a spread label, so a 10% wave samples every region rather
    // than the first region by name. The dealing goes on from wave to wave; per-domain heads
    // only move forward because a taken cluster never becomes free again.
    var pool = DomainPool(order.sorted, clusters: clusters, spreadBy: policy.spreadBy)
    func nextFree(_ limit: Int) -> [Int] {
      pool.take(limit) { taken[$0] == nil }
    }

    if let canary = policy.canary {
      var members: [Int]
      var selection: String
      if let selector = canary.selector {
        members = order.sorted.filter { selector.matches(clusters[$0].labels) }
        selection = "canary selector " + selector.text
        if let count = canary.count {
          members = Array(members.prefix(Swift.max(0, count)))
          selection += ", first " + String(count)
        }
      } else {
        let count = canary.count ?? 1
        members = Array(order.sorted.prefix(Swift.max(0, count)))
        selection = "canary: first " + String(count) + " by priority and name"
      }
      for index in members { taken[index] = 0 }
      if canary.oneDomainPerWave, let label = policy.spreadBy {
        var byDomain: [(domain: String, members: [Int])] = []
        for index in members {
          let domain = clusters[index].domain(label)
          if let at = byDomain.firstIndex(where: { $0.domain == domain }) {
            byDomain[at].members.append(index)
          } else {
            byDomain.append((domain, [index]))
          }
        }
        for (n, group) in byDomain.enumerated() {
          waves.append(
            DraftWave(
              name: byDomain.count == 1 ? "canary" : "canary-" + String(n + 1), isCanary: true,
              spec: nil, selection: selection + ", " + label + "=" + group.domain,
              members: group.members))
        }
        if byDomain.isEmpty {
          waves.append(
            DraftWave(name: "canary", isCanary: true, spec: nil, selection: selection, members: []))
        }
      } else {
        waves.append(
          DraftWave(
            name: "canary", isCanary: true, spec: nil, selection: selection, members: members))
      }
    }

    if policy.waves.isEmpty {
      appendGrowthWaves(policy.growth, fleetSize: clusters.count, nextFree: nextFree)
    } else {
      // Which later waves also matched clusters that an earlier selector wave already took.
      var overlaps: [String: (first: String, second: String, clusters: [Int])] = [:]
      var overlapOrder: [String] = []
      for spec in policy.waves {
        let waveNumber = waves.count
        var members: [Int] = []
        let selection: String
        switch spec.members {
        case .selector(let selector):
          selection = "selector " + selector.text
          for index in order.sorted where selector.matches(clusters[index].labels) {
            if let first = taken[index] {
              if !waves[first].isCanary {
                let key = String(first) + "/" + String(waveNumber)
                if overlaps[key] == nil {
                  overlapOrder.append(key)
                  overlaps[key] = (waves[first].name, spec.name, [])
                }
                overlaps[key]?.clusters.append(index)
              }
            } else {
              taken[index] = waveNumber
              members.append(index)
            }
          }
        case .percent(let percent):
          let size = percentWaveSize(percent, fleetSize: clusters.count)
          selection =
            Value.format(percent) + "% of " + String(clusters.count) + " = " + String(size)
            + " (rounded up)"
          members = nextFree(size)
        case .count(let count):
          selection = "count " + String(count)
          members = nextFree(Swift.max(0, count))
        case .rest:
          selection = "the rest"
          members = nextFree(Int.max)
        }
        for index in members { taken[index] = waveNumber }
        waves.append(
          DraftWave(
            name: spec.name, isCanary: false, spec: spec, selection: selection, members: members))
      }
      for key in overlapOrder {
        guard let overlap = overlaps[key] else { continue }
        notes.append(
          PlanNote(
            "matched by wave '\(overlap.second)' too; stays in the earlier wave '\(overlap.first)'",
            clusters: overlap.clusters.map { clusters[$0].name }))
      }
      unassigned = order.sorted.filter { taken[$0] == nil }
      if !unassigned.isEmpty, let last = waves.indices.last {
        waves[last].members += unassigned
        notes.append(
          PlanNote(
            "matched by no wave; added to the last wave '\(waves[last].name)'",
            clusters: unassigned.map { clusters[$0].name }))
      }
    }

    for wave in waves where wave.members.isEmpty {
      notes.append(PlanNote("wave '\(wave.name)' selects no clusters and is left out of the plan"))
    }
    waves.removeAll { $0.members.isEmpty }
    for w in waves.indices {
      waves[w].members = Self.startOrder(
        waves[w].members, clusters: clusters, order: order, spreadBy: policy.spreadBy)
    }
  }

  /// Automatic waves: `initial`, then each wave `factor` times the last (rounded up), capped
  /// by `maxWaveSize`, until the fleet is used up.
  private mutating func appendGrowthWaves(
    _ growth: WaveGrowth, fleetSize: Int, nextFree: (Int) -> [Int]
  ) {
    let cap = Swift.max(1, growth.maxWaveSize ?? Int.max)
    let factor = Swift.max(1, growth.factor)
    var size = Double(Swift.max(1, growth.initial))
    var capText = ""
    if let maxWaveSize = growth.maxWaveSize { capText = ", at most " + String(maxWaveSize) }
    while true {
      let wanted = Swift.min(cap, Int(Swift.min(size, Double(fleetSize + 1))))
      let members = nextFree(wanted)
      if members.isEmpty { break }
      waves.append(
        DraftWave(
          name: "wave-" + String(waves.count(where: { !$0.isCanary }) + 1), isCanary: false,
          spec: nil,
          selection: "automatic: " + String(members.count) + " (growth x" + Value.format(factor)
            + capText + ")",
          members: members))
      size = (size * factor).rounded(.up)
    }
  }

  /// Members sorted by the cluster order, then, with a spread label, dealt round-robin across
  /// domains (domains in order of their first member) so the first clusters to start come from
  /// as many domains as possible.
  static func startOrder(
    _ members: [Int], clusters: [Cluster], order: ClusterOrder, spreadBy: String?
  ) -> [Int] {
    let sorted = members.sorted { order.rank[$0] < order.rank[$1] }
    guard let label = spreadBy else { return sorted }
    var domainSlot: [String: Int] = [:]
    var queues: [[Int]] = []
    for index in sorted {
      let domain = clusters[index].domain(label)
      if let slot = domainSlot[domain] {
        queues[slot].append(index)
      } else {
        domainSlot[domain] = queues.count
        queues.append([index])
      }
    }
    var dealt: [Int] = []
    dealt.reserveCapacity(sorted.count)
    var round = 0
    while dealt.count < sorted.count {
      for queue in queues where round < queue.count { dealt.append(queue[round]) }
      round += 1
    }
    return dealt
  }
}

/// Free clusters per failure domain, handed out one domain at a time, round-robin.
struct DomainPool {
  private var queues: [[Int]] = []
  private var heads: [Int] = []
  private var next = 0

  init(_ sorted: [Int], clusters: [Cluster], spreadBy: String?) {
    var slot: [String: Int] = [:]
    for index in sorted {
      let domain = clusters[index].domain(spreadBy)
      if let known = slot[domain] {
        queues[known].append(index)
      } else {
        slot[domain] = queues.count
        queues.append([index])
      }
    }
    heads = Array(repeating: 0, count: queues.count)
  }

  /// Up to `limit` clusters for which `isFree` holds, one per domain in turn.
  mutating func take(_ limit: Int, where isFree: (Int) -> Bool) -> [Int] {
    var picked: [Int] = []
    var emptyInARow = 0
    while picked.count < limit, emptyInARow < queues.count {
      let d = next
      next = (next + 1) % queues.count
      while heads[d] < queues[d].count, !isFree(queues[d][heads[d]]) { heads[d] += 1 }
      guard heads[d] < queues[d].count else {
        emptyInARow += 1
        continue
      }
      emptyInARow = 0
      picked.append(queues[d][heads[d]])
      heads[d] += 1
    }
    return picked
  }
}
