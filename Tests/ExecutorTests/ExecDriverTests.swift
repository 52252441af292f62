// The exec driver with real /bin/sh processes: environment, values file, exit codes, and
// killing the whole process group on timeout and cancellation.
import Drivers
import Executor
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

/// Runs one driver call and waits for its completion (bounded, for a loaded CI machine).
func complete<T: Sendable>(
  timeout: TimeInterval = 60, _ issue: (@escaping DriverCompletion<T>) -> Void
) -> Result<T, DriverError>? {
  let done = DispatchSemaphore(value: 0)
  let box = ResultBox<T>()
  issue { result in
    box.set(result)
    done.signal()
  }
  guard done.wait(timeout: .now() + timeout) == .success else { return nil }
  return box.get()
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var result: Result<T, DriverError>?
  func set(_ value: Result<T, DriverError>) {
    lock.lock()
    result = value
    lock.unlock()
  }
  func get() -> Result<T, DriverError>? {
    lock.lock()
    defer { lock.unlock() }
    return result
  }
}

@Suite struct ExecDriverTests {
  let release = Release(name: "checkout", namespace: "shop", driver: .exec, version: "1.4.2")
  let cluster = Cluster(
    name: "prod-eu-1", labels: ["region": "eu-west-1", "tier.name": "gold"], context: "ctx-eu",
    server: "https://10.0.0.1:6443")

  func call(
    _ clock: any RolloutClock = SystemClock(), timeout: Duration = .seconds(60),
    cancellation: Cancellation = Cancellation()
  ) -> DriverCall {
    DriverCall(
      cluster: cluster, run: "run-1", timeout: timeout, cancellation: cancellation, clock: clock,
      queue: DispatchQueue(label: "test"))
  }

