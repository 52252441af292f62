// The command gate with real /bin/sh children: exit status, environment, output, timeout.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Health
import Testing

@Suite struct CommandGateTests {
  let cluster = Cluster(
    name: "prod-eu-1", labels: ["region": "eu-west-1", "failure-domain": "a"], context: "ctx-eu")

  func verify(_ command: String, clusters: [Cluster]? = nil, timeout: Duration = .seconds(60))
    -> GateResult
  {
    HealthGates.make(
      spec: .command(CommandCheckSpec(command: command, timeout: timeout)), transport: transport
    ).verifyBlocking(
      clusters: clusters ?? [cluster], clock: SystemClock(), cancellation: Cancellation())
  }

  @Test func exitZeroPassesWithTheClusterInTheEnvironment() {
    let result = verify(
      #"echo "$FLEETWAVE_CLUSTER $FLEETWAVE_CONTEXT $FLEETWAVE_LABEL_REGION "#
        + #"$FLEETWAVE_LABEL_FAILURE_DOMAIN""#
    )
    #expect(result.passed)
    #expect(result.summary == "exit 0: prod-eu-1 ctx-eu eu-west-1 a")
    #expect(result.measurements.map(\.value) == [0])
    // Unnamed, a command gate is called by its program.
    #expect(result.gate == "echo")
  }

  @Test func aShellThatWaitsForItsChildrenFinishes() {
    // Run from a Dispatch worker, whose signal mask blocks SIGCHLD; the check must not inherit it.
    let result = inBackground { self.verify("sleep 0.1 & wait; echo waited") }()
    #expect(result.summary == "exit 0: waited")
  }

  @Test func nonZeroExitFailsWithTheLastLineOfOutput() {
    let result = verify("echo checking \"$FLEETWAVE_CLUSTER\"; echo 'pods not ready' >&2; exit 3")
    #expect(!result.passed)
    #expect(result.summary == "exit 3: pods not ready")
    #expect(result.measurements.map(\.outcome) == [.failed])
    #expect(result.measurements.map(\.value) == [3])
  }

  @Test func aWaveRunsOnceWithAllItsClusters() {
    let result = verify(
      #"echo "[$FLEETWAVE_CLUSTERS] [${FLEETWAVE_CLUSTER:-none}]""#,
      clusters: [Cluster(name: "a"), Cluster(name: "b")])
    #expect(result.passed)
    #expect(result.summary == "exit 0: [a b] [none]")
    #expect(result.measurements.count == 1)
  }

  @Test func fleetVariablesFillTemplatesAndTheEnvironmentWithoutSplittingTheWave() {
    let gate = HealthGates.make(
      spec: .command(
        CommandCheckSpec(
          command:
            #"echo {{ .release | shellquote }}@{{ .version | shellquote }} "$FLEETWAVE_NAMESPACE $FLEETWAVE_CLUSTERS""#
        )),
      transport: transport,
      variables: ["release": "checkout", "version": "1.4.2", "namespace": "shop"])
    let result = gate.verifyBlocking(
      clusters: [Cluster(name: "a"), Cluster(name: "b")], clock: SystemClock(),
      cancellation: Cancellation())
    #expect(result.summary == "exit 0: checkout@1.4.2 shop a b")
    #expect(result.measurements.count == 1)
  }

  @Test func aPerClusterTemplateRunsForEachCluster() {
    let result = verify(
      "test {{ .name | shellquote }} != b", clusters: [Cluster(name: "a"), Cluster(name: "b")])
    #expect(!result.passed)
    #expect(result.summary == "b: exit 1")
    #expect(result.measurements.map(\.outcome) == [.passed, .failed])
  }

  @Test func timeoutKillsTheWholeProcessGroup() throws {
    let dir = try TemporaryDirectory("fleetwave-command")
    defer { dir.remove() }
    let pidFile = dir.file("child.pid")
    let gate = HealthGates.make(
      spec: .command(
        CommandCheckSpec(command: "sleep 300 & echo $! > \(pidFile); wait", timeout: .seconds(90))),
      transport: transport)
    let clock = ManualClock(start: start)
    let work = Background {
      gate.verifyBlocking(clusters: [cluster], clock: clock, cancellation: Cancellation())
    }
    #expect(
      eventually(timeout: 30) {
        // The command is running and its timeout is armed on the clock.
        FileManager.default.fileExists(atPath: pidFile) && clock.nextDeadline != nil
      })
    let childText = try String(contentsOfFile: pidFile, encoding: .utf8)
    let child = try #require(pid_t(childText.trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(kill(child, 0) == 0)
    clock.advance(by: .seconds(90))
    let result = work.result()
    #expect(!result.passed)
    #expect(result.summary == "timed out after 1m30s; process group killed")
    #expect(result.measurements.map(\.outcome) == [.error])
    // The grandchild is gone (or a zombie awaiting its new parent), not sleeping on.
    #expect(eventually(timeout: 30) { kill(child, 0) != 0 || Self.isZombie(child) })
  }

  @Test func cancellationKillsTheCommand() {
    let cancellation = Cancellation()
    let gate = HealthGates.make(
      spec: .command(CommandCheckSpec(command: "sleep 300", timeout: .seconds(600))),
      transport: transport)
    let clock = ManualClock(start: start)
    let work = Background {
      gate.verifyBlocking(clusters: [cluster], clock: clock, cancellation: cancellation)
    }
    #expect(eventually(timeout: 30) { clock.nextDeadline != nil })
    cancellation.cancel()
    #expect(work.result().summary == "cancelled")
  }

  static func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
  }
}
