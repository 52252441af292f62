// What a run's journal records: its header, and every transition, written before it happens.
import FleetCore
import Foundation

/// Who started a run, for what, and the plan it executes, frozen at start.
public struct RunHeader: Sendable, Equatable {
  public var id: String
  public var fleet: String
  public var release: String
  public var version: String?
  /// Digest of the fleet's files at start; resuming with a different digest needs --replan.
  public var fleetDigest: String
  /// The plan as JSON (the `plan -o json` schema), so a resumed run executes the same plan.
  public var plan: Value
  public var startedAt: Date
  public var host: String
  public var pid: Int32
  public var user: String
  /// The fleet directory, absolute, so `fleetwave resume RUN` can find the fleet again.
  public var fleetDirectory: String?
  /// The rollout's own options that decide what resuming must do again: `driver`,
  /// `maxParallel`, `kubeconfig`, and `setDigest` (a salted SHA-512 crypt digest of the --set arguments, never the
  /// values themselves, which may be secrets).
  public var settings: [String: String]
  /// The token of the process that started the run (see `RunInstance`); nil in journals
  /// written before processes had tokens.
  public var instance: String?

  public init(
    id: String, fleet: String, release: String, version: String?, fleetDigest: String, plan: Value,
    startedAt: Date, host: String, pid: Int32, user: String, fleetDirectory: String? = nil,
    settings: [String: String] = [:], instance: String? = nil
  ) {
    self.instance = instance
    self.fleetDirectory = fleetDirectory
    self.settings = settings
    self.id = id
    self.fleet = fleet
    self.release = release
    self.version = version
    self.fleetDigest = fleetDigest
    self.plan = plan
    self.startedAt = startedAt
    self.host = host
    self.pid = pid
    self.user = user
  }
}

/// One journal entry. Cluster states are the executor's state names ("upgrading",
/// "succeeded", "rolling-back", ...), kept as strings so the journal outlives enum changes.
public enum JournalEntry: Sendable, Equatable {
  case runStarted(RunHeader)
  /// Written *before* the action a state announces (write-ahead), and again when it ends.
  /// `from` is the revision the cluster had before the upgrade, recorded before it starts.
  case cluster(
    name: String, state: String, revision: String? = nil, error: String? = nil,
    from: String? = nil)
  /// A wave's state, keyed by its name (`name`). `index` is its position in the plan of the
  /// process that wrote it, kept so older fleetwave versions still read the line; a record
  /// without a name (written before names were recorded) is resolved through the frozen plan.
  /// `reason` says why a wave halted.
  case wave(index: Int, state: String, name: String? = nil, reason: String? = nil)
  /// An approval of a wave, keyed by its name as `wave` is for a wave record.
  case approval(wave: Int, by: String, name: String? = nil)
  case paused(by: String)
  /// A process took the run up again; `instance` is its token (see `RunInstance`).
  case resumed(by: String, pid: Int32, host: String, instance: String? = nil)
  /// One reading by a health gate, of one cluster's gate (`cluster` set) or of a wave's gate
  /// after its bake (`cluster` nil), in the wave named `wave`: its value, the limit it was
  /// judged against, the verdict, the query as sent, and when it was taken. Written as the
  /// gate reports, so the reports of a resumed run still hold the readings of earlier passes.
  case measurement(cluster: String?, wave: String?, FleetCore.Measurement)
  /// A gate's verdict over its readings (the measurement records just before it).
  case gateResult(cluster: String?, wave: String?, gate: String, passed: Bool, summary: String)
  /// A cluster whose API could not be reached was deferred (`onUnreachable: defer`) for the
  /// `attempt`th time, to be tried again in its wave at `until`.
  case deferred(cluster: String, attempt: Int, reason: String, until: Date?)
  /// The run stopped unfinished and says what it waits for (a window, a bake, an approval).
  case waiting(reason: String)
  case runFinished(outcome: String)

  var type: String {
    switch self {
    case .runStarted: return "run-started"
    case .cluster: return "cluster"
    case .wave: return "wave"
    case .approval: return "approval"
    case .paused: return "paused"
    case .resumed: return "resumed"
    case .measurement: return "measurement"
    case .gateResult: return "gate-result"
    case .deferred: return "deferred"
    case .waiting: return "waiting"
    case .runFinished: return "run-finished"
    }
  }
}

