// The plan outputs show what stops a rollout: failure policy, named gates with their limits,
// and the maintenance windows by definition.
import FleetCore
import Foundation
import Planner
import Testing

@testable import Report

@Suite struct PlanChecksTests {
  let fleet: Fleet = {
    var fleet = demoFleet()
    fleet.rollout.failurePolicy.rollback = .wave
    fleet.rollout.health = [
      .prometheus(
        PrometheusAnalysisSpec(
          url: "http://prometheus:9090",
          query: #"sum(rate(http_errors_total{cluster="{{ .name }}"}[5m]))"#,
          verdict: .failIf(MetricCondition(.greater, 0.05)), count: 3, failureLimit: 1,
          name: "error-rate")),
      .http(
        HTTPProbeSpec(
          url: "https://{{ .name }}.shop.example/healthz", maxLatency: .milliseconds(500))),
    ]
    fleet.rollout.waveHealth = [.command(CommandCheckSpec(command: "kubectl get pods -A"))]
    return fleet
  }()

  var plan: Plan { Planner().plan(fleet, start: utc("2026-03-27T08:00:00Z")) }
  var checks: PlanChecks { PlanChecks(fleet.rollout, windows: fleet.windows) }

  static let lines = """
    on failure: roll back wave, in-flight upgrades finish
    gate per cluster: error-rate (prometheus): fails if > 0.05, 3 measurements 30s apart, 1 failure allowed
    gate per cluster: *.shop.example/healthz (http): status 200-299, within 500ms, 1 in a row within 2m
    gate per wave: kubectl (command): exits 0 within 1m
    window ap-night: Mon Tue Wed Thu Fri 22:00-04:00 Asia/Tokyo
    """

  @Test func tableListsPolicyGatesAndWindowsUnderTheSummary() {
    let plain = PlanTable.render(plan)
    // The lines go after the freezes, before the blank line above the wave header.
    let split = try? #require(plain.range(of: "\nWAVE "))
    guard let split else { return }
    let expected = plain[..<split.lowerBound] + Self.lines + "\n" + plain[split.lowerBound...]
    #expect(PlanTable.render(plan, checks: checks) == expected)
  }

  @Test func markdownListsThemBeforeTheWaveTable() {
    let plain = PlanMarkdown.render(plan)
    let split = try? #require(plain.range(of: "| # | Wave"))
    guard let split else { return }
    let bullets = Self.lines.split(separator: "\n").map { "- " + $0 }.joined(separator: "\n")
    let expected =
      plain[..<split.lowerBound] + bullets.replacingOccurrences(of: ">", with: "&gt;") + "\n\n"
      + plain[split.lowerBound...]
    #expect(PlanMarkdown.render(plan, checks: checks) == expected)
  }

  @Test func htmlListsThemUnderTheSummary() {
    let html = PlanHTML.render(plan, checks: checks)
    let items = Self.lines.split(separator: "\n").map {
      "<li>" + MarkupText.escaped(String($0)) + "</li>\n"
    }
    #expect(html.contains("<ul class=\"checks\">\n" + items.joined() + "</ul>\n<h2>Timeline</h2>"))
    #expect(!PlanHTML.render(plan).contains("class=\"checks\""))
  }

  @Test func jsonAddsKeysAfterTheExistingOnes() throws {
    let plain = try JSONReader.parse(PlanJSON.render(plan))
    let root = try JSONReader.parse(PlanJSON.render(plan, checks: checks))
    let keys = try #require(root.mapping?.keys)
    #expect(
      Array(keys) == (plain.mapping?.keys ?? []) + [
        "failurePolicy", "health", "waveHealth", "windows",
      ])
    #expect(root["failurePolicy"] == ["rollback": "wave", "inFlight": "finish"])
    #expect(
      root["health"] == [
        [
          "name": "error-rate", "kind": "prometheus",
          "limit": "fails if > 0.05, 3 measurements 30s apart, 1 failure allowed",
        ],
        [
          "name": "*.shop.example/healthz", "kind": "http",
          "limit": "status 200-299, within 500ms, 1 in a row within 2m",
        ],
      ])
    #expect(
      root["waveHealth"] == [["name": "kubectl", "kind": "command", "limit": "exits 0 within 1m"]])
    #expect(
      root["windows"] == [
        [
          "name": "ap-night", "days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "22:00",
          "to": "04:00", "timeZone": "Asia/Tokyo",
        ]
      ])
  }
}
