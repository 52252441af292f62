// `rollout --follow` as a user runs it: waiting for an approval that another process records,
// and giving up that wait at once on SIGINT or SIGTERM.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

/// A sim fleet whose second wave needs approval.
private func writeApprovalFleet(_ dir: TemporaryDirectory) throws -> String {
  _ = try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: follow}
    release: {name: checkout, namespace: shop, driver: sim, version: 2.0.0}
    clusters:
      - {name: a-1, labels: {w: a}}
      - {name: p-1, labels: {w: p}}
    rollout:
      waves:
        - {name: first, selector: w=a}
        - {name: prod, selector: w=p, approval: true}
      expectedDuration: 30s
    """)
  return dir.file("fleet")
}

@Suite struct FollowCommandTests {
  func waveRecords(_ journal: String) -> [String] {
    let records = (try? JournalFile.read(path: journal).records) ?? []
    return records.compactMap { record in
      guard case .wave(_, let state, let name, _) = record.entry else { return nil }
      return "\(name ?? "?") \(state)"
    }
  }

  func startFollowing(_ dir: TemporaryDirectory) throws -> (BackgroundProcess, journal: String) {
    let fleet = try writeApprovalFleet(dir)
    let run = try BackgroundProcess(
      BuiltProducts.path("fleetwave"),
      ["rollout", fleet, "--follow", "--poll-interval", "0.1", "--run", "f-1"],
      output: dir.file("out.txt"))
    let journal = RunStore(stateDirectory: fleet + "/.fleetwave").journalPath("f-1")
    let waiting = eventually(timeout: 60) {
      waveRecords(journal).contains("prod waiting-for-approval")
    }
    #expect(waiting)
    return (run, journal)
  }

  @Test func followingWithTheSimDriverFinishesOnceApprovedAndRecordsTheWaitOnce() throws {
    let dir = try TemporaryDirectory("follow-sim")
    defer { dir.remove() }
    let (run, journal) = try startFollowing(dir)
    // Several polls go by before the approval comes.
    Thread.sleep(forTimeInterval: 1)
    let approve = try fleetwave(
      ["approve", "f-1", "--wave", "prod", "--by", "alice", "--fleet", dir.file("fleet")])
    #expect(approve.status == 0, "\(approve.stderr)")
    #expect(run.exit(within: 30) == 0)
    #expect(
      waveRecords(journal) == [
        "first running", "first baking", "first promoted", "prod waiting-for-approval",
        "prod running", "prod baking", "prod promoted",
      ])
    let output = try String(contentsOfFile: dir.file("out.txt"), encoding: .utf8)
    #expect(output.hasSuffix("rollout f-1: succeeded (2 succeeded)\n"))
  }

  @Test(arguments: [SIGINT, SIGTERM])
  func aSignalEndsTheApprovalWaitWithinTwoSeconds(signal: Int32) throws {
    let dir = try TemporaryDirectory("follow-signal")
    defer { dir.remove() }
    let (run, journal) = try startFollowing(dir)
    Thread.sleep(forTimeInterval: 0.3)
    let sent = Date()
    run.signal(signal)
    #expect(run.exit(within: 10) == 3)
    #expect(Date().timeIntervalSince(sent) < 2)
    #expect(waveRecords(journal).filter { $0.hasPrefix("prod") } == ["prod waiting-for-approval"])
  }
}

/// The phase a --follow run is left waiting in, and the journal record that shows it is there.
struct WaitingPhase: Sendable, CustomStringConvertible {
  var name: String
  /// Fleet keys under `rollout:`, indented for it.
  var rollout: String
  var arguments: [String]
  var shows: String

  var description: String { name }

  static let all = [
    WaitingPhase(name: "bake", rollout: "  bake: 1h\n", arguments: [], shows: "first baking"),
    WaitingPhase(
      name: "wave gate", rollout: "  waveHealth:\n    - command: {run: 'sleep 30', timeout: 60s}\n",
      arguments: [], shows: "first baking"),
    // 2027-01-18 is a Monday; the window opens on Tuesday.
    WaitingPhase(
      name: "window", rollout: "", arguments: ["--now", "2027-01-18T08:00:00Z"],
      shows: "first waiting-for-window"),
  ]
}

@Suite struct SignalInEveryPhaseTests {
  @Test(arguments: WaitingPhase.all, [SIGINT, SIGTERM])
  func aSignalStopsAFollowingRunWithinTwoSeconds(phase: WaitingPhase, signal: Int32) throws {
    let dir = try TemporaryDirectory("signal-phase")
    defer { dir.remove() }
    let window = phase.name == "window" ? ", windows: [tue]" : ""
    _ = try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: phases}
      release:
        name: checkout
        namespace: shop
        driver: exec
        version: 2.0.0
        exec: {upgrade: 'true', rollback: 'true'}
      clusters:
        - {name: a-1, labels: {w: a}\(window)}
      windows:
        tue: {days: Tue, from: "10:00", to: "11:00", timezone: UTC}
      rollout:
        waves:
          - {name: first, selector: w=a}
      \(phase.rollout)
      """)
    let fleet = dir.file("fleet")
    let run = try BackgroundProcess(
      BuiltProducts.path("fleetwave"),
      ["rollout", fleet, "--follow", "--run", "s-1"] + phase.arguments,
      output: dir.file("out.txt"))
    let journal = RunStore(stateDirectory: fleet + "/.fleetwave").journalPath("s-1")
    let reached = eventually(timeout: 60) {
      let records = (try? JournalFile.read(path: journal).records) ?? []
      return records.contains { record in
        guard case .wave(_, let state, let name, _) = record.entry else { return false }
        return "\(name ?? "?") \(state)" == phase.shows
      }
    }
    #expect(reached)
    // Let a wave gate's command start.
    Thread.sleep(forTimeInterval: 0.5)
    let sent = Date()
    run.signal(signal)
    let status = run.exit(within: 30)
    let output = (try? String(contentsOfFile: dir.file("out.txt"), encoding: .utf8)) ?? ""
    #expect(status == 3, "\(output)")
    #expect(Date().timeIntervalSince(sent) < 2, "\(output)")
  }
}
