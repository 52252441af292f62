// `fleetwave validate FLEET`: every problem of a fleet at once, located, or a short summary.
import ArgumentParser
import Drivers
import FleetCore
import Foundation
import Inventory
import Kube

extension FleetwaveCommand {
  struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check a fleet and report every problem at once.",
      discussion: """
        Prints each problem as path:line:col with the source line and a caret, and exits 1 if \
        any is an error. Warnings (such as an overlay file no cluster uses) do not fail.

        With --render, also renders the release's chart (with helm template, once per \
        distinct set of values) or manifests for every cluster, and lists each failure with \
        the clusters it fails for. Nothing is sent to any cluster.
        """)

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Flag(help: "Also render the release for every cluster, as a rollout would.")
    var render = false

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
      let warnings = loaded.warnings + Self.missingDependencies(loaded.fleet)
      for warning in warnings { printError(warning.description) }
      let clusters = loaded.fleet.clusters.count
      var rendered = ""
      if render {
        rendered = try renderEveryCluster(loaded)
      }
      print(
        "\(fleet): valid, " + Self.count(clusters, "cluster") + rendered
          + Self.warningSuffix(warnings.count))
    }

    /// A local chart's dependencies that its `charts/` lacks: a rollout builds them first
    /// (`helm dependency build`), but `helm template` by hand would fail.
    static func missingDependencies(_ fleet: Fleet) -> [Diagnostic] {
      guard case .directory(let chart) = ChartSource(fleet.release, fleetDirectory: fleet.directory)
      else { return [] }
      let missing = ChartDependencies.missing(in: chart)
      guard !missing.isEmpty else { return [] }
      let names = missing.map { "'\($0)'" }.joined(separator: ", ")
      return [
        .warning(
          "the chart's charts/ lacks its dependency \(names); a rollout runs helm dependency"
            + " build (from Chart.lock) first",
          at: fleet.release.fieldMarks["chart"])
      ]
    }

    /// Renders the release for every cluster; prints each failure with its clusters and exits
    /// 1 when any fails. Returns the summary's addition when all render.
    private func renderEveryCluster(_ loaded: LoadedFleet) throws -> String {
      let release = loaded.fleet.release
      guard release.chart != nil || release.manifests != nil else {
        return ", nothing to render (the release names no chart or manifests)"
      }
      // A repository or OCI chart is pulled first, as a rollout pulls it.
      var fetched: FetchedChart?
      if let source = ChartSource(release, fleetDirectory: loaded.fleet.directory),
        source.isRemote, let helm = locateHelm()
      {
        do throws(DriverError) {
          fetched = try ChartFetcher(helm: helm, cacheDirectory: nil).fetch(
            release, fleetDirectory: loaded.fleet.directory)
        } catch {
          printError("error: \(error.message)")
          throw ExitCode(1)
        }
      }
      let renderer = ReleaseRenderer(
        release: release, fleetDirectory: loaded.fleet.directory, fetched: fetched)
      let resolver = loaded.values
      let clusters = loaded.fleet.clusters
      let problems = Blocking.wait { () async -> [RenderProblem] in
        await renderer.check(clusters) { cluster throws(DriverError) in
          do throws(DiagnosticError) {
            return try resolver.values(for: cluster)
          } catch {
            throw DriverError(.setup, error.diagnostics.map(\.description).joined(separator: "\n"))
          }
        }
      }
      guard problems.isEmpty else {
        for problem in problems {
          printError("\(Self.names(problem.clusters)): \(problem.message)")
        }
        let failed = problems.reduce(0) { $0 + $1.clusters.count }
        printError(
          "\(fleet): the release does not render for \(failed) of "
            + Self.count(clusters.count, "cluster"))
        throw ExitCode(1)
      }
      return ", rendered for each"
    }

    /// Cluster names for a message: the first five, then how many more.
    static func names(_ clusters: [String]) -> String {
      let shown = clusters.prefix(5).joined(separator: ", ")
      return clusters.count > 5 ? shown + " (+\(clusters.count - 5) more)" : shown
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
