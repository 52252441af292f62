// `fleetwave rollout` and `fleetwave simulate` as a user runs them: the built binary on a small
// fleet, its output, exit code and reports; SIGINT sent to the real process.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

/// A six-cluster fleet: canary, wave "first" (b-1, b-2), wave "rest" (c-1..c-3).
func writeTinyFleet(
  _ dir: TemporaryDirectory, driver: String, upgrade: String = "true",
  rollback: String = "true", health: String = ""
) throws -> String {
  try dir.write("fleet/values/base.yaml", "replicas: 2\nimage: {tag: 1.4.2}\n")
  return try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: tiny}
    release:
      name: checkout
      namespace: shop
      driver: \(driver)
      version: 1.4.2
      exec:
        upgrade: '\(upgrade)'
        rollback: '\(rollback)'
    values:
      - values/base.yaml
    clusters:
      - {name: canary-1, labels: {canary: "true", region: eu, wave: canary}}
      - {name: b-1, labels: {region: eu, wave: first}}
      - {name: b-2, labels: {region: us, wave: first}}
      - {name: c-1, labels: {region: eu, wave: rest}}
      - {name: c-2, labels: {region: us, wave: rest}}
      - {name: c-3, labels: {region: ap, wave: rest}}
    rollout:
      canary: {selector: canary=true, maxFailures: 0}
      waves:
        - {name: first, selector: wave=first}
        - {name: rest, selector: wave=rest}
      maxParallel: 2
      expectedDuration: 30s
      failurePolicy:
        maxFailuresPerWave: 0
        rollback: wave
    \(health)
    """)
}

func json(_ path: String) throws -> Value {
  try JSONReader.parse(String(contentsOfFile: path, encoding: .utf8))
}

func states(_ report: Value) -> [String: String] {
  var states: [String: String] = [:]
  for cluster in report["clusters"]?.sequence ?? [] {
    states[cluster["name"]?.string ?? "?"] = cluster["state"]?.string
  }
  return states
}

@Suite struct RolloutCommandTests {
  @Test func aFailingClusterInALaterWaveHaltsAndRollsBackInEveryReport() throws {
    let dir = try TemporaryDirectory("rollout-sim")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "sim")
    let result = try fleetwave(
      [
        "rollout", dir.file("fleet"), "--sim-fail", "c-2", "--report-json", dir.file("run.json"),
        "--junit", dir.file("junit.xml"), "--markdown", dir.file("summary.md"), "--run", "r1",
      ], timeout: 120)
    #expect(result.status == 1)
    #expect(result.stdout.contains(" wave 2 rest c-2 failed: simulated upgrade failure\n"))
    #expect(
      result.stdout.contains(
        " wave 2 rest HALTED: wave 'rest' has 1 failed of 3 clusters; its budget allows 0\n"))
    #expect(result.stdout.contains(" wave 2 rest c-2 rolled-back\n"))
    #expect(
      result.stdout.hasSuffix(
        """
        rollout r1: halted (3 succeeded, 2 rolled-back, 1 skipped)
          wave 'rest' has 1 failed of 3 clusters; its budget allows 0
          rolled back: c-1, c-2

        """))

    let report = try json(dir.file("run.json"))
    #expect(report["outcome"] == "halted")
    #expect(
      states(report) == [
        "canary-1": "succeeded", "b-1": "succeeded", "b-2": "succeeded", "c-1": "rolled-back",
        "c-2": "rolled-back", "c-3": "skipped",
      ])
    let junit = try String(contentsOfFile: dir.file("junit.xml"), encoding: .utf8)
    #expect(
      junit.contains(
        #"<testsuites name="fleetwave rollout tiny" tests="6" failures="1" errors="0" skipped="2""#)
    )
    #expect(junit.contains(#"<failure message="simulated upgrade failure" type="upgrade-failed">"#))
    let markdown = try String(contentsOfFile: dir.file("summary.md"), encoding: .utf8)
    #expect(markdown.hasPrefix("## Fleetwave rollout `r1`: halted\n"))
    #expect(
      markdown.contains(
        "| `c-2` | rest | rolled-back | 1 → - → 2 | simulated upgrade failure |"))
  }

  @Test func execClustersAreVerifiedByTheFleetsHealthChecks() throws {
    let dir = try TemporaryDirectory("rollout-health")
    defer { dir.remove() }
    _ = try writeTinyFleet(
      dir, driver: "exec",
      rollback: "echo $FLEETWAVE_CLUSTER >> \(dir.path)/rolled-back",
      health: """
          health:
            - command: 'test "$FLEETWAVE_CLUSTER" != b-2'
        """)
    let result = try fleetwave(
      [
        "rollout", dir.file("fleet"), "--report-json", dir.file("run.json"),
        "--log-dir", dir.file("logs"),
      ])
    #expect(result.status == 1)
    let report = try json(dir.file("run.json"))
    #expect(report["reason"] == "wave 'first' has 1 failed of 2 clusters; its budget allows 0")
    let b2 = report["clusters"]?.sequence?.first { $0["name"] == "b-2" }
    #expect(
      b2?["error"]?.string?.hasPrefix(
        "health gate 'test' failed: ") == true)
    #expect(
      states(report) == [
        "canary-1": "succeeded", "b-1": "rolled-back", "b-2": "rolled-back",
        "c-1": "skipped", "c-2": "skipped", "c-3": "skipped",
      ])
    let rolledBack = try String(contentsOfFile: dir.file("rolled-back"), encoding: .utf8)
    #expect(Set(rolledBack.split(separator: "\n")) == ["b-1", "b-2"])
  }

  @Test func execCommandsGetEachClustersValuesWithSetApplied() throws {
    let dir = try TemporaryDirectory("rollout-values")
    defer { dir.remove() }
    _ = try writeTinyFleet(
      dir, driver: "exec",
      upgrade: #"cp "$FLEETWAVE_VALUES_FILE" \#(dir.path)/values-$FLEETWAVE_CLUSTER.yaml"#)
    let result = try fleetwave(
      ["rollout", dir.file("fleet"), "--set", "replicas=5", "--log-dir", dir.file("logs")])
    #expect(result.status == 0)
    #expect(result.stdout.hasSuffix(": succeeded (6 succeeded)\n"))
    for name in ["canary-1", "b-1", "c-3"] {
      #expect(
        try String(contentsOfFile: dir.file("values-\(name).yaml"), encoding: .utf8)
          == "replicas: 5\nimage:\n  tag: 1.4.2\n")
    }
  }

  @Test func aWaveThatNeedsApprovalStopsTheRunWithExitThree() throws {
    let dir = try TemporaryDirectory("rollout-approval")
    defer { dir.remove() }
    let fleet = try writeTinyFleet(dir, driver: "sim")
    let text = try String(contentsOfFile: fleet, encoding: .utf8)
    try text.replacingOccurrences(
      of: "{name: rest, selector: wave=rest}",
      with: "{name: rest, selector: wave=rest, approval: true}"
    ).write(toFile: fleet, atomically: true, encoding: .utf8)
    let paused = try fleetwave(["rollout", dir.file("fleet"), "--run", "r2"])
    #expect(paused.status == 3)
    #expect(
      paused.stdout.hasSuffix(
        """
        rollout r2: interrupted (3 succeeded, 3 not-started)
          waiting for approval of wave 'rest'
          to go on, approve the wave and resume the run:
            fleetwave approve r2 --wave rest --fleet \(dir.file("fleet"))
            fleetwave resume r2 --fleet \(dir.file("fleet"))
          or in one step: fleetwave rollout \(dir.file("fleet")) --approve rest

        """))
    // The approval continues run r2: the three clusters already done are not started again.
    let approved = try fleetwave(["rollout", dir.file("fleet"), "--approve", "rest"])
    #expect(approved.status == 0)
    #expect(approved.stdout.hasSuffix("rollout r2: succeeded (6 succeeded)\n"))
  }

  @Test func dryRunSaysWhatWouldRunAndRunsNothing() throws {
    let dir = try TemporaryDirectory("rollout-dry")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "exec", upgrade: "touch \(dir.path)/ran-$FLEETWAVE_CLUSTER")
    let result = try fleetwave(["rollout", dir.file("fleet"), "--dry-run"])
    #expect(result.status == 0)
    #expect(
      result.stdout == """
        dry run: 6 clusters of tiny in 3 waves, driver exec, at most 2 at once; nothing was changed
        wave 0 canary (canary): 1 clusters, maxParallel 2, bake 0s, tolerates 0 failures
          canary-1
        wave 1 first: 2 clusters, maxParallel 2, bake 0s, tolerates 0 failures
          b-1, b-2
        wave 2 rest: 3 clusters, maxParallel 2, bake 0s, tolerates 0 failures
          c-1, c-2, c-3
        on a crossed budget: halt, rollback wave, in-flight clusters finish
        per cluster: /bin/sh -c 'touch \(dir.path)/ran-$FLEETWAVE_CLUSTER' (as for canary-1)

        """)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["fleet"])
  }

  @Test func usageErrorsExitTwo() throws {
    let dir = try TemporaryDirectory("rollout-usage")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "sim")
    let badParallel = try fleetwave(["rollout", dir.file("fleet"), "--max-parallel", "0"])
    #expect(badParallel.status == 2)
    #expect(badParallel.stderr.contains("--max-parallel must be at least 1"))
    let badCluster = try fleetwave(["simulate", dir.file("fleet"), "--fail", "c-9"])
    #expect(badCluster.status == 2)
    #expect(
      badCluster.stderr.contains("no cluster named 'c-9' in fleet 'tiny'; did you mean 'c-1'?"))
  }

  @Test func simulateReportsHaltsPerWave() throws {
    let dir = try TemporaryDirectory("simulate")
    defer { dir.remove() }
    _ = try writeTinyFleet(dir, driver: "sim")
    let result = try fleetwave([
      "simulate", dir.file("fleet"), "--runs", "20", "--fail", "b-1", "--now",
      "2027-01-15T08:00:00Z",
    ])
    #expect(result.status == 0)
    #expect(
      result.stdout.hasPrefix(
        """
        simulated 20 runs of tiny (6 clusters, 3 waves, driver sim); failure rate 0%, failing b-1, seed 1
          from 2027-01-15T08:00:00.000Z, waiting for windows and freezes as plan does
          halted: 20 (100%)
          halted in: first 20
          clusters touched:     p50 3  p90 3  p99 3  max 3
          clusters rolled back: p50 2  p90 2  p99 2  max 2

        """))
  }

  /// Starts `fleetwave` with output to files, so the test can signal it mid-run.
  func start(_ arguments: [String], in dir: TemporaryDirectory) throws -> BackgroundProcess {
    try BackgroundProcess(
      BuiltProducts.path("fleetwave"), arguments, output: dir.file("out.txt"),
      errors: dir.file("err.txt"))
  }

  /// Wave "first" blocks until the test creates `go`; each cluster records its shell's pid.
  func blockingFleet(_ dir: TemporaryDirectory) throws {
    let upgrade =
      "case $FLEETWAVE_CLUSTER in b-*) echo $$ > \(dir.path)/pid-$FLEETWAVE_CLUSTER; "
      + "while [ ! -f \(dir.path)/go ]; do sleep 0.05; done;; esac"
    _ = try writeTinyFleet(dir, driver: "exec", upgrade: upgrade)
  }

  @Test func aFirstSigintLetsInFlightClustersFinishAndExitsThree() throws {
    let dir = try TemporaryDirectory("rollout-sigint")
    defer { dir.remove() }
    try blockingFleet(dir)
    let process = try start(
      [
        "rollout", dir.file("fleet"), "--report-json", dir.file("run.json"), "--log-dir",
        dir.file("logs"),
      ],
      in: dir)
    #expect(
      eventually(timeout: 60) {
        FileManager.default.fileExists(atPath: dir.file("pid-b-1"))
          && FileManager.default.fileExists(atPath: dir.file("pid-b-2"))
      })
    process.signal(SIGINT)
    #expect(
      eventually(timeout: 60) {
        (try? String(contentsOfFile: dir.file("out.txt"), encoding: .utf8))?.contains(
          "interrupt: no new clusters start") ?? false
      })
    FileManager.default.createFile(atPath: dir.file("go"), contents: nil)
    #expect(process.exit(within: 60) == 3)
    let report = try json(dir.file("run.json"))
    #expect(report["outcome"] == "interrupted")
    #expect(report["midUpgrade"] == [])
    #expect(
      states(report) == [
        "canary-1": "succeeded", "b-1": "succeeded", "b-2": "succeeded", "c-1": "not-started",
        "c-2": "not-started", "c-3": "not-started",
      ])
  }

  @Test func aSecondSigintCancelsInFlightClustersAndReportsThemMidUpgrade() throws {
    let dir = try TemporaryDirectory("rollout-sigint2")
    defer { dir.remove() }
    try blockingFleet(dir)
    let process = try start(
      [
        "rollout", dir.file("fleet"), "--report-json", dir.file("run.json"), "--log-dir",
        dir.file("logs"),
      ],
      in: dir)
    #expect(
      eventually(timeout: 60) {
        FileManager.default.fileExists(atPath: dir.file("pid-b-1"))
          && FileManager.default.fileExists(atPath: dir.file("pid-b-2"))
      })
    process.signal(SIGINT)
    #expect(
      eventually(timeout: 60) {
        (try? String(contentsOfFile: dir.file("out.txt"), encoding: .utf8))?.contains(
          "interrupt: no new clusters start") ?? false
      })
    process.signal(SIGINT)
    #expect(process.exit(within: 60) == 3)
    let report = try json(dir.file("run.json"))
    #expect(report["outcome"] == "interrupted")
    #expect(report["midUpgrade"] == ["b-1", "b-2"])
    #expect(states(report)["c-1"] == "not-started")
    for name in ["b-1", "b-2"] {
      let pid = try #require(readPid(dir.file("pid-\(name)")))
      #expect(eventually { !isAlive(pid) })
    }
  }
}
