// `fleetwave preflight` as Markdown (`-o markdown`, for `$GITHUB_STEP_SUMMARY`) and as JUnit
// XML (`--junit FILE`, one test case per cluster), laid out as the rollout's reports are.
import FleetCore
import Foundation

/// What the preflight found, as the reports show it: the command fills it from its results.
public struct PreflightReport: Sendable {
  public struct ClusterResult: Sendable {
    public var name: String
    /// Nil when the connection check failed.
    public var identity: String?
    /// Each check's column name and what the table shows (`ok`, `-`, `1 error`).
    public var checks: [(check: String, summary: String)]
    /// Every problem line, `warning: ` kept on warnings.
    public var problems: [String]
    public var passed: Bool

    public init(
      name: String, identity: String?, checks: [(check: String, summary: String)],
      problems: [String], passed: Bool
    ) {
      self.name = name
      self.identity = identity
      self.checks = checks
      self.problems = problems
      self.passed = passed
    }
  }

  public var fleet: String
  public var release: String
  public var namespace: String
  public var strict: Bool
  public var checkedAt: Date
  public var clusters: [ClusterResult]

  public init(
    fleet: String, release: String, namespace: String, strict: Bool, checkedAt: Date,
    clusters: [ClusterResult]
  ) {
    self.fleet = fleet
    self.release = release
    self.namespace = namespace
    self.strict = strict
    self.checkedAt = checkedAt
    self.clusters = clusters
  }

  var failed: Int { clusters.filter { !$0.passed }.count }
}

public enum PreflightMarkdown {
  public static func string(_ report: PreflightReport) -> String {
    let cell = RunMarkdown.cell
    var md = "## Fleetwave preflight `\(report.fleet)`: "
    md += report.failed == 0 ? "passed\n\n" : "failed\n\n"
    md += "Release **\(cell(report.release))** in namespace `\(report.namespace)`, "
    md += "\(report.clusters.count) cluster" + (report.clusters.count == 1 ? "" : "s")
    md += ", \(report.failed) failed" + (report.strict ? " (strict: warnings fail)" : "")
    md += ", checked \(Timestamp.iso(report.checkedAt)).\n\n"
    let columns = report.clusters.first?.checks.map(\.check) ?? []
    md += "| cluster | identity | " + columns.joined(separator: " | ") + " |\n"
    md += "|---|---|" + columns.map { _ in "---|" }.joined() + "\n"
    for cluster in report.clusters {
      md += "| `\(cluster.name)` | \(cell(cluster.identity ?? "-")) | "
      md += cluster.checks.map { cell($0.summary) }.joined(separator: " | ") + " |\n"
    }
    let problems = report.clusters.flatMap { cluster in
      cluster.problems.map { "- `\(cluster.name)`: \(cell($0))\n" }
    }
    if !problems.isEmpty {
      md += "\n### Problems\n\n"
      md += problems.prefix(RunMarkdown.listLimit).joined()
      if problems.count > RunMarkdown.listLimit {
        md += "\n…and \(problems.count - RunMarkdown.listLimit) more.\n"
      }
    }
    return md
  }
}

public enum PreflightJUnit {
  /// One suite, one test case per cluster: a failure listing each of its problems, or, when
  /// it passed with warnings, the warnings as the case's output.
  public static func string(
    _ report: PreflightReport, hostname: String = ProcessInfo.processInfo.hostName
  ) -> String {
    let e = MarkupText.escaped
    let tests = report.clusters.count
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    xml += "<testsuites name=\"\(e("fleetwave preflight \(report.fleet)"))\" tests=\"\(tests)\""
    xml += " failures=\"\(report.failed)\" errors=\"0\" skipped=\"0\" time=\"0.000\">\n"
    xml += "  <testsuite name=\"preflight\" tests=\"\(tests)\" failures=\"\(report.failed)\""
    xml += " errors=\"0\" skipped=\"0\" time=\"0.000\""
    xml += " timestamp=\"\(RunJUnit.antTimestamp(report.checkedAt))\" hostname=\"\(e(hostname))\""
    xml += " id=\"0\" package=\"\(e(report.fleet))\">\n"
    xml += "    <properties>\n"
    xml += RunJUnit.property("release", report.release)
    xml += RunJUnit.property("namespace", report.namespace)
    xml += RunJUnit.property("strict", String(report.strict))
    xml += "    </properties>\n"
    for cluster in report.clusters {
      xml += "    <testcase classname=\"\(e("\(report.fleet).preflight"))\""
      xml += " name=\"\(e(cluster.name))\" time=\"0.000\""
      if cluster.problems.isEmpty {
        xml += "/>\n"
        continue
      }
      let body = cluster.problems.map { $0 + "\n" }.joined()
      if cluster.passed {
        xml += ">\n      <system-out>\(e(body))</system-out>\n    </testcase>\n"
      } else {
        let count = cluster.problems.count
        let message = count == 1 ? cluster.problems[0] : "\(count) problems: " + cluster.problems[0]
        xml +=
          ">\n      <failure message=\"\(e(message))\" type=\"preflight\">\(e(body))</failure>\n"
        xml += "    </testcase>\n"
      }
    }
    xml += "    <system-out/>\n    <system-err/>\n  </testsuite>\n</testsuites>\n"
    return xml
  }
}
