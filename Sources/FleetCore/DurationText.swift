// Durations as users write them: "500ms", "30s", "10m", "1h30m", "2d".
import Foundation

public enum DurationText {
  private static let units: [(suffix: String, milliseconds: Int64)] = [
    ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
  ]

  /// Parses a sequence of number+unit parts; a bare "0" is zero. Nil when malformed.
  public static func parse(_ text: String) -> Duration? {
    let s = text.trimmingCharacters(in: .whitespaces)
    if s == "0" { return .zero }
    var total: Int64 = 0
    var rest = Substring(s)
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
      let digits = rest.prefix { $0.isNumber || $0 == "." }
      guard !digits.isEmpty, let number = Double(digits) else { return nil }
      rest = rest.dropFirst(digits.count)
      let unitText = rest.prefix { $0.isLetter }
      guard let unit = units.first(where: { $0.suffix == unitText }) else { return nil }
      rest = rest.dropFirst(unitText.count)
      let part = number * Double(unit.milliseconds)
      guard part.isFinite, part < 1e15 else { return nil }
      total += Int64(part.rounded())
    }
    return .milliseconds(total)
  }

  /// The shortest form that parses back to the same duration ("1h30m", "45s", "250ms").
  public static func format(_ duration: Duration) -> String {
    var ms = milliseconds(duration)
    if ms == 0 { return "0s" }
    var out = ms < 0 ? "-" : ""
    ms = abs(ms)
    for (suffix, size) in units.reversed() where ms >= size {
      let n = ms / size
      ms -= n * size
      out += String(n) + suffix
    }
    return out
  }

  public static func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }

  public static func seconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
