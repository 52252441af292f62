// The run as a JUnit XML test report: a test suite per wave, a test case per cluster, so a CI
// system shows the fleet the way it shows tests.
import FleetCore
import Foundation

public enum RunJUnit {
  public static func string(_ summary: RunSummary) -> String {
    let verdicts = summary.clusters.map { verdict($0, summary) }
    let failures = verdicts.filter { $0 == .failure }.count
    let skipped = verdicts.filter { $0 == .skipped }.count
    var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    xml += "<testsuites name=\"\(MarkupText.escaped("fleetwave rollout \(summary.fleet)"))\""
    xml += " tests=\"\(summary.clusters.count)\" failures=\"\(failures)\" errors=\"0\""
    xml += " skipped=\"\(skipped)\" time=\"\(seconds(summary.startedAt, summary.finishedAt))\">\n"
    for wave in summary.waves {
      let members = summary.clusters.filter { $0.wave == wave.index }
      let memberStates = members.map { ReportedState($0, outcome: summary.outcome) }
      let memberVerdicts = members.map { verdict($0, summary) }
      let suiteFailures = memberVerdicts.filter { $0 == .failure }.count
      let suiteSkipped = memberVerdicts.filter { $0 == .skipped }.count
      let start = wave.startedAt ?? summary.startedAt
      xml += "  <testsuite name=\"\(MarkupText.escaped("wave \(wave.index) \(wave.name)"))\""
      xml += " tests=\"\(members.count)\" failures=\"\(suiteFailures)\" errors=\"0\""
      xml += " skipped=\"\(suiteSkipped)\" time=\"\(seconds(start, wave.finishedAt ?? start))\""
      xml += " timestamp=\"\(Timestamp.iso(start))\">\n"
      for (record, state) in zip(members, memberStates) {
        xml += testCase(record, state: state, wave: wave, summary: summary)
      }
      xml += "  </testsuite>\n"
    }
    xml += "</testsuites>\n"
    return xml
  }

  enum Verdict { case passed, failure, skipped }

  /// A cluster that failed is a failure even once rolled back; one rolled back only because
  /// its wave halted is skipped (the release did not stay there), not failed.
  static func verdict(_ record: ClusterRunRecord, _ summary: RunSummary) -> Verdict {
    switch ReportedState(record, outcome: summary.outcome) {
    case .succeeded: return .passed
    case .failed: return .failure
    case .rolledBack: return record.error == nil ? .skipped : .failure
    case .skipped, .notStarted: return .skipped
    }
  }

  static func testCase(
    _ record: ClusterRunRecord, state: ReportedState, wave: WaveRunRecord, summary: RunSummary
  ) -> String {
    let time = record.startedAt.map { seconds($0, record.finishedAt ?? $0) } ?? "0.000"
    var xml = "    <testcase classname=\"\(MarkupText.escaped("\(summary.fleet).\(wave.name)"))\""
    xml += " name=\"\(MarkupText.escaped(record.name))\" time=\"\(time)\""
    var body: [String] = []
    switch state {
    case .succeeded:
      break
    case .failed:
      let message = record.error ?? record.rollbackError ?? "failed"
      var detail = "phase: \(record.phase.rawValue)\n"
      if let from = record.fromRevision { detail += "from revision: \(from)\n" }
      if let rollback = record.rollbackError { detail += "rollback failed: \(rollback)\n" }
      for measurement in record.measurements where measurement.outcome != .passed {
        detail += "\(measurement.gate): \(measurement.detail)\n"
      }
      let type = record.rollbackError != nil ? "rollback-failed" : "upgrade-failed"
      body.append(
        "      <failure message=\"\(MarkupText.escaped(message))\" type=\"\(type)\">\(MarkupText.escaped(detail))</failure>"
      )
    case .rolledBack:
      let why =
        record.error.map { "failed: \($0); rolled back" } ?? "rolled back after the rollout halted"
      let to = record.rollbackRevision.map { " (revision \($0))" } ?? ""
      if record.error != nil {
        body.append(
          "      <failure message=\"\(MarkupText.escaped(record.error ?? ""))\" type=\"upgrade-failed\">"
            + "\(MarkupText.escaped("rolled back\(to)\n"))</failure>")
      } else {
        body.append("      <skipped message=\"\(MarkupText.escaped(why + to))\"/>")
      }
    case .skipped:
      let halt = summary.waves.compactMap(\.haltReason).first ?? summary.reason ?? "rollout halted"
      body.append("      <skipped message=\"\(MarkupText.escaped("not run: " + halt))\"/>")
    case .notStarted:
      body.append(
        "      <skipped message=\""
          + MarkupText.escaped("not started: " + (summary.reason ?? "interrupted")) + "\"/>"
      )
    }
    if body.isEmpty { return xml + "/>\n" }
    return xml + ">\n" + body.joined(separator: "\n") + "\n    </testcase>\n"
  }

  static func seconds(_ from: Date, _ to: Date) -> String {
    let millis = Int64((max(0, to.timeIntervalSince(from)) * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
  }
}
