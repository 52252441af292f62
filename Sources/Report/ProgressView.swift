// Live progress of a run: on a terminal an ANSI frame redrawn every second on the run's clock
// (and at most ten times a second after events), plain timestamped lines anywhere else (CI logs).
import FleetCore
import Foundation

public final class ProgressView: @unchecked Sendable {
  public enum Style: Sendable { case terminal, lines }

  public let style: Style
  private let plan: Plan
  private let maxParallel: Int
  /// The run's time: elapsed, countdowns and the ETA are read from it.
  private let clock: any RolloutClock
  /// What the redraws are scheduled on: the run's clock, or the system's when the run goes at
  /// virtual time (a tick a virtual second would slow the run to a crawl).
  private let ticks: any RolloutClock
  private let write: @Sendable (String) -> Void
  private let width: Int
  private let colour: Bool
  /// How to go on after Ctrl-C, as the command line that started the run says it.
  private let resumeCommand: String?

  private let lock = NSLock()
  private let queue = DispatchQueue(label: "fleetwave.progress")
  private var phases: [String: ClusterPhase] = [:]
  private var startedAt: [String: Date] = [:]
  private var durations: [Double] = []
  private var wavePhases: [Int: WavePhase] = [:]
  private var waveOfCluster: [String: Int] = [:]
  /// When the wave's bake ends, or the window or wait it is in does.
  private var waveUntil: [Int: Date] = [:]
  private var gates: [Int: GateTally] = [:]
  /// A cluster's failed gate, so its failure reads as the gate's value, not the gate's query.
  private var failedGate: [String: GateResult] = [:]
  private var inFlight: [String] = []
  private var notes: [Note] = []
  private var run: String?
  private var runStart: Date?
  private var runEnd: Date?
  private var outcome: RunOutcome?
  private var interrupted = false
  private var drawnLines = 0
  private var drawing = false
  private var tick: Cancellation?
  private var pendingRedraw: Cancellation?

  /// Gate results of one wave so far.
  private struct GateTally {
    var passed = 0
    var total = 0
    var last: String?
  }

  /// A line under the waves; names in it are elided to fit, the rest is kept whole.
  private struct Note {
    enum Part {
      case text(String)
      case name(String)
    }
    var parts: [Part]
    var tone: TerminalText.Tone = .bad

    func text(nameLimit: Int) -> String {
      parts.map { part in
        switch part {
        case .text(let text): return text
        case .name(let name): return TerminalText.elide(name, to: nameLimit)
        }
      }.joined()
    }
  }

  /// The driver's name, said in the first line: a run must never leave in doubt whether it
  /// changed real clusters or only simulated.
  private let driver: String?

  public init(
    plan: Plan, style: Style, maxParallel: Int, clock: any RolloutClock = SystemClock(),
    ticks: (any RolloutClock)? = nil, width: Int = 100, colour: Bool = false,
    resumeCommand: String? = nil, driver: String? = nil,
    write: @escaping @Sendable (String) -> Void
  ) {
    self.resumeCommand = resumeCommand
    self.driver = driver
    self.plan = plan
    self.style = style
    self.maxParallel = max(1, maxParallel)
    self.clock = clock
    self.ticks = ticks ?? clock
    self.width = max(40, width)
    self.colour = colour && style == .terminal
    self.write = write
    for wave in plan.waves {
      wavePhases[wave.index] = .pending
      for name in wave.clusters {
        phases[name] = .pending
        waveOfCluster[name] = wave.index
      }
    }
  }

  /// `.terminal` when `fd` is a terminal, else `.lines`.
  public static func style(for fd: Int32) -> Style { isatty(fd) == 1 ? .terminal : .lines }

