// UTC timestamps as reports, logs and progress lines print them.
import Foundation

public enum Timestamp {
  /// `2026-11-24T23:29:05.120Z`: ISO 8601, UTC, always with milliseconds, so columns line up.
  public static func iso(_ date: Date) -> String {
    let millisTotal = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    var seconds = time_t(millisTotal / 1000)
    let millis = Int(millisTotal % 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ n: Int32, _ width: Int) -> String {
      let text = String(n)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-"
      + pad(parts.tm_mday, 2) + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":"
      + pad(parts.tm_sec, 2) + "." + pad(Int32(millis), 3) + "Z"
  }

  /// Reads what `iso` writes, and RFC 3339 timestamps without fractional seconds.
  public static func parse(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
  }
}