/// An entry as stored: its sequence number and time.
public struct JournalRecord: Sendable, Equatable {
  public var sequence: Int
  public var at: Date
  public var entry: JournalEntry

  public init(sequence: Int, at: Date, entry: JournalEntry) {
    self.sequence = sequence
    self.at = at
    self.entry = entry
  }
}

enum RecordCoding {
  static func encode(_ record: JournalRecord) -> Value {
    var m = Mapping()
    m["seq"] = .int(Int64(record.sequence))
    m["at"] = .string(Timestamp.iso(record.at))
    m["type"] = .string(record.entry.type)
    switch record.entry {
    case .runStarted(let h):
      m["id"] = .string(h.id)
      m["fleet"] = .string(h.fleet)
      m["release"] = .string(h.release)
      m["version"] = h.version.map { .string($0) } ?? .null
      m["fleetDigest"] = .string(h.fleetDigest)
      m["startedAt"] = .string(Timestamp.iso(h.startedAt))
      m["host"] = .string(h.host)
      m["pid"] = .int(Int64(h.pid))
      m["user"] = .string(h.user)
      if let directory = h.fleetDirectory { m["fleetDirectory"] = .string(directory) }
      if let instance = h.instance { m["instance"] = .string(instance) }
      if !h.settings.isEmpty {
        var settings = Mapping()
        for key in h.settings.keys.sorted() { settings[key] = h.settings[key].map { .string($0) } }
        m["settings"] = .mapping(settings)
      }
      m["plan"] = h.plan
    case .cluster(let name, let state, let revision, let error, let from):
      m["cluster"] = .string(name)
      m["state"] = .string(state)
      if let revision { m["revision"] = .string(revision) }
      if let error { m["error"] = .string(error) }
      if let from { m["from"] = .string(from) }
    case .waiting(let reason):
      m["reason"] = .string(reason)
    case .deferred(let cluster, let attempt, let reason, let until):
      m["cluster"] = .string(cluster)
      m["attempt"] = .int(Int64(attempt))
      m["reason"] = .string(reason)
      if let until { m["until"] = .string(Timestamp.iso(until)) }
    case .wave(let index, let state, let name, let reason):
      m["wave"] = .int(Int64(index))
      if let name { m["waveName"] = .string(name) }
      m["state"] = .string(state)
      if let reason { m["reason"] = .string(reason) }
    case .approval(let wave, let by, let name):
      m["wave"] = .int(Int64(wave))
      if let name { m["waveName"] = .string(name) }
      m["by"] = .string(by)
    case .paused(let by):
      m["by"] = .string(by)
    case .resumed(let by, let pid, let host, let instance):
      if let instance { m["instance"] = .string(instance) }
      m["by"] = .string(by)
      m["pid"] = .int(Int64(pid))
      m["host"] = .string(host)
    case .measurement(let cluster, let wave, let measurement):
      if let cluster { m["cluster"] = .string(cluster) }
      if let wave { m["waveName"] = .string(wave) }
      m["gate"] = .string(measurement.gate)
      m["value"] = measurement.value.map { .double($0) } ?? .null
      if let limit = measurement.limit { m["limit"] = .double(limit) }
      m["outcome"] = .string(measurement.outcome.rawValue)
      m["detail"] = .string(measurement.detail)
      if let query = measurement.query { m["query"] = .string(query) }
      m["takenAt"] = .string(Timestamp.iso(measurement.at))
    case .gateResult(let cluster, let wave, let gate, let passed, let summary):
      if let cluster { m["cluster"] = .string(cluster) }
      if let wave { m["waveName"] = .string(wave) }
      m["gate"] = .string(gate)
      m["passed"] = .bool(passed)
      m["summary"] = .string(summary)
    case .runFinished(let outcome):
      m["outcome"] = .string(outcome)
    }
    return .mapping(m)
  }