  /// Whether a view on `fd` may colour its frame: a terminal, and `NO_COLOR` unset or empty.
  public static func colours(
    for fd: Int32, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Bool {
    TerminalText.colours(fd: fd, environment: environment)
  }

  /// The terminal's width in columns, or nil when `fd` is not a terminal.
  public static func columns(of fd: Int32) -> Int? {
    var size = winsize()
    guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
  }

  /// Starts redrawing (terminal style only): once a second on the tick clock, so elapsed time
  /// and countdowns move between events, and at most ten times a second after events.
  public func start() {
    guard style == .terminal else { return }
    lock.lock()
    drawing = true
    lock.unlock()
    redraw()
    scheduleTick()
  }

  /// Stops redrawing and draws the final frame.
  public func finish() {
    lock.lock()
    drawing = false
    tick?.cancel()
    pendingRedraw?.cancel()
    tick = nil
    pendingRedraw = nil
    lock.unlock()
    if style == .terminal { redraw() }
  }

  private func scheduleTick() {
    lock.lock()
    defer { lock.unlock() }
    guard drawing else { return }
    tick = ticks.schedule(at: ticks.now().addingTimeInterval(1), on: queue) { [weak self] in
      self?.redraw()
      self?.scheduleTick()
    }
  }

  /// An executor observer: records the event, prints a line in `.lines` style.
  public func handle(_ event: RolloutEvent) {
    lock.lock()
    apply(event)
    var lines: [String] = []
    if style == .lines {
      if let line = Self.line(for: event, plan: plan, at: clock.now(), driver: driver) {
        lines.append(line)
      }
      if case .runFinished = event, let resume = resumeHint() { lines.append(resume) }
    } else if drawing && pendingRedraw == nil {
      pendingRedraw = ticks.schedule(at: ticks.now().addingTimeInterval(0.1), on: queue) {
        [weak self] in self?.redraw()
      }
    }
    lock.unlock()
    for line in lines { write(line + "\n") }
  }

  private func apply(_ event: RolloutEvent) {
    switch event {
    case .runStarted(let run, let at):
      self.run = run
      runStart = at
    case .waveStarted(let wave, _):
      wavePhases[wave] = .running
      waveUntil[wave] = nil
    case .waveWaiting(let wave, let phase, let until, _):
      wavePhases[wave] = phase
      waveUntil[wave] = until
    case .waveBaking(let wave, let until, _):
      wavePhases[wave] = .baking
      waveUntil[wave] = until
    case .wavePromoted(let wave, _):
      wavePhases[wave] = .promoted
      waveUntil[wave] = nil
    case .waveHalted(let wave, let reason, _):
      wavePhases[wave] = .halted
      waveUntil[wave] = nil
      notes.append(Note(parts: [.text("halted: \(reason)")]))
    case .clusterPhase(let name, _, let phase, let detail, let at):
      let before = phases[name]
      phases[name] = phase
      if phase.isInFlight && !(before?.isInFlight ?? false) {
        startedAt[name] = at
        inFlight.append(name)
      } else if !phase.isInFlight {
        if let start = startedAt[name], before == .upgrading || before == .verifying {
          durations.append(at.timeIntervalSince(start))
        }
        inFlight.removeAll { $0 == name }
      }
      if phase == .failed {
        if let gate = failedGate[name], detail?.hasPrefix("health gate") ?? false {
          notes.append(
            Note(parts: [
              .name(name), .text(" failed: gate "), .name(GateText.name(gate)),
              .text(": " + GateText.verdict(gate)),
            ]))
        } else {
          notes.append(Note(parts: [.name(name), .text(" failed: \(detail ?? "")")]))
        }
      }
      if phase == .rollbackFailed {
        notes.append(
          Note(parts: [.text("rollback of "), .name(name), .text(" failed: \(detail ?? "")")]))
      }
      if let detail, phase == before {
        notes.append(Note(parts: [.name(name), .text(": \(detail)")], tone: .waiting))
      }
    case .gateResult(nil, let wave, let result) where result.gate == "preflight":
      // Checked before the wave starts: not one of its health gates; only a failure shows.
      if !result.passed {
        let name = plan.waves.first { $0.index == wave }?.name ?? "?"
        notes.append(
          Note(parts: [.text("wave \(name) preflight failed: " + GateText.verdict(result))]))
      }
    case .gateResult(let cluster, let wave, let result):
      var tally = gates[wave] ?? GateTally()
      tally.total += 1
      if result.passed { tally.passed += 1 }
      tally.last = GateText.lastValue(result) ?? tally.last
      gates[wave] = tally
      if !result.passed {
        if let cluster {
          failedGate[cluster] = result
        } else {
          let name = plan.waves.first { $0.index == wave }?.name ?? "?"
          notes.append(
            Note(parts: [
              .text("wave \(name) gate "), .name(GateText.name(result)),
              .text(" failed: " + GateText.verdict(result)),
            ]))
        }
      }
    case .interruptRequested(let forced, _):
      interrupted = true
      notes.append(
        Note(
          parts: [
            .text(
              forced
                ? "cancelling in-flight clusters"
                : "interrupted: finishing in-flight clusters; interrupt again to cancel them")
          ], tone: .waiting))
    case .runFinished(let outcome, let at):
      runEnd = at
      self.outcome = outcome
    case .measurement:
      break
    }
  }

  /// After Ctrl-C, the command that goes on from where the run stopped.
  private func resumeHint() -> String? {
    guard interrupted, outcome == .interrupted, let run else { return nil }
    return "to continue: \(resumeCommand ?? "fleetwave resume \(run)")"
  }

  private func redraw() {
    lock.lock()
    defer { lock.unlock() }
    pendingRedraw = nil
    let lines = physicalLines(colour: colour)
    // Back to the first column of the frame's first line (a ^C echoed by the terminal may
    // have moved the cursor right), each line cleared after its text, and everything below
    // cleared: the lines of a longer previous frame, and whatever the terminal echoed.
    var text = drawnLines > 0 ? "\r\u{1B}[\(drawnLines)A" : "\r"
    for line in lines { text += line + "\u{1B}[K\n" }
    text += "\u{1B}[J"
    drawnLines = lines.count
    // Written under the lock: a tick and the final frame must not interleave.
    write(text)
  }

  /// The frame as the terminal shows it: wrapped one column short of the width (a full line
  /// would leave the cursor waiting to wrap), coloured if asked.
  func terminalLines(colour: Bool = false) -> [String] {
    lock.lock()
    defer { lock.unlock() }
    return physicalLines(colour: colour)
  }

  private func physicalLines(colour: Bool) -> [String] {
    frameLines().flatMap { line in
      TerminalText.wrap(line.text, width: width - 1).map {
        TerminalText.paint($0, line.tone, colour: colour)
      }
    }
  }

  /// The frame as plain lines: header, one line per wave, the clusters in flight, notes.
  func frame() -> [String] {
    lock.lock()
    defer { lock.unlock() }
    return frameLines().map(\.text)
  }

  private func frameLines() -> [(text: String, tone: TerminalText.Tone)] {
    let now = runEnd ?? clock.now()
    let elapsed = runStart.map { now.timeIntervalSince($0) } ?? 0
    let nameLimit = max(12, width / 3)
    var header = "fleetwave rollout \(plan.fleet)"
    if let driver { header += "  driver \(driver)" }
    header += "  elapsed \(Self.format(seconds: elapsed))"
    if let eta = estimateRemaining(now: now) {
      header += "  about \(Self.format(seconds: eta)) left"
    }
    var lines: [(text: String, tone: TerminalText.Tone)] = [(header, .plain)]
    for wave in plan.waves {
      let phase = wavePhases[wave.index] ?? .pending
      var counts: [ClusterPhase: Int] = [:]
      for name in wave.clusters { counts[phases[name] ?? .pending, default: 0] += 1 }
      let done =
        wave.clusters.count - (counts[.pending] ?? 0) - (counts[.upgrading] ?? 0)
        - (counts[.verifying] ?? 0)
      let mark: String
      let tone: TerminalText.Tone
      switch phase {
      case .promoted: (mark, tone) = ("✓", .good)
      case .halted: (mark, tone) = ("✗", .bad)
      case .running, .baking: (mark, tone) = ("▸", .busy)
      case .waitingForApproval, .waitingForWindow, .interrupted: (mark, tone) = ("…", .waiting)
      case .pending: (mark, tone) = ("·", .quiet)
      }
      var line = "\(mark) \(wave.index) \(TerminalText.elide(wave.name, to: nameLimit))"
      line += "\(wave.isCanary ? " (canary)" : "")  \(phase.rawValue)"
      if let until = waveUntil[wave.index], runEnd == nil, until > now {
        let left = Self.format(seconds: until.timeIntervalSince(now).rounded(.up))
        line += phase == .baking ? " \(left) left" : " for \(left)"
      }
      line += "  \(done)/\(wave.clusters.count)"
      for state in ClusterPhase.allCases where state != .pending {
        if let count = counts[state], count > 0 { line += "  \(state.rawValue) \(count)" }
      }
      if let tally = gates[wave.index] {
        line += "  gates \(tally.passed)/\(tally.total) passed"
        if let last = tally.last { line += ", last \(last)" }
      }
      let failed = (counts[.failed] ?? 0) + (counts[.rollbackFailed] ?? 0) > 0
      lines.append((line, failed && phase != .halted ? .bad : tone))
    }
    if !inFlight.isEmpty {
      let shown = inFlight.prefix(6).map { name -> String in
        let seconds = startedAt[name].map { now.timeIntervalSince($0) } ?? 0
        return "\(TerminalText.elide(name, to: nameLimit)) "
          + "(\(phases[name]?.rawValue ?? "?") \(Self.format(seconds: seconds)))"
      }
      var line = "now: " + shown.joined(separator: ", ")
      if inFlight.count > shown.count { line += " +\(inFlight.count - shown.count) more" }
      lines.append((line, .busy))
    }
    lines += notes.suffix(5).map { ($0.text(nameLimit: nameLimit), $0.tone) }
    if let resume = resumeHint() { lines.append((resume, .waiting)) }
    return lines
  }

  /// Mean cluster time so far, times the rounds of `maxParallel` still to go, plus bakes.
  private func estimateRemaining(now: Date) -> Double? {
    // Nothing to estimate once the run is over or halted (what remains is rollback).
    guard !durations.isEmpty, runEnd == nil, !wavePhases.values.contains(.halted) else {
      return nil
    }
    let mean = durations.reduce(0, +) / Double(durations.count)
    var total = 0.0
    for wave in plan.waves {
      let phase = wavePhases[wave.index] ?? .pending
      if phase == .baking, let until = waveUntil[wave.index] {
        total += max(0, until.timeIntervalSince(now))
        continue
      }
      guard phase == .pending || phase == .running else { continue }
      let left = wave.clusters.filter {
        phases[$0] == .pending || (phases[$0]?.isInFlight ?? false)
      }.count
      let parallel = Double(min(maxParallel, max(1, wave.maxParallel)))
      total += (Double(left) / parallel).rounded(.up) * mean + DurationText.seconds(wave.bake)
    }
    return total
  }

  /// One event as a CI log line.
  /// `now` stamps what carries no time of its own (a gate's result).
  public static func line(
    for event: RolloutEvent, plan: Plan, at now: Date, driver: String? = nil
  ) -> String? {
    func waveName(_ index: Int) -> String {
      let name = plan.waves.first { $0.index == index }?.name ?? "?"
      return "wave \(index) \(name)"
    }
    switch event {
    case .runStarted(let run, let at):
      return "\(Timestamp.iso(at)) run \(run) started: \(plan.clusterCount) clusters in "
        + "\(plan.waves.count) waves" + (driver.map { ", driver \($0)" } ?? "")
    case .waveStarted(let wave, let at):
      let size = plan.waves.first { $0.index == wave }?.clusters.count ?? 0
      return "\(Timestamp.iso(at)) \(waveName(wave)) started (\(size) clusters)"
    case .waveWaiting(let wave, let phase, let until, let at):
      return "\(Timestamp.iso(at)) \(waveName(wave)) \(phase.rawValue)"
        + (until.map { " until \(Timestamp.iso($0))" } ?? "")
    case .waveBaking(let wave, let until, let at):
      guard until > at else { return nil }
      return "\(Timestamp.iso(at)) \(waveName(wave)) baking until \(Timestamp.iso(until))"
    case .wavePromoted(let wave, let at):
      return "\(Timestamp.iso(at)) \(waveName(wave)) promoted"
    case .waveHalted(let wave, let reason, let at):
      return "\(Timestamp.iso(at)) \(waveName(wave)) HALTED: \(reason)"
    case .clusterPhase(let cluster, let wave, let phase, let detail, let at):
      return "\(Timestamp.iso(at)) \(waveName(wave)) \(cluster) \(phase.rawValue)"
        + (detail.map { ": \($0)" } ?? "")
    case .gateResult(let cluster, let wave, let result):
      // Every result, passed ones too: a CI log is where people look for what was measured.
      let verdict = result.passed ? "passed" : "FAILED"
      // The preflight is checked before the wave starts: not a gate of its clusters' health.
      let subject =
        cluster == nil && result.gate == "preflight"
        ? "preflight" : "\(cluster ?? "wave gate") gate \(GateText.name(result))"
      return "\(Timestamp.iso(result.measurements.last?.at ?? now)) \(waveName(wave)) "
        + "\(subject) \(verdict): " + GateText.verdict(result)
    case .measurement:
      return nil
    case .interruptRequested(let forced, let at):
      return "\(Timestamp.iso(at)) "
        + (forced
          ? "second interrupt: cancelling in-flight clusters"
          : "interrupt: no new clusters start; in-flight clusters finish")
    case .runFinished(let outcome, let at):
      return "\(Timestamp.iso(at)) run finished: \(outcome.rawValue)"
    }
  }

  static func format(seconds: Double) -> String {
    let total = Int(seconds.rounded(.down))
    if total < 60 { return "\(total)s" }
    if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
    return "\(total / 3600)h\(String(format: "%02d", (total % 3600) / 60))m"
  }
}
