// Live progress of a run: a redrawn ANSI frame on a terminal (at most ten frames a second),
// plain timestamped lines anywhere else (CI logs).
import FleetCore
import Foundation

public final class ProgressView: @unchecked Sendable {
  public enum Style: Sendable { case terminal, lines }

  public let style: Style
  private let plan: Plan
  /// The driver's name, said in the first line: a run must never leave in doubt whether it
  /// changed real clusters or only simulated.
  private let driver: String?
  private let maxParallel: Int
  private let clock: any RolloutClock
  private let write: @Sendable (String) -> Void
  private let width: Int

  private let lock = NSLock()
  private var phases: [String: ClusterPhase] = [:]
  private var startedAt: [String: Date] = [:]
  private var durations: [Double] = []
  private var wavePhases: [Int: WavePhase] = [:]
  private var waveOfCluster: [String: Int] = [:]
  private var inFlight: [String] = []
  private var notes: [String] = []
  private var runStart: Date?
  private var runEnd: Date?
  private var dirty = false
  private var drawnLines = 0
  private var timer: DispatchSourceTimer?

  public init(
    plan: Plan, style: Style, maxParallel: Int, clock: any RolloutClock = SystemClock(),
    width: Int = 100, driver: String? = nil, write: @escaping @Sendable (String) -> Void
  ) {
    self.plan = plan
    self.driver = driver
    self.style = style
    self.maxParallel = max(1, maxParallel)
    self.clock = clock
    self.width = max(40, width)
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

  /// The terminal's width in columns, or nil when `fd` is not a terminal.
  public static func columns(of fd: Int32) -> Int? {
    var size = winsize()
    guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
  }

  /// Starts redrawing (terminal style only).
  public func start() {
    guard style == .terminal else { return }
    let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "fleetwave.progress"))
    source.schedule(deadline: .now(), repeating: .milliseconds(100))
    source.setEventHandler { [weak self] in self?.redrawIfDirty() }
    lock.lock()
    timer = source
    lock.unlock()
    source.resume()
  }

  /// Stops redrawing and draws the final frame.
  public func finish() {
    lock.lock()
    let source = timer
    timer = nil
    lock.unlock()
    source?.cancel()
    if style == .terminal { redraw(force: true) }
  }

  /// An executor observer: records the event, prints a line in `.lines` style.
  public func handle(_ event: RolloutEvent) {
    lock.lock()
    apply(event)
    dirty = true
    let line = style == .lines ? Self.line(for: event, plan: plan, driver: driver) : nil
    lock.unlock()
    if let line { write(line + "\n") }
  }

  private func apply(_ event: RolloutEvent) {
    switch event {
    case .runStarted(_, let at): runStart = at
    case .waveStarted(let wave, _): wavePhases[wave] = .running
    case .waveWaiting(let wave, let phase, _, _): wavePhases[wave] = phase
    case .waveBaking(let wave, _, _): wavePhases[wave] = .baking
    case .wavePromoted(let wave, _): wavePhases[wave] = .promoted
    case .waveHalted(let wave, let reason, _):
      wavePhases[wave] = .halted
      notes.append("halted: \(reason)")
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
      if phase == .failed { notes.append("\(name) failed: \(detail ?? "")") }
      if phase == .rollbackFailed { notes.append("rollback of \(name) failed: \(detail ?? "")") }
      if let detail, phase == before { notes.append("\(name): \(detail)") }
    case .interruptRequested(let forced, _):
      notes.append(
        forced ? "cancelling in-flight clusters" : "interrupted: finishing in-flight clusters")
    case .runFinished(_, let at): runEnd = at
    case .measurement, .gateResult:
      break
    }
  }

  private func redrawIfDirty() { redraw(force: false) }

  private func redraw(force: Bool) {
    lock.lock()
    guard dirty || force else {
      lock.unlock()
      return
    }
    dirty = false
    let lines = frame()
    var text = ""
    if drawnLines > 0 { text += "\u{1B}[\(drawnLines)A" }
    for line in lines { text += "\u{1B}[2K" + String(line.prefix(width)) + "\n" }
    drawnLines = lines.count
    lock.unlock()
    write(text)
  }

  /// The frame as plain lines: header, one line per wave, the clusters in flight, notes.
  func frame() -> [String] {
    let now = runEnd ?? clock.now()
    let elapsed = runStart.map { now.timeIntervalSince($0) } ?? 0
    var header = "fleetwave rollout \(plan.fleet)"
    if let driver { header += "  driver \(driver)" }
    header += "  elapsed \(Self.format(seconds: elapsed))"
    if let eta = estimateRemaining() { header += "  about \(Self.format(seconds: eta)) left" }
    var lines = [header]
    for wave in plan.waves {
      let phase = wavePhases[wave.index] ?? .pending
      var counts: [ClusterPhase: Int] = [:]
      for name in wave.clusters { counts[phases[name] ?? .pending, default: 0] += 1 }
      let done =
        wave.clusters.count - (counts[.pending] ?? 0) - (counts[.upgrading] ?? 0)
        - (counts[.verifying] ?? 0)
      let mark: String
      switch phase {
      case .promoted: mark = "✓"
      case .halted: mark = "✗"
      case .running, .baking: mark = "▸"
      case .waitingForApproval, .waitingForWindow, .interrupted: mark = "…"
      case .pending: mark = "·"
      }
      var line = "\(mark) \(wave.index) \(wave.name)\(wave.isCanary ? " (canary)" : "")"
      line += "  \(phase.rawValue)  \(done)/\(wave.clusters.count)"
      for state in ClusterPhase.allCases where state != .pending {
        if let count = counts[state], count > 0 { line += "  \(state.rawValue) \(count)" }
      }
      lines.append(line)
    }
    if !inFlight.isEmpty {
      let shown = inFlight.prefix(6).map { name -> String in
        let seconds = startedAt[name].map { now.timeIntervalSince($0) } ?? 0
        return "\(name) (\(phases[name]?.rawValue ?? "?") \(Self.format(seconds: seconds)))"
      }
      var line = "now: " + shown.joined(separator: ", ")
      if inFlight.count > shown.count { line += " +\(inFlight.count - shown.count) more" }
      lines.append(line)
    }
    lines += notes.suffix(5)
    return lines
  }

  /// Mean cluster time so far, times the rounds of `maxParallel` still to go, plus bakes.
  private func estimateRemaining() -> Double? {
    // Nothing to estimate once the run is over or halted (what remains is rollback).
    guard !durations.isEmpty, runEnd == nil, !wavePhases.values.contains(.halted) else {
      return nil
    }
    let mean = durations.reduce(0, +) / Double(durations.count)
    var total = 0.0
    for wave in plan.waves {
      let phase = wavePhases[wave.index] ?? .pending
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
  public static func line(for event: RolloutEvent, plan: Plan, driver: String? = nil) -> String? {
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
      guard !result.passed else { return nil }
      return
        "\(waveName(wave)) \(cluster ?? "wave gate") gate \(result.gate) failed: \(result.summary)"
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
