// What of a run the journal keeps: the executor's events turned into journal entries, and
// the fleet's content digest that a resumed run is checked against.
import FleetCore
import Foundation

public enum RunRecorder {
  /// The entry to write ahead for an event, with the cluster's record for cluster events;
  /// nil for events the journal does not keep (the run's start, interrupts). Gate readings
  /// and verdicts are kept: the reports are built from the journal.
  /// `waves` names the plan's waves by index: wave records are keyed by name.
  public static func entry(
    for event: RolloutEvent, cluster record: ClusterRunRecord?, waves: [String]
  ) -> JournalEntry? {
    func wave(_ index: Int, _ state: String, reason: String? = nil) -> JournalEntry {
      .wave(
        index: index, state: state, name: index < waves.count ? waves[index] : nil,
        reason: reason)
    }
    switch event {
    case .clusterPhase(let name, _, .deferred, let detail, _):
      return .deferred(
        cluster: name, attempt: record?.deferrals ?? 1,
        reason: detail ?? record?.deferralReason ?? "unreachable", until: record?.deferredUntil)
    case .clusterPhase(let name, _, let phase, let detail, _):
      let revision: String?
      switch phase {
      case .verifying, .baking, .succeeded: revision = record?.toRevision
      case .rolledBack: revision = record?.rollbackRevision
      case .upgrading, .rollingBack: revision = nil
      default: revision = nil
      }
      let from = phase == .upgrading ? record?.fromRevision : nil
      let error = phase == .failed || phase == .rollbackFailed ? detail : nil
      return .cluster(
        name: name, state: phase.rawValue, revision: revision, error: error, from: from)
    case .waveStarted(let index, _): return wave(index, "running")
    case .waveBaking(let index, _, _): return wave(index, "baking")
    case .wavePromoted(let index, _): return wave(index, "promoted")
    case .waveHalted(let index, let reason, _): return wave(index, "halted", reason: reason)
    case .waveWaiting(let index, let phase, _, _): return wave(index, phase.rawValue)
    case .runFinished(let outcome, _):
      // An interrupted run is not over: it stays open for `resume`.
      return outcome == .interrupted ? nil : .runFinished(outcome: outcome.rawValue)
    case .measurement(let cluster, let index, let measurement):
      return .measurement(
        cluster: cluster, wave: index < waves.count ? waves[index] : nil, measurement)
    case .gateResult(let cluster, let index, let result):
      return .gateResult(
        cluster: cluster, wave: index < waves.count ? waves[index] : nil, gate: result.gate,
        passed: result.passed, summary: result.summary)
    case .interruptRequested, .runStarted: return nil
    }
  }
}

/// A digest of a fleet directory's files (names and contents, the state directory left out),
/// to tell whether the fleet changed since a run started: SHA-256 over each file's path, a NUL,
/// its contents and a NUL, in path order.
public enum FleetDigest {
  public static func of(directory: String, excluding excluded: [String] = [".fleetwave"]) -> String
  {
    let manager = FileManager.default
    let files = (manager.enumerator(atPath: directory)?.allObjects as? [String] ?? [])
      .filter { path in
        !excluded.contains { path == $0 || path.hasPrefix($0 + "/") }
          && !path.split(separator: "/").contains { $0.hasPrefix(".") }
      }
      .sorted()
    // Hashed a block at a time: a fleet may hold a values file of tens of megabytes, and the
    // whole message in memory cost several times that.
    var hasher = SHA256.Hasher()
    for file in files {
      var isDirectory: ObjCBool = false
      let full = directory + "/" + file
      guard manager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
        let handle = FileHandle(forReadingAtPath: full)
      else { continue }
      defer { try? handle.close() }
      hasher.update(Array(file.utf8) + [0])
      while let block = try? handle.read(upToCount: 1 << 20), !block.isEmpty {
        hasher.update(block)
      }
      hasher.update([0])
    }
    return "sha256:" + hasher.hex()
  }
}
