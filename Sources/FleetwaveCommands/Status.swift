// `fleetwave status [RUN]`: a run as its journal tells it, live or finished.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Journal

extension FleetwaveCommand {
  struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show a run: its waves, each cluster's state, budgets used, what it waits for.",
      discussion: "Without RUN, the latest run. --check verifies the journal (exit 1 if unsound).")

    @Argument(help: ArgumentHelp("The run id (default: the latest run).", valueName: "run"))
    var runID: String?

    @OptionGroup var location: RunLocation

    @Option(name: .shortAndLong, help: "text or json.")
    var output: String = "text"

    @Flag(help: "Verify the journal's integrity; exit 1 when it is not sound.")
    var check = false

    func validate() throws {
      guard ["text", "json"].contains(output) else {
        throw ValidationError("unknown output '\(output)'; expected one of: text, json")
      }
    }

    func run() throws {
      let run = try runID ?? location.latest()
      let (header, records, state) = try location.read(run)
      let view = RunView(
        header: header, state: state, records: records, store: try location.stateStore)
      // A rehearsal (--now, FLEETWAVE_NOW) runs on its own clock: its bakes end on that clock.
      let now = ProcessInfo.processInfo.environment["FLEETWAVE_NOW"].flatMap(Timestamp.parse)
      print(output == "json" ? view.json() : view.text(now: now ?? Date()), terminator: "")
      guard check else { return }
      let problems = JournalIntegrity.problems(in: records)
      if problems.isEmpty {
        if output == "text" { print("journal: sound (\(records.count) records)") }
        return
      }
      for problem in problems { printError("journal: \(problem)") }
      throw ExitCode(1)
    }
  }
}

/// One run, read from its journal, for `status` and `history`.
struct RunView {
  let header: RunHeader
  let state: RunState
  let holder: LockHolder?
  /// Time spent running, summed over the run's passes (see `RunView.activeTime`).
  let active: TimeInterval

  init(header: RunHeader, state: RunState, records: [JournalRecord], store: any StateStore) {
    self.header = header
    self.state = state
    let holder = store.lockHolder()
    self.holder = holder?.run == header.id ? holder : nil
    active = Self.activeTime(records)
  }

  /// The time a run spent running: each pass from its first record (the header, or a
  /// `resumed`) to its last, summed. The time a run stood stopped between passes does not
  /// count, and a rehearsal's passes (each with its own --now) cannot subtract.
  static func activeTime(_ records: [JournalRecord]) -> TimeInterval {
    var total: TimeInterval = 0
    var passStart: Date?
    var last: Date?
    for record in records {
      switch record.entry {
      case .runStarted, .resumed:
        if let passStart, let last { total += max(0, last.timeIntervalSince(passStart)) }
        passStart = record.at
      // Written by other processes (approve, pause): not part of a pass.
      case .approval, .paused: continue
      default: break
      }
      last = record.at
    }
    if let passStart, let last { total += max(0, last.timeIntervalSince(passStart)) }
    return total
  }

  /// live, paused, waiting, unfinished, or the run's outcome.
  var condition: String {
    if holder != nil { return "running" }
    if let outcome = state.outcome { return outcome }
    if state.paused { return "paused" }
    if state.waitingFor != nil { return "waiting" }
    return "unfinished"
  }

  struct WaveView {
    var index: Int
    var name: String
    var state: String
    var clusters: [String]
    var allowedFailures: Int
    var approval: Bool
    /// The frozen plan's bake, when it has one.
    var bake: Duration?
  }

  /// When a baking wave's bake ends: its start as journaled plus the frozen plan's bake.
  func bakeEnds(_ wave: WaveView) -> Date? {
    guard wave.state == "baking", let began = state.waveChangedAt[wave.name], let bake = wave.bake
    else { return nil }
    return began.addingTimeInterval(DurationText.seconds(bake))
  }

  /// `; bake ends at T (12m left)`, or that it is over and the wave promotes when the run goes
  /// on: a baking wave is waiting, not changing anything.
  func bakeText(_ wave: WaveView, now: Date) -> String {
    guard let ends = bakeEnds(wave) else { return "" }
    let left = ends.timeIntervalSince(now)
    guard left > 0 else {
      return "; bake ended at \(Timestamp.iso(ends)), promotes when the run goes on"
    }
    let shown = DurationText.format(.seconds(Int64(left.rounded(.up))))
    return "; bake ends at \(Timestamp.iso(ends)) (\(shown) left)"
  }

  var waves: [WaveView] {
    (header.plan["waves"]?.sequence ?? []).enumerated().map { position, wave in
      let index = wave["index"]?.int.map(Int.init) ?? position
      return WaveView(
        index: index, name: wave["name"]?.string ?? "wave \(index)",
        state: state.waves[wave["name"]?.string ?? "wave \(index)"] ?? "pending",
        clusters: (wave["clusters"]?.sequence ?? []).compactMap(\.string),
        allowedFailures: wave["allowedFailures"]?.int.map(Int.init) ?? 0,
        approval: wave["approval"]?.bool ?? false,
        bake: wave["bake"]?.string.flatMap(DurationText.parse))
    }
  }

