// The run as a JUnit XML test report: a test suite per wave, a test case per cluster, so a CI
// system shows the fleet the way it shows tests. The layout is Ant's (as Jenkins reads it):
// every suite carries `id`, `package`, `hostname` and a zone-less timestamp, and its
// `properties`, `system-out` and `system-err`, so strict schemas accept it
// (Tests/Schemas/junit.xsd).
import FleetCore
import Foundation

public enum RunJUnit {
  /// `hostname` is the machine that ran the rollout (this one, unless a test fixes it).
  public static func string(
    _ summary: RunSummary, hostname: String = ProcessInfo.processInfo.hostName
  ) -> String {
    let e = MarkupText.escaped
    let verdicts = summary.clusters.map { verdict($0, summary) }
    let failures = verdicts.filter { $0 == .failure }.count
    let skipped = verdicts.filter { $0 == .skipped }.count
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    xml += "<testsuites name=\"\(e("fleetwave rollout \(summary.fleet)"))\""
    xml += " tests=\"\(summary.clusters.count)\" failures=\"\(failures)\" errors=\"0\""
    xml += " skipped=\"\(skipped)\" time=\"\(seconds(summary.startedAt, summary.finishedAt))\">\n"
    for wave in summary.waves {
      let members = summary.clusters.filter { $0.wave == wave.index }
      let memberStates = members.map { ReportedState($0, outcome: summary.outcome) }
      let memberVerdicts = members.map { verdict($0, summary) }
      let suiteFailures = memberVerdicts.filter { $0 == .failure }.count
      let suiteSkipped = memberVerdicts.filter { $0 == .skipped }.count
      let start = wave.startedAt ?? summary.startedAt
      xml += "  <testsuite name=\"\(e("wave \(wave.index) \(wave.name)"))\""
      xml += " tests=\"\(members.count)\" failures=\"\(suiteFailures)\" errors=\"0\""
      xml += " skipped=\"\(suiteSkipped)\" time=\"\(seconds(start, wave.finishedAt ?? start))\""
      xml += " timestamp=\"\(antTimestamp(start))\" hostname=\"\(e(hostname))\""
      xml += " id=\"\(wave.index)\" package=\"\(e(summary.fleet))\">\n"
      xml += "    <properties>\n"
      xml += property("run", summary.run) + property("release", summary.release)
      if let version = summary.version {
        xml += property("version", version) + property("appVersion", version)
      }
      if let chart = summary.chartVersion { xml += property("chartVersion", chart) }
      xml += property("driver", summary.driver) + property("outcome", summary.outcome.rawValue)
      xml += "    </properties>\n"
      for (record, state) in zip(members, memberStates) {
        xml += testCase(record, state: state, wave: wave, summary: summary)
      }
      xml += "    <system-out/>\n    <system-err/>\n"
      xml += "  </testsuite>\n"
    }
    xml += "</testsuites>\n"
    return xml
  }

  /// The run's own problem as a report: a fleet that does not validate is one failed test
  /// case per diagnostic, so a CI job that stops there still shows why.
  public static func invalidFleet(
    fleet: String, diagnostics: [String], at: Date,
    hostname: String = ProcessInfo.processInfo.hostName
  ) -> String {
    let e = MarkupText.escaped
    let count = max(1, diagnostics.count)
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    xml += "<testsuites name=\"\(e("fleetwave validate \(fleet)"))\" tests=\"\(count)\""
    xml += " failures=\"\(count)\" errors=\"0\" skipped=\"0\" time=\"0.000\">\n"
    xml += "  <testsuite name=\"validate\" tests=\"\(count)\" failures=\"\(count)\" errors=\"0\""
    xml += " skipped=\"0\" time=\"0.000\" timestamp=\"\(antTimestamp(at))\""
    xml += " hostname=\"\(e(hostname))\" id=\"0\" package=\"\(e(fleet))\">\n"
    xml += "    <properties/>\n"
    let lines = diagnostics.isEmpty ? ["the fleet is invalid"] : diagnostics
    for (index, line) in lines.enumerated() {
      xml += "    <testcase classname=\"\(e("\(fleet).validate"))\" name=\"error \(index + 1)\""
      xml += " time=\"0.000\">\n"
      // The message is the located line; the body keeps the source excerpt under it.
      let located = String(line.prefix { $0 != "\n" })
      xml += "      <failure message=\"\(e(located))\" type=\"invalid-fleet\">\(e(line + "\n"))"
      xml += "</failure>\n    </testcase>\n"
    }
    xml += "    <system-out/>\n    <system-err/>\n  </testsuite>\n</testsuites>\n"
    return xml
  }

  enum Verdict { case passed, failure, skipped }

