// Picking a run up where its journal left it.
import Drivers
import FleetCore
import Foundation
import Planner

extension Executor {
  /// Picks a resumed run up where its journal left it: failures count against the budgets,
  /// promoted waves stay promoted, a bake goes on from when it began, a halt's rollback goes on.
  func resume(_ recorded: RecordedRun) {
    for index in slots.indices {
      guard var record = recorded.clusters[slots[index].record.name] else { continue }
      record.wave = slots[index].record.wave
      slots[index].record = record
      if record.phase == .failed || record.phase == .rollbackFailed
        || (record.phase == .rolledBack && record.error != nil)
      {
        waves[record.wave].failures += 1
        totalFailures += 1
      }
    }
    for index in waves.indices where recorded.promoted.contains(waves[index].name) {
      waves[index].phase = .promoted
    }
    if let rollback = recorded.rollback {
      rollbackEverything = rollback.all
      let halted = rollback.wave.flatMap { name in plan.waves.firstIndex { $0.name == name } }
      halt = (halted ?? max(0, plan.waves.count - 1), rollback.reason)
      reason = rollback.reason
      stage = .stopping
      step()
      return
    }
    guard let index = waves.indices.first(where: { waves[$0].phase != .promoted }) else {
      beginWave(plan.waves.count)
      return
    }
    let members = slots.filter { $0.record.wave == index }
    let settled: Set<ClusterPhase> = [
      .baking, .succeeded, .failed, .rolledBack, .rollbackFailed, .excluded,
    ]
    if let began = recorded.bakeStarted[waves[index].name],
      members.allSatisfy({ settled.contains($0.record.phase) })
    {
      stage = .upgrading(index)
      waves[index].phase = .running
      waveFinished(index, bakeBegan: began)
      return
    }
    beginWave(index)
  }
}