  @Test func upgradeGetsTheClusterAndAPrivateValuesFileInItsEnvironment() throws {
    let dir = try TemporaryDirectory("exec-env")
    defer { dir.remove() }
    let script = """
      env | grep ^FLEETWAVE_ | grep -v VALUES_FILE | sort > \(dir.path)/env.txt
      echo "$FLEETWAVE_VALUES_FILE" > \(dir.path)/values-path.txt
      cp "$FLEETWAVE_VALUES_FILE" \(dir.path)/values.yaml
      stat -c %a "$FLEETWAVE_VALUES_FILE" "$(dirname "$FLEETWAVE_VALUES_FILE")" \
        > \(dir.path)/modes.txt
      echo upgraded {{ .name | shellquote }} to {{ .version | shellquote }}
      """
    let driver = ExecDriver(
      commands: ExecCommands(upgrade: script), release: release, logDirectory: dir.file("logs"),
      values: { cluster in ["replicas": 3, "region": .string(cluster.labels["region"] ?? "")] },
      baseEnvironment: ["PATH": "/usr/bin:/bin"])

    let result = complete { driver.upgrade(call(), from: "7", completion: $0) }
    #expect(result == .success("1.4.2"))
    #expect(
      try String(contentsOfFile: dir.file("env.txt"), encoding: .utf8) == """
        FLEETWAVE_CLUSTER=prod-eu-1
        FLEETWAVE_CONTEXT=ctx-eu
        FLEETWAVE_FROM_REVISION=7
        FLEETWAVE_LABEL_REGION=eu-west-1
        FLEETWAVE_LABEL_TIER_NAME=gold
        FLEETWAVE_NAMESPACE=shop
        FLEETWAVE_RELEASE=checkout
        FLEETWAVE_RUN=run-1
        FLEETWAVE_SERVER=https://10.0.0.1:6443
        FLEETWAVE_VERSION=1.4.2

        """)
    #expect(
      try String(contentsOfFile: dir.file("values.yaml"), encoding: .utf8)
        == "replicas: 3\nregion: eu-west-1\n")
    #expect(try String(contentsOfFile: dir.file("modes.txt"), encoding: .utf8) == "600\n700\n")
    let valuesPath = try String(contentsOfFile: dir.file("values-path.txt"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(!FileManager.default.fileExists(atPath: valuesPath))
    // It lives in the run's own scratch directory (mode 0700, removed when the run ends).
    #expect(
      (valuesPath as NSString).deletingLastPathComponent
        == (try? RunScratch.current.get().path))
    let log = try String(contentsOfFile: driver.logPath(for: "prod-eu-1"), encoding: .utf8)
    #expect(log.hasSuffix("upgraded prod-eu-1 to 1.4.2\n"))
    #expect(log.hasPrefix("=== upgrade prod-eu-1 (run run-1) at "))
  }

  @Test func aNonZeroExitFailsWithTheLastLineOfOutput() throws {
    let dir = try TemporaryDirectory("exec-exit")
    defer { dir.remove() }
    let driver = ExecDriver(
      commands: ExecCommands(upgrade: "echo starting; echo 'chart not found' >&2; exit 3"),
      release: release, logDirectory: dir.path)
    let result = complete { driver.upgrade(call(), from: nil, completion: $0) }
    #expect(
      result
        == .failure(DriverError(.failed, "upgrade command exited with status 3: chart not found")))
  }

  @Test func anOverrunningCommandIsKilledWithItsWholeProcessGroup() throws {
    let dir = try TemporaryDirectory("exec-timeout")
    defer { dir.remove() }
    let clock = ManualClock()
    let script =
      "sleep 300 & echo $! > \(dir.path)/child.pid; echo $$ > \(dir.path)/shell.pid; wait"
    let driver = ExecDriver(
      commands: ExecCommands(upgrade: script), release: release, logDirectory: dir.path)
    let box = ResultBox<String>()
    let done = DispatchSemaphore(value: 0)
    driver.upgrade(call(clock, timeout: .seconds(30)), from: nil) {
      box.set($0)
      done.signal()
    }
    #expect(eventually { readPid(dir.file("shell.pid")) != nil && clock.nextDeadline != nil })
    let child = try #require(readPid(dir.file("child.pid")))
    let shell = try #require(readPid(dir.file("shell.pid")))
    #expect(isAlive(child))
    clock.advance(by: .seconds(29))
    #expect(isAlive(child))
    clock.advance(by: .seconds(1))
    #expect(done.wait(timeout: .now() + 60) == .success)
    #expect(box.get() == .failure(DriverError(.timedOut, "upgrade command timed out after 30s")))
    #expect(eventually { !isAlive(child) && !isAlive(shell) })
    let log = try String(contentsOfFile: driver.logPath(for: "prod-eu-1"), encoding: .utf8)
    #expect(log.hasSuffix("=== upgrade timed out after 30s; process group killed\n"))
  }

  @Test func cancellationKillsTheGroupAndBackgroundChildrenNeverOutliveTheCommand() throws {
    let dir = try TemporaryDirectory("exec-cancel")
    defer { dir.remove() }
    let script = "sleep 300 & echo $! > \(dir.path)/child-$FLEETWAVE_CLUSTER.pid; sleep 300"
    let driver = ExecDriver(
      commands: ExecCommands(
        upgrade: script, rollback: "sleep 300 & echo $! > \(dir.path)/left.pid"),
      release: release, logDirectory: dir.path)
    let cancellation = Cancellation()
    let box = ResultBox<String>()
    let done = DispatchSemaphore(value: 0)
    driver.upgrade(call(cancellation: cancellation), from: nil) {
      box.set($0)
      done.signal()
    }
    #expect(eventually { readPid(dir.file("child-prod-eu-1.pid")) != nil })
    let child = try #require(readPid(dir.file("child-prod-eu-1.pid")))
    cancellation.cancel()
    #expect(done.wait(timeout: .now() + 60) == .success)
    #expect(box.get() == .failure(DriverError(.cancelled, "upgrade command cancelled")))
    #expect(eventually { !isAlive(child) })

    // A command that succeeds but leaves a background job: the job goes with it.
    let rolledBack = complete { driver.rollback(call(), to: "3", completion: $0) }
    #expect(rolledBack == .success("3"))
    let left = try #require(readPid(dir.file("left.pid")))
    #expect(eventually { !isAlive(left) })
  }

  @Test func revisionsComeFromTheRevisionCommand() throws {
    let dir = try TemporaryDirectory("exec-revision")
    defer { dir.remove() }
    let driver = ExecDriver(
      commands: ExecCommands(
        upgrade: "true", rollback: "test \"$FLEETWAVE_FROM_REVISION\" = 5",
        revision: "echo rev-\"$FLEETWAVE_CLUSTER\""),
      release: release, logDirectory: dir.path)
    #expect(
      complete { driver.upgrade(call(), from: "5", completion: $0) } == .success("rev-prod-eu-1"))
    #expect(
      complete { driver.currentRevision(call(), completion: $0) } == .success("rev-prod-eu-1"))
    #expect(
      complete { driver.rollback(call(), to: "5", completion: $0) } == .success("rev-prod-eu-1"))
    #expect(
      complete { driver.rollback(call(), to: "4", completion: $0) }
        == .failure(DriverError(.failed, "rollback command exited with status 1")))

    let noRollback = ExecDriver(
      commands: ExecCommands(upgrade: "true"), release: release, logDirectory: dir.path)
    #expect(
      complete { noRollback.rollback(call(), to: "5", completion: $0) }
        == .failure(DriverError(.setup, "release.exec.rollback is not set")))
    #expect(complete { noRollback.currentRevision(call(), completion: $0) } == .success(nil))
  }

  @Test func aBadTemplateFailsTheCallWithoutRunningAnything() throws {
    let dir = try TemporaryDirectory("exec-template")
    defer { dir.remove() }
    let driver = ExecDriver(
      commands: ExecCommands(upgrade: "echo {{ .labels.zone | shellquote }}"), release: release,
      logDirectory: dir.path)
    #expect(
      complete { driver.upgrade(call(), from: nil, completion: $0) }
        == .failure(DriverError(.setup, "upgrade command: cluster 'prod-eu-1' has no label 'zone'"))
    )
  }

  @Test func theExecutorRollsBackAFailedExecClusterWithItsCommand() throws {
    let dir = try TemporaryDirectory("exec-run")
    defer { dir.remove() }
    let driver = ExecDriver(
      commands: ExecCommands(
        upgrade:
          "echo upgrading; [ \"$FLEETWAVE_CLUSTER\" != b ] "
          + "|| { echo 'pods crashlooping'; exit 1; }",
        rollback: "echo \"rolled back $FLEETWAVE_CLUSTER\" >> \(dir.path)/rollbacks.txt"),
      release: release, logDirectory: dir.file("logs"))
    let fleet = ["a", "b", "c"].map { Cluster(name: $0) }
    let executor = try Executor(
      plan: plan([WaveShape(name: "all", clusters: ["a", "b", "c"], maxParallel: 1)]),
      clusters: fleet, driver: driver,
      options: ExecutorOptions(run: "run-1", failurePolicy: FailurePolicy(rollback: .failed)))
    let summary = executor.run()
    #expect(summary.outcome == .halted)
    #expect(summary.record("b")?.error == "upgrade command exited with status 1: pods crashlooping")
    #expect(summary.names(in: .rolledBack) == ["b"])
    #expect(summary.names(in: .pending) == ["c"])
    #expect(
      try String(contentsOfFile: dir.file("rollbacks.txt"), encoding: .utf8) == "rolled back b\n")
  }
}
