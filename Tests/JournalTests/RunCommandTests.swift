// The run verbs as a user runs them: scheduled --until-blocked runs across three windows,
// the lock, approve, pause, resume with a changed fleet, status and history.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

/// Three waves of one cluster each, each in its own window: Monday in Berlin, Tuesday in New
/// York, Wednesday in Tokyo. The exec commands keep each cluster's revision in a file.
private func writeScheduledFleet(_ dir: TemporaryDirectory, approval: Bool = false) throws -> String
{
  let marks = dir.file("marks")
  try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
  _ = try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: sched}
    release:
      name: checkout
      namespace: shop
      driver: exec
      version: 2.0.0
      exec:
        upgrade: 'echo x >> \(marks)/$FLEETWAVE_CLUSTER.runs; echo 2.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
        rollback: 'echo 1.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
        revision: 'cat \(marks)/$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
    clusters:
      - {name: ber-1, labels: {canary: "true", w: a}, windows: [berlin-mon]}
      - {name: ny-1, labels: {w: b}, windows: [ny-tue]}
      - {name: tyo-1, labels: {w: c}, windows: [tokyo-wed]}
    rollout:
      canary: {selector: canary=true, maxFailures: 0}
      waves:
        - {name: americas, selector: w=b}
        - {name: asia, selector: w=c\(approval ? ", approval: true" : "")}
      maxParallel: 2
    windows:
      berlin-mon: {days: Mon, from: "10:00", to: "11:00", timezone: Europe/Berlin}
      ny-tue: {days: Tue, from: "10:00", to: "11:00", timezone: America/New_York}
      tokyo-wed: {days: Wed, from: "10:00", to: "11:00", timezone: Asia/Tokyo}
    """)
  return dir.file("fleet")
}

private func lastLine(_ text: String) -> String {
  text.split(separator: "\n").last.map(String.init) ?? ""
}

@Suite struct RunCommandTests {
  @Test func cronInvocationsFinishTheRolloutAcrossThreeWindows() throws {
    let dir = try TemporaryDirectory("run-scheduled")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    // 2027-01-18 is a Monday. Each invocation is what a cron job would run.
    let schedule: [(now: String, waiting: String?)] = [
      ("2027-01-18T08:00:00Z", "window 'berlin-mon' opens at 2027-01-18T09:00:00.000Z"),
      ("2027-01-18T09:05:00Z", "window 'ny-tue' opens at 2027-01-19T15:00:00.000Z"),
      ("2027-01-19T15:01:00Z", "window 'tokyo-wed' opens at 2027-01-20T01:00:00.000Z"),
      ("2027-01-20T01:30:00Z", nil),
    ]
    for step in schedule {
      let result = try fleetwave(
        ["rollout", fleet, "--until-blocked", "--now", step.now, "--run", "sched-1"])
      #expect(result.status == 0, "\(step.now): \(result.stderr)")
      // Every pass says in its first line which driver it runs (here: real commands).
      #expect(
        result.stdout.prefix { $0 != "\n" }.hasSuffix(", driver exec"),
        "\(step.now): \(result.stdout)")
      if let waiting = step.waiting {
        #expect(lastLine(result.stdout) == "waiting for: " + waiting)
      } else {
        #expect(lastLine(result.stdout) == "rollout sched-1: succeeded (3 succeeded)")
      }
    }
    for name in ["ber-1", "ny-1", "tyo-1"] {
      let runs = try String(contentsOfFile: dir.file("marks/\(name).runs"), encoding: .utf8)
      #expect(runs == "x\n", "\(name)")
    }
    let status = try fleetwave(["status", "sched-1", "--fleet", fleet, "--check"])
    #expect(status.status == 0)
    #expect(status.stdout.hasPrefix("run sched-1: succeeded\n"))
    #expect(
      status.stdout.split(separator: "\n")[1].hasPrefix(
        "  fleet sched, release checkout 2.0.0, driver exec, started "))
    #expect(
      status.stdout.hasSuffix("journal: sound (\(try journalCount(fleet, "sched-1")) records)\n"))
    let history = try fleetwave(["history", "--fleet", fleet])
    let rows = history.stdout.split(separator: "\n").map {
      $0.split(separator: " ").map(String.init)
    }
    #expect(rows.count == 2)
    #expect(
      rows.last.map { [$0[0], $0[1], $0[3], $0[6]] } == ["sched-1", "succeeded", "2.0.0", "exec"])
  }

  @Test func untilBlockedContinuesTheUnfinishedRunAndWaitsForApproval() throws {
    let dir = try TemporaryDirectory("run-approval")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir, approval: true)
    let env = ["FLEETWAVE_NOW": "2027-01-20T01:30:00Z", "USER": "cron"]
    // Every window but Tokyo's is closed at this hour, so start at the canary's and go on.
    var result = try fleetwave(
      ["rollout", fleet, "--until-blocked", "--now", "2027-01-18T09:30:00Z", "--run", "ap-1"])
    #expect(result.status == 0)
    result = try fleetwave(["rollout", fleet, "--until-blocked", "--now", "2027-01-19T15:30:00Z"])
    #expect(result.status == 0)
    result = try fleetwave(["rollout", fleet, "--until-blocked"], environment: env)
    #expect(
      lastLine(result.stdout)
        == "waiting for: approval of wave 'asia' (fleetwave approve ap-1 --wave asia)")
    let approve = try fleetwave(
      ["approve", "ap-1", "--wave", "asi", "--fleet", fleet], environment: env)
    #expect(approve.status == 1)
    #expect(approve.stderr == "error: run ap-1 has no wave 'asi'; did you mean 'asia'?\n")
    let approved = try fleetwave(
      ["approve", "ap-1", "--wave", "asia", "--by", "alice", "--fleet", fleet], environment: env)
    #expect(approved.status == 0)
    #expect(
      approved.stdout.hasPrefix("approved wave 'asia' of run ap-1 (by alice at 2027-01-20T01:30:"))
    result = try fleetwave(["rollout", fleet, "--until-blocked"], environment: env)
    #expect(lastLine(result.stdout) == "rollout ap-1: succeeded (3 succeeded)")
    let status = try fleetwave(["status", "--fleet", fleet])
    #expect(
      status.stdout.contains(
        "  wave 2 asia: promoted; 1 succeeded; failures 0 of 0 allowed; approved by alice\n"))
  }

  /// A resumed run keeps the driver it started with (not the fleet's default), and refuses
  /// --set arguments other than its own, which it knows only by digest.
  @Test func resumeUsesTheDriverAndTheSetsTheRunStartedWith() throws {
    let dir = try TemporaryDirectory("run-settings")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    var result = try fleetwave([
      "rollout", fleet, "--driver", "sim", "--set", "replicas=3", "--until-blocked", "--now",
      "2027-01-18T09:30:00Z", "--run", "drv-1",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let journal = try String(
      contentsOfFile: dir.file("fleet/.fleetwave/runs/drv-1/journal.log"), encoding: .utf8)
    #expect(!journal.contains("replicas=3"))

    let refused = try fleetwave([
      "resume", "drv-1", "--fleet", fleet, "--until-blocked", "--now", "2027-01-19T15:30:00Z",
    ])
    #expect(refused.status == 1)
    #expect(
      refused.stderr
        == "error: run drv-1 was started with other --set arguments; pass exactly the --set arguments it started with\n"
    )
    result = try fleetwave([
      "resume", "drv-1", "--fleet", fleet, "--set", "replicas=3", "--until-blocked", "--now",
      "2027-01-19T15:30:00Z",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      lastLine(result.stdout) == "waiting for: window 'tokyo-wed' opens at 2027-01-20T01:00:00.000Z"
    )
    // The fleet's own driver is exec, whose commands leave marks: none ran.
    #expect(!FileManager.default.fileExists(atPath: dir.file("marks/ber-1.runs")))
    #expect(!FileManager.default.fileExists(atPath: dir.file("marks/ny-1.runs")))
    let status = try fleetwave(["status", "drv-1", "--fleet", fleet])
    #expect(status.stdout.contains("  wave 1 americas: promoted; 1 succeeded"), "\(status.stdout)")
  }

  @Test func aFreezeBeyondTheHorizonFailsTheScheduledRunInsteadOfWaitingGreen() throws {
    let dir = try TemporaryDirectory("run-never")
    defer { dir.remove() }
    let marks = dir.file("marks")
    try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
    _ = try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: frozen}
      release:
        name: checkout
        namespace: shop
        driver: exec
        version: 2.0.0
        exec:
          upgrade: 'echo x >> \(marks)/$FLEETWAVE_CLUSTER.runs'
          revision: 'echo 1.0.0'
      clusters:
        - {name: ber-1, labels: {canary: "true"}}
      rollout:
        canary: {selector: canary=true, maxFailures: 0}
      freeze:
        - {from: 2027-01-01, to: 2037-01-01, reason: decommissioning}
      """)
    let result = try fleetwave([
      "rollout", dir.file("fleet"), "--until-blocked", "--now", "2027-01-18T08:00:00Z", "--run",
      "never-1",
    ])
    #expect(result.status == 4, "\(result.stdout)\(result.stderr)")
    #expect(
      lastLine(result.stdout)
        == "waiting for: freeze 'decommissioning' (until 2037-01-02T00:00:00.000Z); no open time "
        + "within the horizon")
    #expect(
      result.stderr.contains("error: nothing in this run can start within the planning horizon"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("marks/ber-1.runs")))
  }

  @Test func aPausedRunStaysPausedForCronUntilResumed() throws {
    let dir = try TemporaryDirectory("run-pause")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    var result = try fleetwave(
      ["rollout", fleet, "--until-blocked", "--now", "2027-01-18T09:30:00Z", "--run", "p-1"])
    #expect(result.status == 0)
    let pause = try fleetwave(["pause", "p-1", "--by", "oncall", "--fleet", fleet])
    #expect(pause.status == 0)
    result = try fleetwave(["rollout", fleet, "--until-blocked", "--now", "2027-01-19T15:30:00Z"])
    #expect(result.status == 0)
    #expect(
      lastLine(result.stdout)
        == "waiting for: the run to be resumed (paused by oncall; fleetwave resume p-1)")
    #expect(!FileManager.default.fileExists(atPath: dir.file("marks/ny-1.runs")))
    result = try fleetwave([
      "resume", "p-1", "--fleet", fleet, "--until-blocked", "--now", "2027-01-19T15:30:00Z",
    ])
    #expect(result.status == 0)
    #expect(
      lastLine(result.stdout) == "waiting for: window 'tokyo-wed' opens at 2027-01-20T01:00:00.000Z"
    )
    #expect(FileManager.default.fileExists(atPath: dir.file("marks/ny-1.runs")))
  }

  @Test func aSecondRolloutIsRefusedWhileTheLockIsHeldAndForceSaysWhatItOverrides() throws {
    let dir = try TemporaryDirectory("run-lock")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    let since = Date(timeIntervalSince1970: 1_800_000_000)
    let lock = try RunLock.acquire(
      stateDirectory: fleet + "/.fleetwave", fleet: "sched", run: "holder-1", at: since)
    defer { lock.release() }
    let holder =
      "run holder-1 (host \(ProcessInfo.processInfo.hostName), pid \(getpid()), "
      + "since 2027-01-15T08:00:00.000Z)"
    let refused = try fleetwave([
      "rollout", fleet, "--until-blocked", "--now", "2027-01-18T08:00:00Z",
    ])
    #expect(refused.status == 1)
    #expect(refused.stderr == "error: another rollout of fleet 'sched' is in progress: \(holder)\n")
    let forced = try fleetwave(
      ["rollout", fleet, "--until-blocked", "--now", "2027-01-18T08:00:00Z", "--force"])
    #expect(forced.status == 0)
    #expect(
      forced.stderr
        == "warning: --force: going on without the lock held by \(holder); both runs may now "
        + "change the same clusters\n")
  }

  @Test func resumingAChangedFleetNeedsReplanWhichShowsTheChange() throws {
    let dir = try TemporaryDirectory("run-replan")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    var result = try fleetwave(
      ["rollout", fleet, "--until-blocked", "--now", "2027-01-18T09:30:00Z", "--run", "c-1"])
    #expect(result.status == 0)
    let file = fleet + "/fleet.yaml"
    let text = try String(contentsOfFile: file, encoding: .utf8)
    try text.replacingOccurrences(
      of: "  - {name: tyo-1, labels: {w: c}, windows: [tokyo-wed]}",
      with: "  - {name: tyo-1, labels: {w: c}, windows: [tokyo-wed]}\n"
        + "  - {name: tyo-2, labels: {w: c}, windows: [tokyo-wed]}"
    ).write(toFile: file, atomically: true, encoding: .utf8)
    result = try fleetwave([
      "resume", "c-1", "--fleet", fleet, "--until-blocked", "--now", "2027-01-19T15:30:00Z",
    ])
    #expect(result.status == 1)
    #expect(
      result.stderr.hasPrefix("error: the fleet changed since run c-1 started (digest sha256:"))
    #expect(
      result.stderr.hasSuffix("); --replan goes on with the changed fleet:\n  wave asia: + tyo-2\n")
    )
    result = try fleetwave(
      [
        "resume", "c-1", "--fleet", fleet, "--replan", "--until-blocked", "--now",
        "2027-01-19T15:30:00Z",
      ])
    #expect(result.status == 0)
    #expect(
      result.stdout.contains(
        "replan: the fleet changed since run c-1 started\n  wave asia: + tyo-2\n"))
  }

  @Test func aRunKilledDuringItsRollbackFinishesTheRollbackOnResume() throws {
    let dir = try TemporaryDirectory("run-halt")
    defer { dir.remove() }
    let marks = dir.file("marks")
    try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
    let fleet = try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: halt}
      release:
        name: checkout
        driver: exec
        version: 2.0.0
        exec:
          upgrade: 'test $FLEETWAVE_CLUSTER != b-2 && echo 2.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
          # The first rollback hangs until the test has killed the run, then lets go.
          rollback: >-
            if [ ! -f \(marks)/hung ]; then touch \(marks)/hung;
            for i in $(seq 600); do [ -f \(marks)/go ] && break; sleep 0.1; done; fi;
            echo 1.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev
          revision: 'cat \(marks)/$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
      clusters:
        - {name: a, labels: {canary: "true"}}
        - {name: b-1, labels: {w: r}}
        - {name: b-2, labels: {w: r}}
      rollout:
        canary: {selector: canary=true, maxFailures: 0}
        waves:
          - {name: rest, selector: w=r}
        maxParallel: 1
        failurePolicy: {maxFailuresPerWave: 0, rollback: wave}
      """)
    // Started through a shell that exits at once, in a session of its own (`setsid --wait`
    // returns once the shell has): the run is not our child and outlives the shell's process
    // group, which is killed when the command ends.
    let started = try runProcess(
      "/usr/bin/setsid",
      [
        "--wait", "/bin/bash", "-c",
        "\"$0\" rollout \"$1\" --run h-1 </dev/null >/dev/null 2>&1 & echo $!",
        BuiltProducts.path("fleetwave"), fleet,
      ])
    let pid = try #require(Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    let journal = RunStore(stateDirectory: dir.file("fleet/.fleetwave")).journalPath("h-1")
    let rollingBack = eventually(timeout: 60) {
      guard let contents = try? JournalFile.read(path: journal) else { return false }
      return RunState(records: contents.records).clusters["b-1"]?.state == "rolling-back"
        && FileManager.default.fileExists(atPath: marks + "/hung")
    }
    kill(pid, SIGKILL)
    #expect(eventually(timeout: 30) { kill(pid, 0) != 0 })
    // The killed run's rollback command lives on as an orphan: let it end now.
    FileManager.default.createFile(atPath: marks + "/go", contents: nil)
    #expect(rollingBack)
    let resumed = try fleetwave(["resume", "h-1", "--fleet", dir.file("fleet")])
    #expect(resumed.status == 1)
    #expect(
      resumed.stdout.hasSuffix(
        // The halt's reason is journaled, so the resumed run still gives it.
        "rollout h-1: halted (1 succeeded, 2 rolled-back)\n"
          + "  wave 'rest' has 1 failed of 2 clusters; its budget allows 0\n"
          + "  rolled back: b-1, b-2\n"))
    for (name, revision) in [("a", "2.0.0"), ("b-1", "1.0.0"), ("b-2", "1.0.0")] {
      let text = try String(contentsOfFile: "\(marks)/\(name).rev", encoding: .utf8)
      #expect(text == revision + "\n", "\(name)")
    }
    let check = try fleetwave(["status", "h-1", "--fleet", dir.file("fleet"), "--check"])
    #expect(check.status == 0)
    #expect(check.stdout.hasPrefix("run h-1: halted\n"))
  }

  @Test func statusOfAnUnknownRunSuggestsAKnownOne() throws {
    let dir = try TemporaryDirectory("run-unknown")
    defer { dir.remove() }
    let fleet = try writeScheduledFleet(dir)
    _ = try fleetwave([
      "rollout", fleet, "--until-blocked", "--now", "2027-01-18T08:00:00Z", "--run", "known-1",
    ])
    let result = try fleetwave(["status", "known-2", "--fleet", fleet])
    #expect(result.status == 1)
    #expect(
      result.stderr
        == "error: no run 'known-2' in \(fleet)/.fleetwave/runs; did you mean 'known-1'?\n")
  }
}

private func journalCount(_ fleet: String, _ run: String) throws -> Int {
  try JournalFile.read(path: RunStore(stateDirectory: fleet + "/.fleetwave").journalPath(run))
    .records.count
}
