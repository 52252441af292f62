// `fleetwave status` on the built binary, for a run stopped at a bake: the wave says it is
// baking and how long is left, its clusters are baking, not mid-change.
import FleetwaveTestSupport
import Foundation
import Testing

/// Each cluster's and wave's last state in the run's journal, read from its lines
/// (`CRC32 JSON`) as an operator would with `cut -c10- journal.log | jq`.
private func journaled(_ dir: TemporaryDirectory) throws -> (
  clusters: [String: String], waves: [String: String]
) {
  let text = try String(
    contentsOfFile: dir.file("fleet/.fleetwave/runs/r1/journal.log"), encoding: .utf8)
  var clusters: [String: String] = [:]
  var waves: [String: String] = [:]
  for line in text.split(separator: "\n") {
    let record = try JSONSerialization.jsonObject(with: Data(line.dropFirst(9).utf8))
    guard let record = record as? [String: Any], let state = record["state"] as? String else {
      continue
    }
    if let cluster = record["cluster"] as? String { clusters[cluster] = state }
    if let wave = record["waveName"] as? String { waves[wave] = state }
  }
  return (clusters, waves)
}

/// What `status -o json` says of each cluster and wave: it must be what the journal says.
private func statusStates(_ json: Any) -> (clusters: [String: String], waves: [String: String]) {
  func states(_ key: String) -> [String: String] {
    let items = (json as? [String: Any])?[key] as? [[String: Any]] ?? []
    return Dictionary(
      uniqueKeysWithValues: items.compactMap { item in
        guard let name = item["name"] as? String, let state = item["state"] as? String else {
          return nil
        }
        return (name, state)
      })
  }
  return (states("clusters"), states("waves"))
}

@Suite struct StatusCommandTests {
  @Test func aRunStoppedAtABakeIsBakingWithItsTimeLeftNotMidChange() throws {
    let dir = try TemporaryDirectory("status-bake")
    defer { dir.remove() }
    try writeShopFleet(dir)
    let rollout = try fleetwave(
      ["rollout", "fleet", "--run", "r1", "--until-blocked", "--now", "2027-01-15T08:00:00Z"],
      environment: ["USER": "ops"], currentDirectory: dir.path)
    #expect(rollout.status == 0, "\(rollout.stdout)\(rollout.stderr)")

    func status(at now: String, _ arguments: [String] = []) throws -> [String] {
      let result = try fleetwave(
        ["status", "r1", "--fleet", "fleet"] + arguments, environment: ["FLEETWAVE_NOW": now],
        currentDirectory: dir.path)
      #expect(result.status == 0, "\(result.stderr)")
      return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(
        String.init)
    }
    let baking = try status(at: "2027-01-15T08:07:00Z")
    #expect(baking.first == "run r1: waiting")
    // The second line names the host the test runs on.
    #expect(
      Array(baking.dropFirst(2)) == [
        "  waiting for: the bake of wave 'canary' to end at 2027-01-15T08:15:00.000Z",
        "  wave 0 canary: baking; 1 baking; failures 0 of 0 allowed; "
          + "bake ends at 2027-01-15T08:15:00.000Z (8m left)",
        "    can-1: baking (revision 2)",
        "  wave 1 europe: pending; 2 pending; failures 0 of 0 allowed",
        "  wave 2 rest: pending; 1 pending; failures 0 of 0 allowed; needs approval",
        "",
      ])
    let over = try status(at: "2027-01-15T08:16:00Z")
    #expect(
      over[3]
        == "  wave 0 canary: baking; 1 baking; failures 0 of 0 allowed; "
        + "bake ended at 2027-01-15T08:15:00.000Z, promotes when the run goes on")
    let json = try JSONSerialization.jsonObject(
      with: Data(try status(at: "2027-01-15T08:07:00Z", ["-o", "json"]).joined().utf8))
    let waves = (json as? [String: Any])?["waves"] as? [[String: Any]]
    #expect(waves?.map { $0["bakeEndsAt"] as? String } == ["2027-01-15T08:15:00.000Z", nil, nil])
    #expect((json as? [String: Any])?["inFlight"] as? [String] == [])
    let known = try journaled(dir)
    #expect(known.clusters == ["can-1": "baking"])
    #expect(
      statusStates(json).clusters == [
        "can-1": "baking", "eu-1": "pending", "eu-2": "pending", "us-1": "pending",
      ])
    #expect(
      statusStates(json).waves == ["canary": "baking", "europe": "pending", "rest": "pending"])
    #expect(known.waves == ["canary": "baking"])

    // Resumed after the canary's bake, the run stops at europe's: the canary is promoted,
    // europe's clusters are baking and nothing is mid-change.
    let resumed = try fleetwave(
      [
        "resume", "r1", "--fleet", "fleet", "--until-blocked", "--now", "2027-01-15T08:20:00Z",
      ], environment: ["USER": "ops"], currentDirectory: dir.path)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    let second = try status(at: "2027-01-15T08:30:00Z")
    #expect(
      Array(second.dropFirst(2)) == [
        "  waiting for: the bake of wave 'europe' to end at 2027-01-15T08:55:00.000Z",
        "  wave 0 canary: promoted; 1 succeeded; failures 0 of 0 allowed",
        "  wave 1 europe: baking; 2 baking; failures 0 of 0 allowed; "
          + "bake ends at 2027-01-15T08:55:00.000Z (25m left)",
        "    eu-1: baking (revision 2)",
        "    eu-2: baking (revision 2)",
        "  wave 2 rest: pending; 1 pending; failures 0 of 0 allowed; needs approval",
        "",
      ])
    let after = try JSONSerialization.jsonObject(
      with: Data(try status(at: "2027-01-15T08:30:00Z", ["-o", "json"]).joined().utf8))
    let journal = try journaled(dir)
    #expect(statusStates(after).clusters.filter { $0.value != "pending" } == journal.clusters)
    #expect(statusStates(after).waves.filter { $0.value != "pending" } == journal.waves)
    #expect(journal.clusters == ["can-1": "succeeded", "eu-1": "baking", "eu-2": "baking"])
  }
}
