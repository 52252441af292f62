// `fleetwave validate FLEET`: every problem of a fleet at once, located, or a short summary.
import ArgumentParser
import FleetCore
import Foundation
import Inventory

extension FleetwaveCommand {
  struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check a fleet and report every problem at once.",
      discussion: """
        Prints each problem as path:line:col with the source line and a caret, and exits 1 if \
        any is an error. Warnings (such as an overlay file no cluster uses) do not fail.
        """)

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    func run() throws {
      let loaded: LoadedFleet
      do {
        loaded = try FleetLoader.load(directory: fleet)
      } catch {
        for diagnostic in error.diagnostics { printError(diagnostic.description) }
        let errors = error.diagnostics.filter { $0.severity == .error }.count
        let warnings = error.diagnostics.filter { $0.severity == .warning }.count
        printError("\(fleet): " + Self.count(errors, "error") + Self.warningSuffix(warnings))
        throw ExitCode(1)
      }
      for warning in loaded.warnings { printError(warning.description) }
      let clusters = loaded.fleet.clusters.count
      print(
        "\(fleet): valid, " + Self.count(clusters, "cluster")
          + Self.warningSuffix(loaded.warnings.count))
    }

    static func count(_ n: Int, _ noun: String) -> String {
      "\(n) \(noun)\(n == 1 ? "" : "s")"
    }

    static func warningSuffix(_ n: Int) -> String {
      n == 0 ? "" : ", " + count(n, "warning")
    }
  }
}

/// Writes a line to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}