  func clusterState(_ name: String) -> String { state.clusters[name]?.state ?? "pending" }

  var failed: Int {
    state.clusters.values.filter {
      ["failed", "rollback-failed"].contains($0.state) || $0.error != nil
    }
    .count
  }

  var duration: String {
    DurationText.format(.seconds(Int64(active.rounded())))
  }

  func text(now: Date = Date()) -> String {
    var text = "run \(header.id): \(condition)\n"
    text += "  fleet \(header.fleet), release \(header.release) \(header.version ?? "-")"
    if let driver = header.settings["driver"] { text += ", driver \(driver)" }
    text += ", started \(Timestamp.iso(header.startedAt)) by \(header.user) on \(header.host)\n"
    if let holder {
      text += "  live: pid \(holder.pid) on \(holder.host) since \(Timestamp.iso(holder.since))\n"
    }
    if state.paused { text += "  paused by \(state.pausedBy ?? "someone")\n" }
    if let waiting = state.waitingFor { text += "  waiting for: \(waiting)\n" }
    for wave in waves {
      var counts: [String: Int] = [:]
      for name in wave.clusters { counts[clusterState(name), default: 0] += 1 }
      let parts = counts.keys.sorted().map { "\(counts[$0] ?? 0) \($0)" }
      let failures = wave.clusters.filter {
        ["failed", "rollback-failed"].contains(clusterState($0))
      }.count
      text += "  wave \(wave.index) \(wave.name): \(wave.state); " + parts.joined(separator: ", ")
      text += "; failures \(failures) of \(wave.allowedFailures) allowed"
      text += bakeText(wave, now: now)
      if wave.approval {
        text += state.approvals[wave.name].map { "; approved by \($0)" } ?? "; needs approval"
      }
      if let reason = state.haltReasons[wave.name] { text += "; halted: \(reason)" }
      // Its summary says how it went: passed on, failed on, or skipped (--skip-preflight).
      if let preflight = state.waveGates[wave.name]?.last(where: { $0.gate == "preflight" }) {
        text += "; preflight \(preflight.summary)"
      }
      text += "\n"
      let moving = wave.clusters.filter {
        !["pending", "succeeded", "excluded"].contains(clusterState($0))
      }
      for name in moving {
        let record = state.clusters[name]
        text += "    \(name): \(clusterState(name))"
        if let revision = record?.revision { text += " (revision \(revision))" }
        if let error = record?.error { text += ": \(error)" }
        text += "\n"
      }
    }
    if let allowed = header.plan["allowedFailuresTotal"]?.int {
      text += "  budget: \(failed) failed of \(allowed) allowed in total\n"
    }
    if !state.inFlight.isEmpty, holder == nil, state.outcome == nil {
      text += "  mid-change when the run stopped: " + state.inFlight.joined(separator: ", ") + "\n"
    }
    return text
  }

  func json() -> String {
    var root = Mapping()
    root["run"] = .string(header.id)
    root["fleet"] = .string(header.fleet)
    root["release"] = .string(header.release)
    root["version"] = header.version.map { .string($0) } ?? .null
    root["driver"] = header.settings["driver"].map { .string($0) } ?? .null
    root["condition"] = .string(condition)
    root["outcome"] = state.outcome.map { .string($0) } ?? .null
    root["waitingFor"] = state.waitingFor.map { .string($0) } ?? .null
    root["pausedBy"] = state.pausedBy.map { .string($0) } ?? .null
    root["startedAt"] = .string(Timestamp.iso(header.startedAt))
    root["waves"] = .sequence(
      waves.map { wave in
        var m = Mapping()
        m["index"] = .int(Int64(wave.index))
        m["name"] = .string(wave.name)
        m["state"] = .string(wave.state)
        m["approvedBy"] = state.approvals[wave.name].map { .string($0) } ?? .null
        m["haltReason"] = state.haltReasons[wave.name].map { .string($0) } ?? .null
        m["preflight"] =
          state.waveGates[wave.name]?.last(where: { $0.gate == "preflight" }).map {
            ["passed": .bool($0.passed), "summary": .string($0.summary)]
          } ?? .null
        m["bakeEndsAt"] = bakeEnds(wave).map { .string(Timestamp.iso($0)) } ?? .null
        return .mapping(m)
      })
    var clusters: [Value] = []
    for wave in waves {
      for name in wave.clusters {
        let record = state.clusters[name]
        var m = Mapping()
        m["name"] = .string(name)
        m["wave"] = .int(Int64(wave.index))
        m["state"] = .string(clusterState(name))
        m["revision"] = record?.revision.map { .string($0) } ?? .null
        m["fromRevision"] = record?.fromRevision.map { .string($0) } ?? .null
        m["error"] = record?.error.map { .string($0) } ?? .null
        clusters.append(.mapping(m))
      }
    }
    root["clusters"] = .sequence(clusters)
    root["inFlight"] = .sequence(state.inFlight.map { .string($0) })
    return JSONWriter.string(.mapping(root), options: .init(pretty: true)) + "\n"
  }
}
