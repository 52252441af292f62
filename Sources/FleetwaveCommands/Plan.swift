// `fleetwave plan FLEET`: the waves, limits and timeline a rollout would follow; changes nothing.
import ArgumentParser
import FleetCore
import Foundation
import Inventory
import Planner
import Report

extension FleetwaveCommand {
  struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show which cluster goes in which wave, under which limits, and when.",
      discussion: """
        The dry run to review before a rollout: canary first, then the policy's waves, each with \
        its clusters in start order, limits, bake, failure budget and approval gate, and the \
        earliest start of every wave and cluster given maintenance windows and freezes. \
        See docs/planning.md; the JSON schema is in docs/plan-json.md.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
      case table, json, markdown, mermaid, html
    }

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(
      name: [.short, .long], help: "Output format: table, json, markdown, mermaid or html.")
    var output: Format = .table

    @Option(
      help: ArgumentHelp(
        "Plan as if the rollout started at TIME (default now).",
        discussion: "ISO 8601: 2026-03-27T08:00:00Z, 2026-03-27T10:00:00+02:00, or 2026-03-27.",
        valueName: "time"))
    var at: String?

    @Option(help: ArgumentHelp("How far ahead to look for open windows.", valueName: "duration"))
    var horizon: String = "28d"

    @Option(
      help: ArgumentHelp(
        "Say why CLUSTER is in its wave and when it can start (text, whatever -o says).",
        valueName: "cluster"))
    var explain: String?

    @OptionGroup var valueFlags: HelmValueOptions

    @OptionGroup var scope: RolloutScopeOptions

    func validate() throws {
      if let at, Self.parseTime(at) == nil {
        throw ValidationError(
          "invalid --at '\(at)': expected an ISO 8601 time such as 2026-03-27T08:00:00Z")
      }
      guard let horizon = DurationText.parse(horizon), horizon > .zero else {
        throw ValidationError(
          "invalid --horizon '\(self.horizon)': expected a duration such as 28d")
      }
    }

    @OptionGroup var versions: ReleaseVersionOptions

    func run() throws {
      let start = at.flatMap(Self.parseTime) ?? Date()
      let planner = Planner(horizon: DurationText.parse(horizon) ?? Planner.defaultHorizon)
      var loaded: Fleet
      do {
        loaded = try FleetLoader.load(directory: fleet).fleet
      } catch {
        for diagnostic in error.diagnostics { printError(diagnostic.description) }
        throw ExitCode(1)
      }
      try versions.apply(to: &loaded.release, fleetDirectory: loaded.directory)
      // The value flags change no wave, but a mistake in them is reported here as rollout
      // would report it; --cluster and -l mark what a rollout would leave alone.
      _ = try valueFlags.overrides()
      let subset = try scope.subset(of: loaded)
      let plan = planner.plan(loaded, start: start)
      if let name = explain {
        guard let lines = planner.explain(name, in: plan, fleet: loaded) else {
          var message = "error: no cluster named '\(name)' in fleet '\(loaded.name)'"
          if let close = Suggestion.closest(to: name, among: loaded.clusters.map(\.name)) {
            message += "; did you mean '\(close)'?"
          }
          printError(message)
          throw ExitCode(1)
        }
        print(lines.joined(separator: "\n"))
        return
      }
      let checks = PlanChecks(loaded.rollout, windows: loaded.windows)
      let text: String
      switch output {
      case .table:
        text =
          PlanTable.render(plan, checks: checks)
          + Self.scopeLines(plan, subset: subset, timeout: scope.clusterTimeout, fleet: loaded)
      case .json: text = PlanJSON.render(plan, checks: checks)
      case .markdown: text = PlanMarkdown.render(plan, checks: checks)
      case .mermaid: text = PlanMermaid.render(plan)
      case .html: text = PlanHTML.render(plan, windows: loaded.windows, checks: checks)
      }
      FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// What --cluster, -l and --timeout change, under the table.
    static func scopeLines(
      _ plan: FleetCore.Plan, subset: Set<String>?, timeout: Duration?, fleet: Fleet
    ) -> String {
      var text = ""
      if let subset {
        let excluded = plan.waves.flatMap(\.clusters).filter { !subset.contains($0) }
        text += "excluded (--cluster/--selector): \(excluded.count) of \(plan.clusterCount)"
        text += excluded.isEmpty ? "\n" : ": " + excluded.joined(separator: ", ") + "\n"
      }
      if let timeout {
        text += "clusterTimeout: \(DurationText.format(timeout)) (--timeout; the fleet says "
        text += "\(DurationText.format(fleet.rollout.clusterTimeout)))\n"
      }
      return text
    }

    /// ISO 8601 with a zone ("Z" or "+02:00"), with or without fractional seconds, or a bare
    /// date meaning midnight UTC.
    static func parseTime(_ text: String) -> Date? {
      let withZone = ISO8601DateFormatter()
      withZone.formatOptions = [.withInternetDateTime]
      if let date = withZone.date(from: text) { return date }
      withZone.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
      if let date = withZone.date(from: text) { return date }
      let dateOnly = ISO8601DateFormatter()
      dateOnly.formatOptions = [.withFullDate]
      dateOnly.timeZone = TimeZone(identifier: "UTC")
      return dateOnly.date(from: text)
    }
  }
}
