// `--app-version` and `--chart-version` (`--version`, helm's name for the chart version): the
// release's versions for one command, over the fleet's `release.appVersion` and
// `release.chartVersion`.
import ArgumentParser
import FleetCore
import Foundation

struct ReleaseVersionOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The application version rolled out (overrides release.appVersion).", valueName: "version"))
  var appVersion: String?

  // `--version` as in `helm upgrade --version`: the chart's version, never this tool's.
  @Option(
    name: [.customLong("chart-version"), .customLong("version")],
    help: ArgumentHelp(
      "The chart version or constraint to fetch (overrides release.chartVersion; --version is"
        + " helm's name for it).", valueName: "version"))
  var chartVersion: String?

  /// The release with these versions; a chart version for a local chart is a usage error.
  func apply(to release: inout Release, fleetDirectory: String) throws {
    if let appVersion { release.version = appVersion }
    guard let chartVersion else { return }
    let local =
      release.chart.flatMap { chart in
        release.repo == nil && !chart.hasPrefix("oci://")
          ? FileManager.default.fileExists(
            atPath: chart.hasPrefix("/") ? chart : fleetDirectory + "/" + chart) : false
      } ?? true
    if local {
      throw ValidationError(
        "--chart-version applies to a repository or OCI chart; this release's chart is local"
          + " (its version is its Chart.yaml)")
    }
    release.chartVersion = chartVersion
  }
}