  /// A cluster that failed is a failure even once rolled back; one rolled back only because
  /// its wave halted is skipped (the release did not stay there), not failed.
  static func verdict(_ record: ClusterRunRecord, _ summary: RunSummary) -> Verdict {
    switch ReportedState(record, outcome: summary.outcome) {
    case .succeeded: return .passed
    case .failed: return .failure
    case .rolledBack, .uninstalled: return record.error == nil ? .skipped : .failure
    case .skipped, .notStarted, .excluded: return .skipped
    }
  }

  /// Why a cluster failed, as the failure's `type`: a failed rollback matters most, then a
  /// health gate that judged the new release, then the upgrade itself.
  static func failureType(_ record: ClusterRunRecord) -> String {
    if record.rollbackError != nil { return "rollback-failed" }
    let gateFailed =
      record.gates.contains { !$0.passed }
      || record.measurements.contains { $0.outcome != .passed }
    return gateFailed ? "health-gate-failed" : "upgrade-failed"
  }

  /// The failure's body: phase, revisions, and every measurement with its value rounded.
  static func failureBody(_ record: ClusterRunRecord) -> String {
    var detail = "phase: \(record.phase.rawValue)\n"
    // A diagnosed failure's event lines (docs/driver-kube.md) read better here than in the
    // message attribute, where they are escaped onto one line.
    if let error = record.error, error.contains("\n") { detail += "error: \(error)\n" }
    if let from = record.fromRevision { detail += "from revision: \(from)\n" }
    if record.deferrals > 0 { detail += "deferred: \(RunJUnit.deferrals(record))\n" }
    if let rollback = record.rollbackRevision { detail += "rolled back to revision: \(rollback)\n" }
    if let rollback = record.rollbackError { detail += "rollback failed: \(rollback)\n" }
    for gate in record.gates where !gate.passed {
      detail += "gate \(gate.gate): \(ReportNumber.roundedInText(gate.summary))\n"
    }
    for measurement in record.measurements {
      detail += "measurement " + RunHTML.measurementLine(measurement) + "\n"
    }
    return detail
  }

  static func testCase(
    _ record: ClusterRunRecord, state: ReportedState, wave: WaveRunRecord, summary: RunSummary
  ) -> String {
    let e = MarkupText.escaped
    let time = record.startedAt.map { seconds($0, record.finishedAt ?? $0) } ?? "0.000"
    var xml = "    <testcase classname=\"\(e("\(summary.fleet).\(wave.name)"))\""
    xml += " name=\"\(e(record.name))\" time=\"\(time)\""
    var body: [String] = []
    switch state {
    case .succeeded:
      break
    case .failed:
      let message = record.error ?? record.rollbackError ?? "failed"
      body.append(
        "      <failure message=\"\(e(message))\" type=\"\(failureType(record))\">"
          + "\(e(failureBody(record)))</failure>")
    case .rolledBack, .uninstalled:
      let why =
        record.error.map { "failed: \($0); rolled back" } ?? "rolled back after the rollout halted"
      let to = record.rollbackRevision.map { " (revision \($0))" } ?? ""
      if let error = record.error {
        body.append(
          "      <failure message=\"\(e(error))\" type=\"\(failureType(record))\">"
            + "\(e(failureBody(record)))</failure>")
      } else {
        body.append("      <skipped message=\"\(e(why + to))\"/>")
      }
    case .skipped:
      let halt = summary.waves.compactMap(\.haltReason).first ?? summary.reason ?? "rollout halted"
      body.append("      <skipped message=\"\(e("not run: " + halt))\"/>")
    case .notStarted:
      body.append(
        "      <skipped message=\"" + e("not started: " + (summary.reason ?? "interrupted"))
          + "\"/>")
    case .excluded:
      body.append("      <skipped message=\"excluded: outside the clusters this run acts on\"/>")
    }
    // The schema allows a case only one verdict, so deferrals are said in its output.
    if record.deferrals > 0 {
      body.append("      <system-out>\(e("deferred " + deferrals(record)))</system-out>")
    }
    if body.isEmpty { return xml + "/>\n" }
    return xml + ">\n" + body.joined(separator: "\n") + "\n    </testcase>\n"
  }

  /// "2 times, unreachable: REASON": how often and why the cluster was deferred.
  static func deferrals(_ record: ClusterRunRecord) -> String {
    let times = record.deferrals == 1 ? "once" : "\(record.deferrals) times"
    return times + (record.deferralReason.map { ", unreachable: \($0)" } ?? "")
  }

  static func property(_ name: String, _ value: String) -> String {
    "      <property name=\"\(MarkupText.escaped(name))\" value=\"\(MarkupText.escaped(value))\"/>\n"
  }

  /// Ant's timestamp: ISO 8601 to the second with no zone (`2027-01-15T08:00:00`); always UTC.
  static func antTimestamp(_ date: Date) -> String {
    String(Timestamp.iso(date).prefix(19))
  }

  static func seconds(_ from: Date, _ to: Date) -> String {
    let millis = Int64((max(0, to.timeIntervalSince(from)) * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
  }
}
