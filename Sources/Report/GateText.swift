// How the live view, CI logs and annotations show a gate: its name and its decisive value.
// One place, so the gate names and the value formatter of the reports can replace it whole.
import FleetCore
import Foundation

enum GateText {
  /// The gate as people call it. Gates are named by their whole query today, so callers that
  /// lack room elide the middle of this, never the value.
  static func name(_ result: GateResult) -> String { result.gate }

  /// Why the gate passed or failed, numbers rounded (`... last: 0.279 > 0.05`).
  static func verdict(_ result: GateResult) -> String {
    ReportNumber.roundedInText(result.summary)
  }

  /// The last measurement's value against its limit (`0.003 not > 0.05`), if it took any.
  /// Its first line only: a `helmTest` detail goes on with the test Pods' logs, which a
  /// one-line view has no room for.
  static func lastValue(_ result: GateResult) -> String? {
    result.measurements.last.map {
      ReportNumber.roundedInText(String($0.detail.prefix { $0 != "\n" }))
    }
  }
}
