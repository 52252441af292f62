// The live view as a person sees it: the built `fleetwave rollout` in a tmux pane of 80 and
// 120 columns, against fleet-sim (real kubectl-compatible API, real helm rendering) and a real
// Prometheus, read back with `tmux capture-pane` while it runs and after it ends.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import ProcessGroups
import Testing

@testable import Report

func shellCommand(_ arguments: [String]) -> String {
  "exec " + arguments.map(Escaping.shellWord).joined(separator: " ")
}

/// Runs a short command to its end; its standard output, or nil if it failed.
@discardableResult
func runToEnd(_ arguments: [String], in directory: TemporaryDirectory) -> String? {
  let name = UUID().uuidString.prefix(8)
  let output = directory.file("out-\(name)")
  let outcome = ProcessGroupCommand(
    command: shellCommand(arguments), environment: childEnvironment(),
    logPath: directory.file("log-\(name)"), stdoutPath: output, timeout: .seconds(30)
  ).run(clock: SystemClock(), cancellation: Cancellation())
  defer {
    try? FileManager.default.removeItem(atPath: output)
    try? FileManager.default.removeItem(atPath: directory.file("log-\(name)"))
  }
  guard outcome == .exited(0) else { return nil }
  return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
}

/// fleet-sim serving a three-cluster fleet over plain HTTP, with an image fault that makes
/// `prod-bad-eu-west-1` fail 27.9% of requests once it runs 2.0.0-bad; optionally a Prometheus
/// scraping the emulator's fleet-wide metrics every second.
final class LiveFleet {
  let directory: TemporaryDirectory
  let kubeconfig: String
  private(set) var prometheusURL: String?
  private var processes: [BackgroundProcess] = []

  init(prometheus: Bool) throws {
    directory = try TemporaryDirectory("live-view")
    kubeconfig = directory.file("sim.kubeconfig")
    let chart = directory.file("fleet/charts")
    try FileManager.default.createDirectory(atPath: chart, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: BuiltProducts.packageRoot.appendingPathComponent("fleets/demo/charts/checkout").path,
      toPath: chart + "/checkout")
    _ = try directory.write(
      "fleet/values.yaml",
      "image: {repository: shop/checkout, tag: \"2.0.0-bad\"}\nreplicaCount: 2\n")
    try writeFleet(bake: "1s", health: "")
    let faults = try directory.write(
      "faults.yaml",
      """
      images:
        - {match: "*:2.0.0-bad", effect: errors, errorRatio: 0.279, selector: "bad=true"}
      """)
    let port = try freeLoopbackPort()
    do {
      processes.append(
        try BackgroundProcess(
          BuiltProducts.path("fleet-sim"),
          [
            "serve", "--fleet", directory.file("fleet"), "--port",
            String(port), "--kubeconfig",
            kubeconfig, "--faults", faults, "--speed", "10", "--state", directory.file("sim"),
          ], output: directory.file("fleet-sim.log")))
      guard eventually(timeout: 30, { FileManager.default.fileExists(atPath: kubeconfig) }) else {
        throw LiveViewError("fleet-sim did not start: \(directory.file("fleet-sim.log"))")
      }
      if prometheus { try startPrometheus(scraping: "127.0.0.1:\(port)") }
    } catch {
      stop()
      throw error
    }
  }

