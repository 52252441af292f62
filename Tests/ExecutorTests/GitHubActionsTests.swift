// GitHub Actions workflow commands: properties and messages escaped, long lists counted.
// The `rollout` command inside Actions is tested in CommandTests/GitHubActionsCommandTests.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Report
import Testing

@Suite struct GitHubActionsTests {
  @Test func propertiesAndMessagesAreEscapedAsTheRunnerDecodesThem() {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let summary = RunSummary(
      run: "r1", fleet: "f", release: "checkout", driver: "exec", outcome: .interrupted,
      startedAt: start, finishedAt: start,
      waves: [WaveRunRecord(index: 0, name: "eu,west: 1", clusters: ["a:b,c"])],
      clusters: [
        ClusterRunRecord(
          name: "a:b,c", wave: 0, phase: .failed, error: "100% down\r\nsee: log, line 2")
      ])
    #expect(
      GitHubActions.annotations(summary, file: "fleets/x,y:z/fleet.yaml") == [
        "::error file=fleets/x%2Cy%3Az/fleet.yaml,title=cluster a%3Ab%2Cc failed::wave eu,west: "
          + "1: 100%25 down%0D%0Asee: log, line 2",
        "::warning file=fleets/x%2Cy%3Az/fleet.yaml,title=rollout r1 stopped::continue it with: "
          + "fleetwave resume r1",
      ])
    #expect(GitHubActions(environment: ["GITHUB_ACTIONS": "false"]) == nil)
    #expect(
      GitHubActions(environment: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": "/s.md"])?
        .stepSummary == "/s.md")
  }

  @Test func pastNineOfAKindOneLineCountsTheRest() {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let names = (1...12).map { "c-\($0)" }
    let summary = RunSummary(
      run: "r1", fleet: "f", release: "checkout", driver: "exec", outcome: .failed,
      startedAt: start, finishedAt: start,
      waves: [WaveRunRecord(index: 0, name: "all", clusters: names)],
      clusters: names.map { ClusterRunRecord(name: $0, wave: 0, phase: .failed, error: "boom") })
    let lines = GitHubActions.annotations(summary, file: nil)
    #expect(lines.count == 10)
    #expect(lines[0] == "::error title=cluster c-1 failed::wave all: boom")
    #expect(lines[9] == "::error title=3 more::3 more errors; the step summary lists them")
  }
}