  static func decode(_ v: Value) -> JournalRecord? {
    guard let seq = v["seq"]?.int, let at = v["at"]?.string.flatMap(Timestamp.parse),
      let type = v["type"]?.string
    else { return nil }
    let entry: JournalEntry
    switch type {
    case "run-started":
      guard let id = v["id"]?.string, let fleet = v["fleet"]?.string,
        let release = v["release"]?.string, let digest = v["fleetDigest"]?.string,
        let started = v["startedAt"]?.string.flatMap(Timestamp.parse), let host = v["host"]?.string,
        let pid = v["pid"]?.int, let user = v["user"]?.string, let plan = v["plan"]
      else { return nil }
      entry = .runStarted(
        RunHeader(
          id: id, fleet: fleet, release: release, version: v["version"]?.string,
          fleetDigest: digest, plan: plan.unmarked, startedAt: started, host: host,
          pid: Int32(truncatingIfNeeded: pid), user: user,
          fleetDirectory: v["fleetDirectory"]?.string,
          settings: Dictionary(
            uniqueKeysWithValues: (v["settings"]?.mapping ?? Mapping()).compactMap { entry in
              entry.value.string.map { (entry.key, $0) }
            }), instance: v["instance"]?.string))
    case "cluster":
      guard let name = v["cluster"]?.string, let state = v["state"]?.string else { return nil }
      entry = .cluster(
        name: name, state: state, revision: v["revision"]?.string, error: v["error"]?.string,
        from: v["from"]?.string)
    case "deferred":
      guard let cluster = v["cluster"]?.string, let attempt = v["attempt"]?.int,
        let reason = v["reason"]?.string
      else { return nil }
      entry = .deferred(
        cluster: cluster, attempt: Int(attempt), reason: reason,
        until: v["until"]?.string.flatMap(Timestamp.parse))
    case "waiting":
      guard let reason = v["reason"]?.string else { return nil }
      entry = .waiting(reason: reason)
    case "wave":
      guard let index = v["wave"]?.int, let state = v["state"]?.string else { return nil }
      entry = .wave(
        index: Int(index), state: state, name: v["waveName"]?.string, reason: v["reason"]?.string)
    case "approval":
      guard let wave = v["wave"]?.int, let by = v["by"]?.string else { return nil }
      entry = .approval(wave: Int(wave), by: by, name: v["waveName"]?.string)
    case "paused":
      guard let by = v["by"]?.string else { return nil }
      entry = .paused(by: by)
    case "resumed":
      guard let by = v["by"]?.string, let pid = v["pid"]?.int, let host = v["host"]?.string else {
        return nil
      }
      entry = .resumed(
        by: by, pid: Int32(truncatingIfNeeded: pid), host: host, instance: v["instance"]?.string)
    case "measurement":
      guard let gate = v["gate"]?.string,
        let outcome = v["outcome"]?.string.flatMap(FleetCore.Measurement.Outcome.init(rawValue:)),
        let detail = v["detail"]?.string
      else { return nil }
      // A reading written before `takenAt` was recorded was taken when it was written.
      let taken = v["takenAt"]?.string.flatMap(Timestamp.parse) ?? at
      entry = .measurement(
        cluster: v["cluster"]?.string, wave: v["waveName"]?.string,
        FleetCore.Measurement(
          gate: gate, at: taken, value: v["value"]?.double, outcome: outcome, detail: detail,
          limit: v["limit"]?.double, query: v["query"]?.string))
    case "gate-result":
      guard let gate = v["gate"]?.string, let passed = v["passed"]?.bool,
        let summary = v["summary"]?.string
      else { return nil }
      entry = .gateResult(
        cluster: v["cluster"]?.string, wave: v["waveName"]?.string, gate: gate, passed: passed,
        summary: summary)
    case "run-finished":
      guard let outcome = v["outcome"]?.string else { return nil }
      entry = .runFinished(outcome: outcome)
    default:
      return nil
    }
    return JournalRecord(sequence: Int(seq), at: at, entry: entry)
  }
}

/// CRC-32 (IEEE 802.3, as zlib): detects torn or corrupted journal lines.
enum CRC32 {
  private static let table: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }
}