  /// (Re)writes fleet.yaml: canary, then a prod wave of two, with `health` under rollout.
  func writeFleet(bake: String, health: String) throws {
    _ = try directory.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: live}
      release: {name: checkout, namespace: shop, driver: kube, chart: charts/checkout, version: 2.0.0}
      values: [values.yaml]
      clusters:
        - {name: canary-1, labels: {canary: "true"}, context: canary-1}
        - {name: prod-a, labels: {env: prod}, context: prod-a}
        - {name: prod-bad-eu-west-1, labels: {env: prod, bad: "true"}, context: prod-bad-eu-west-1}
      rollout:
        canary: {selector: canary=true, bake: \(bake)}
        waves: [{name: prod, selector: env=prod}]
        maxParallel: 3
        clusterTimeout: 60s
        failurePolicy: {maxFailuresPerWave: 0, rollback: failed}
      \(health)
      """)
  }

  /// A gate named by its whole query, as gates are today: the name the view has to elide.
  func errorRatioGate() throws -> String {
    let url = try #require(prometheusURL)
    return """
        health:
          - prometheus:
              url: \(url)
              query: 'sum(rate(app_request_errors_total{cluster="{{ .name }}"}[5s])) / sum(rate(app_requests_total{cluster="{{ .name }}"}[5s]))'
              failIf: "> 0.05"
              interval: 2s
              count: 3
      """
  }

  private func startPrometheus(scraping target: String) throws {
    let port = try freeLoopbackPort()
    let config = try directory.write(
      "prometheus.yml",
      """
      global: {scrape_interval: 1s, evaluation_interval: 1s}
      scrape_configs:
        - job_name: fleet-sim
          static_configs: [{targets: ["\(target)"]}]
      """)
    processes.append(
      try BackgroundProcess(
        "/usr/bin/prometheus",
        [
          "--config.file=\(config)",
          "--storage.tsdb.path=\(directory.file("prometheus"))",
          "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ], output: directory.file("prometheus.log")))
    let url = "http://127.0.0.1:\(port)"
    let transport = HTTPTransport(.init(proxy: .direct))
    // The gate's rate() needs two scrapes in its window: wait for them, not for a time.
    let scraped = eventually(timeout: 60) {
      let answer = try? transport.send(
        HTTPRequest(
          .get, url + "/api/v1/query?query=rate(app_requests_total%5B5s%5D)", retry: .none))
      return answer.map { $0.text.contains("\"result\":[{") } ?? false
    }
    guard scraped else {
      throw LiveViewError(
        "prometheus has no fleet-sim samples: \(directory.file("prometheus.log"))")
    }
    prometheusURL = url
  }

  func stop() {
    for process in processes.reversed() { process.stop() }
    processes = []
    directory.remove()
  }
}

struct LiveViewError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// One detached tmux session on its own server socket, running one command in a pane of a
/// given size; the pane stays after the command exits, so its last screen can be read.
final class TmuxPane {
  /// In the test's directory, so removing it leaves no socket behind.
  private let socket: String
  private let directory: TemporaryDirectory

  init(columns: Int, rows: Int, directory: TemporaryDirectory, command: [String]) throws {
    self.directory = directory
    socket = directory.file("tmux-\(UUID().uuidString.prefix(8))")
    let configuration = try directory.write(
      "tmux.conf", "set -g status off\n")
    // The server the client forks detaches into a session of its own: it outlives the group.
    let started = runToEnd(
      [
        "/usr/bin/tmux", "-S", socket, "-f", configuration, "new-session", "-d", "-x",
        String(columns), "-y", String(rows), "--",
        // The pane stays after the command, saying how it exited (tmux's remain-on-exit would
        // scroll the screen by a line to say it); Ctrl-C goes to the command, not to the shell.
        "/bin/sh", "-c", "trap : INT; \"$@\"; echo \"[exit $?]\"; exec sleep 600", "sh",
      ] + command, in: directory)
    guard started != nil else { throw LiveViewError("tmux new-session failed") }
  }

  /// The pane's visible text; with `escapes`, its colours as SGR sequences too.
  func capture(escapes: Bool = false) -> String {
    runToEnd(
      ["/usr/bin/tmux", "-S", socket, "capture-pane", "-p"] + (escapes ? ["-e"] : []),
      in: directory) ?? ""
  }

  /// Polls the pane until `condition` holds for a capture, which it returns; nil at `timeout`.
  func waitFor(timeout: TimeInterval = 90, _ condition: (String) -> Bool) -> String? {
    var found: String?
    _ = eventually(timeout: timeout) {
      let screen = capture()
      if condition(screen) { found = screen }
      return found != nil
    }
    return found
  }

  func send(_ key: String) {
    runToEnd(["/usr/bin/tmux", "-S", socket, "send-keys", key], in: directory)
  }

  func close() { runToEnd(["/usr/bin/tmux", "-S", socket, "kill-server"], in: directory) }
}

/// A pane's lines with the view's continuation lines (indented by two) joined to the line
/// they continue, trailing blanks removed.
func logicalLines(_ screen: String) -> [String] {
  var lines: [String] = []
  for raw in screen.split(separator: "\n", omittingEmptySubsequences: false) {
    var line = String(raw)
    while line.hasSuffix(" ") { line.removeLast() }
    if line.hasPrefix("  "), let last = lines.last, !last.isEmpty {
      lines[lines.count - 1] = last + " " + line.drop { $0 == " " }
    } else {
      lines.append(line)
    }
  }
  while lines.last?.isEmpty ?? false { lines.removeLast() }
  return lines
}

/// The whole of `text` matches `pattern`.
func matches(_ text: String, _ pattern: String) -> Bool {
  text.range(of: "^" + pattern + "$", options: .regularExpression) != nil
}

/// The number after "elapsed " in a frame's header, in seconds.
func elapsedSeconds(_ screen: String) -> Int? {
  guard let range = screen.range(of: #"elapsed (\d+)s"#, options: .regularExpression) else {
    return nil
  }
  return Int(screen[range].dropFirst("elapsed ".count).dropLast())
}

/// The canary's bake countdown in a frame, in seconds.
func bakeLeft(_ screen: String) -> Int? {
  guard let range = screen.range(of: #"baking (\d+m)?\d+s left"#, options: .regularExpression)
  else { return nil }
  let text = screen[range].dropFirst("baking ".count).dropLast(" left".count)
  let parts = text.split(separator: "m")
  if parts.count == 2 { return (Int(parts[0]) ?? 0) * 60 + (Int(parts[1].dropLast()) ?? 0) }
  return Int(text.dropLast())
}

@Suite struct LiveViewTmuxTests {
  func command(_ fleet: LiveFleet, run: String, colour: Bool) throws -> [String] {
    [
      "/usr/bin/env", "FLEETWAVE_HELM=\(try #require(BuiltProducts.helm))",
      colour ? "NO_COLOR=" : "NO_COLOR=1", BuiltProducts.path("fleetwave"), "rollout",
      fleet.directory.file("fleet"), "--driver", "kube", "--kubeconfig", fleet.kubeconfig,
      "--run", run, "--report-json", fleet.directory.file("\(run).json"),
    ]
  }

  /// The pane shows a clock that ticks, the canary's bake counting down, the failing gate's
  /// value whole beside its limit, and at the end exactly the final frame: no line of an
  /// earlier, longer frame survives. Colour on at 120 columns, NO_COLOR=1 at 80.
  @Test(arguments: [80, 120]) func aHaltedRolloutAsThePaneShowsIt(columns: Int) throws {
    let fleet = try LiveFleet(prometheus: true)
    defer { fleet.stop() }
    try fleet.writeFleet(bake: "6s", health: try fleet.errorRatioGate())
    let pane = try TmuxPane(
      columns: columns, rows: 40, directory: fleet.directory,
      command: try command(fleet, run: "r1", colour: columns == 120))
    defer { pane.close() }

    let baking = try #require(pane.waitFor { bakeLeft($0) != nil }, "\(pane.capture())")
    let first = try #require(elapsedSeconds(baking))
    let bake = try #require(bakeLeft(baking))
    // Ticks and the bake's start fall on different fractions of a second: the clock and the
    // countdown each move within the bake, not necessarily in the same frame.
    _ = try #require(
      pane.waitFor { screen in
        (elapsedSeconds(screen) ?? 0) > first && bakeLeft(screen) != nil
      }, "the clock did not tick during the bake: \(pane.capture())")
    _ = try #require(
      pane.waitFor { screen in bakeLeft(screen).map { $0 < bake } ?? false },
      "the bake did not count down: \(pane.capture())")
    let coloured = pane.capture(escapes: true)
    #expect(coloured.contains("\u{1B}[36m▸ 0 canary") == (columns == 120), "\(coloured)")

    let final = try #require(
      pane.waitFor { $0.contains("[exit ") }, "the run did not end: \(pane.capture())")
    let report = try JSONReader.parse(
      String(contentsOfFile: fleet.directory.file("r1.json"), encoding: .utf8))
    let bad = try #require(
      report["clusters"]?.sequence?.first { $0["name"]?.string == "prod-bad-eu-west-1" })
    let failing = try #require(
      bad["measurements"]?.sequence?.last { $0["outcome"]?.string == "failed" }?["detail"]?.string)
    let value = ReportNumber.roundedInText(failing)  // e.g. "0.0652 > 0.05"
    #expect(value.hasSuffix(" > 0.05"))
    // The value and its limit are on one screen line, whatever the width.
    #expect(final.split(separator: "\n").contains { $0.contains(value) }, "\(final)")

    let gate = try #require(bad["measurements"]?.sequence?.last?["gate"]?.string)
    let shownGate = TerminalText.elide(gate, to: max(12, columns / 3))
    let lines = logicalLines(final)
    let frameEnd = try #require(lines.firstIndex { $0.hasPrefix("rollout r1: halted") })
    let patterns = [
      #"fleetwave rollout live  driver kube  elapsed \d+s"#,
      #"✓ 0 canary \(canary\)  promoted  1/1  succeeded 1  gates 1/1 passed, last [0-9.]+ not > 0\.05"#,
      #"✗ 1 prod  halted  2/2  (baking 1  rolled-back 1|succeeded 1  rolled-back 1)  gates 1/2 passed, last [0-9.]+ (not )?> 0\.05"#,
      NSRegularExpression.escapedPattern(
        for: "prod-bad-eu-west-1 failed: gate \(shownGate): failed (1) > failureLimit (0); "
          + "last: \(value)"),
      #"halted: wave 'prod' has 1 failed of 2 clusters; its budget allows 0"#,
    ]
    #expect(frameEnd == patterns.count, "\(final)")
    for (line, pattern) in zip(lines, patterns) {
      #expect(matches(line, pattern), "\(line)\n  !~ \(pattern)")
    }
    #expect(lines.filter { $0.hasPrefix("fleetwave rollout") }.count == 1)
    #expect(final.contains("\n[exit 1]\n"), "\(final)")
  }

  /// Ctrl-C during the canary's bake: the frame is redrawn once more, whole, with the command
  /// that goes on; no ^C or half-frame is left, and the exit code is 3.
  @Test(arguments: [80, 120]) func ctrlCLeavesACleanFrameAndTheResumeCommand(columns: Int) throws {
    let fleet = try LiveFleet(prometheus: false)
    defer { fleet.stop() }
    try fleet.writeFleet(bake: "10m", health: "")
    let pane = try TmuxPane(
      columns: columns, rows: 30, directory: fleet.directory,
      command: try command(fleet, run: "r2", colour: true))
    defer { pane.close() }

    let baking = try #require(pane.waitFor { bakeLeft($0) != nil }, "\(pane.capture())")
    let first = try #require(elapsedSeconds(baking))
    _ = try #require(
      pane.waitFor { (elapsedSeconds($0) ?? 0) > first }, "no tick: \(pane.capture())")
    pane.send("C-c")
    let final = try #require(
      pane.waitFor { $0.contains("[exit ") }, "the run did not stop: \(pane.capture())")
    #expect(!final.contains("^C"), "\(final)")
    let lines = logicalLines(final)
    let resume =
      "to continue: fleetwave resume r2 --fleet \(fleet.directory.file("fleet"))"
    let expected = [
      #"fleetwave rollout live  driver kube  elapsed \d+s"#,
      #"▸ 0 canary \(canary\)  baking  1/1  baking 1"#,
      #"· 1 prod  pending  0/2"#,
      #"interrupted: finishing in-flight clusters; interrupt again to cancel them"#,
      NSRegularExpression.escapedPattern(for: resume),
      #"rollout r2: interrupted \(1 succeeded, 2 not-started\) interrupted"#,
      #"\[exit 3\]"#,
    ]
    #expect(lines.count == expected.count, "\(final)")
    for (line, pattern) in zip(lines, expected) {
      #expect(matches(line, pattern), "\(line)\n  !~ \(pattern)")
    }
    #expect(final.contains("\n[exit 3]\n"), "\(final)")
  }
}
