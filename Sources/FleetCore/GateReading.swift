// How a gate's measured value and its limit read everywhere (reports, plan, live view, logs):
// `error-rate 0.279 > 0.05`. One place, so every output rounds and words it the same way.
import Foundation

public enum GateReading {
  /// A measured number as people read it: three significant digits, never a 16-digit float.
  /// `0.0034567` → `0.00346`, `0.27900000000000003` → `0.279`, `123.456` → `123`,
  /// `12345.6` → `12346`; whole numbers stay whole (`42`, not `42.0`). Three significant digits
  /// tell a value from its limit (limits are written with few digits) without noise.
  public static func number(_ value: Double) -> String {
    guard value.isFinite else { return Value.format(value) }
    if value.rounded() == value { return Value.format(value) }
    let magnitude = abs(value)
    if magnitude >= 100 { return Value.format(value.rounded()) }
    let decimals = max(0, 2 - Int(floor(log10(magnitude))))
    var text = String(format: "%.\(decimals)f", value)
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
  }

  /// The value, how it actually compares with the limit, and the limit: `0.279 > 0.05`,
  /// `0.003 < 0.05`, `12 ms < 500 ms`. The sign states the observation, not the rule, so the
  /// same text reads right for a passing and a failing gate. When rounding would make two
  /// different numbers look equal (`0.05 > 0.05`), the value gets the digits it needs.
  public static func comparison(value: Double, limit: Double, unit: String = "") -> String {
    let sign = value > limit ? ">" : value < limit ? "<" : "="
    let suffix = unit.isEmpty ? "" : " " + unit
    var shown = number(value)
    if value != limit, shown == number(limit), value.isFinite {
      shown = Value.format(value)
    }
    return "\(shown)\(suffix) \(sign) \(number(limit))\(suffix)"
  }

  /// `error-rate 0.279 > 0.05`: the gate's name, then `comparison`. Without a limit (a gate
  /// that only measures), the name and the value; without a value, the name alone.
  public static func text(gate: String, value: Double?, limit: Double?, unit: String = "")
    -> String
  {
    guard let value else { return gate }
    guard let limit else {
      return "\(gate) \(number(value))" + (unit.isEmpty ? "" : " " + unit)
    }
    return "\(gate) " + comparison(value: value, limit: limit, unit: unit)
  }
}
