// Start times: which windows each cluster may start in, and a simulated run of each wave.
import FleetCore
import Foundation

/// The allowed start times of every distinct set of windows in the fleet, computed once per set
/// between the plan's start and its horizon, with the freezes cut out.
struct StartCalendar {
  private var keyOfCluster: [Int]
  private(set) var openTimes: [OpenTimes] = []
  /// True for a window set that opens at least once before the horizon (freezes aside).
  private(set) var opensBeforeHorizon: [Bool] = []
  var notes: [PlanNote] = []

  init(fleet: Fleet, from: Instant, to: Instant) {
    let freezes = OpenTimes.union(fleet.freezes.map { (Instant($0.from), Instant($0.to)) })
    var keyIndex: [[String]: Int] = [:]
    var windowTimes: [String: OpenTimes?] = [:]
    var unknownZones: Set<String> = []
    var unknownWindows: Set<String> = []
    keyOfCluster = []
    keyOfCluster.reserveCapacity(fleet.clusters.count)
    for cluster in fleet.clusters {
      let key = Array(Set(cluster.windows)).sorted()
      if let known = keyIndex[key] {
        keyOfCluster.append(known)
        continue
      }
      var times: OpenTimes
      if key.isEmpty {
        times = OpenTimes(intervals: [(from, to)])
      } else {
        var parts: [(start: Instant, end: Instant)] = []
        for name in key {
          guard let window = fleet.windows[name] else {
            unknownWindows.insert(name)
            continue
          }
          if windowTimes[name] == nil { windowTimes[name] = window.openTimes(from: from, to: to) }
          guard let computed = windowTimes[name] ?? nil else {
            unknownZones.insert(window.timeZone)
            continue
          }
          parts += computed.intervals
        }
        times = OpenTimes.union(parts)
      }
      keyIndex[key] = openTimes.count
      keyOfCluster.append(openTimes.count)
      opensBeforeHorizon.append(!times.intervals.isEmpty)
      openTimes.append(times.subtracting(freezes))
    }
    for name in unknownWindows.sorted() {
      notes.append(PlanNote("window '\(name)' is not defined; it never opens"))
    }
    for zone in unknownZones.sorted() {
      notes.append(PlanNote("time zone '\(zone)' is unknown; its windows never open"))
    }
  }

  func key(ofCluster index: Int) -> Int { keyOfCluster[index] }
}

/// A simulated run of one wave: clusters start in plan order whenever their windows are open,
/// fewer than `maxParallel` are running and fewer than `maxPerDomain` of their domain are;
/// each runs for its expected duration.
struct WaveTimeline {
  /// Per member position: earliest allowed start ignoring limits, estimated start and finish.
  var earliest: [Instant?]
  var starts: [Instant?]
  var finishes: [Instant?]
  var durations: [Duration]
  /// Member positions that cannot start before the horizon.
  var unschedulable: [Int] = []

  /// Members that share a domain and a window set wait in one queue, so only a queue's head
  /// has to be looked at: whatever blocks the head blocks the rest of its queue.
  private struct Queue {
    var domain: Int
    var calendarKey: Int
    var positions: [Int] = []
    var head = 0
  }

  private struct QueueKey: Hashable {
    var domain: Int
    var calendarKey: Int
  }

  init(
    members: [Int], domains: [String], fleet: Fleet, ready: Instant, maxParallel: Int,
    maxPerDomain: Int?, calendar: StartCalendar
  ) {
    let count = members.count
    earliest = Array(repeating: nil, count: count)
    starts = Array(repeating: nil, count: count)
    finishes = Array(repeating: nil, count: count)
    durations = members.map {
      fleet.clusters[$0].expectedDuration ?? fleet.rollout.expectedDuration
    }

    var domainIndex: [String: Int] = [:]
    var queueIndex: [QueueKey: Int] = [:]
    var queues: [Queue] = []
    for position in 0..<count {
      let domain: Int
      if let known = domainIndex[domains[position]] {
        domain = known
      } else {
        domain = domainIndex.count
        domainIndex[domains[position]] = domain
      }
      let key = calendar.key(ofCluster: members[position])
      earliest[position] = calendar.openTimes[key].next(atOrAfter: ready)
      let queueKey = QueueKey(domain: domain, calendarKey: key)
      if let q = queueIndex[queueKey] {
        queues[q].positions.append(position)
      } else {
        queueIndex[queueKey] = queues.count
        queues.append(Queue(domain: domain, calendarKey: key, positions: [position]))
      }
    }

    let perDomainLimit = maxPerDomain ?? Int.max
    var runningPerDomain = [Int](repeating: 0, count: domainIndex.count)
    var running = MinHeap<(finish: Instant, domain: Int)> { $0.finish < $1.finish }
    var now = ready
    var left = count
    while left > 0 {
      while let top = running.peek, top.finish <= now {
        running.pop()
        runningPerDomain[top.domain] -= 1
      }
      // Start what may start now, always the member earliest in plan order.
      while running.count < maxParallel {
        var best: Int?
        for q in queues.indices where queues[q].head < queues[q].positions.count {
          let queue = queues[q]
          guard runningPerDomain[queue.domain] < perDomainLimit,
            calendar.openTimes[queue.calendarKey].next(atOrAfter: now) == now
          else { continue }
          if best.map({ queue.positions[queue.head] < queues[$0].positions[queues[$0].head] })
            ?? true
          {
            best = q
          }
        }
        guard let q = best else { break }
        let position = queues[q].positions[queues[q].head]
        queues[q].head += 1
        left -= 1
        let finish = now + DurationText.milliseconds(durations[position])
        starts[position] = now
        finishes[position] = finish
        runningPerDomain[queues[q].domain] += 1
        running.push((finish, queues[q].domain))
      }
      guard left > 0 else { break }
      // Wait for the next finish or the next window opening, whichever comes first.
      var next = running.peek?.finish
      for queue in queues where queue.head < queue.positions.count {
        if let open = calendar.openTimes[queue.calendarKey].next(atOrAfter: now), open > now {
          next = Swift.min(next ?? open, open)
        }
      }
      guard let next else {
        for q in queues.indices where queues[q].head < queues[q].positions.count {
          unschedulable += queues[q].positions[queues[q].head...]
          queues[q].head = queues[q].positions.count
        }
        break
      }
      now = next
    }
    unschedulable.sort()
  }
}
