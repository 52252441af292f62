// `fleetwave values FLEET --cluster NAME`: one cluster's merged values, optionally with origins.
import ArgumentParser
import FleetCore
import FleetYAML
import Foundation
import Inventory

extension FleetwaveCommand {
  struct Values: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the values one cluster's release receives.",
      discussion: """
        The fleet's values layers are templated from the cluster and merged as `helm -f` merges \
        them, then the value flags apply as helm applies them: -f files in order, then \
        --set-json, --set, --set-string and --set-file; with a local chart, its defaults are \
        coalesced in as helm does (a null removes a default). --show-origin says which file \
        and line (or flag and argument) set each leaf: a trailing comment in YAML, a parallel \
        "origins" tree in JSON.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
      case yaml, json
    }

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "The cluster whose values to print.")
    var cluster: String

    @Option(name: [.short, .long], help: "Output format: yaml or json.")
    var output: Format = .yaml

    @Flag(help: "Annotate every leaf with the file:line (or --set argument) that set it.")
    var showOrigin = false

    @OptionGroup var valueFlags: HelmValueOptions

    @Flag(help: "Leave out the local chart's defaults: only what is passed to helm.")
    var overlaysOnly = false

    @OptionGroup var versions: ReleaseVersionOptions

    func run() throws {
      let overrides = try valueFlags.overrides(showingArguments: true)
      var loaded: LoadedFleet
      do {
        loaded = try FleetLoader.load(directory: fleet)
      } catch {
        for diagnostic in error.diagnostics { printError(diagnostic.description) }
        throw ExitCode(1)
      }
      try versions.apply(to: &loaded.fleet.release, fleetDirectory: loaded.fleet.directory)
      let fleet = loaded.fleet
      guard let target = fleet.cluster(named: cluster) else {
        var message = "error: no cluster named '\(cluster)' in fleet '\(fleet.name)'"
        if let suggestion = Suggestion.closest(to: cluster, among: fleet.clusters.map(\.name)) {
          message += "; did you mean '\(suggestion)'?"
        }
        printError(message)
        throw ExitCode(2)
      }
      let values: Value
      do {
        values =
          overlaysOnly
          ? try loaded.values.values(for: target, overrides: overrides)
          : try loaded.values.chartValues(for: target, overrides: overrides)
      } catch {
        for diagnostic in error.diagnostics { printError(diagnostic.description) }
        // A bad --set is a usage error; anything else is the fleet's.
        let fromArguments = error.diagnostics.contains {
          $0.mark.map { SetArgument.Kind(rawValue: $0.file.path) != nil } ?? false
        }
        throw ExitCode(fromArguments ? 2 : 1)
      }
      let directory = fleet.directory
      switch (output, showOrigin) {
      case (.yaml, false):
        // Streamed to stdout as emitted: the YAML of a large values file is never held whole.
        // Nothing else has been written to stdout, so print's buffer holds nothing to order.
        YAML.emit(values) { try? FileHandle.standardOutput.write(contentsOf: Data($0)) }
      case (.yaml, true):
        print(ValueOrigins.annotatedYAML(values, relativeTo: directory), terminator: "")
      case (.json, false): print(JSONWriter.string(values, options: .init(pretty: true)))
      case (.json, true):
        let both: Value = [
          "values": values, "origins": ValueOrigins.tree(values, relativeTo: directory),
        ]
        print(JSONWriter.string(both, options: .init(pretty: true)))
      }
    }
  }
}
