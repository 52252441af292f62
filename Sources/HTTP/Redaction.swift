// Keeps tokens, passwords and keys out of every message and log line the transport produces.
import Foundation

public enum Redaction {
  public static let marker = "<redacted>"

  /// `https://user:secret@host/x` becomes `https://user:<redacted>@host/x`.
  public static func url(_ text: String) -> String {
    guard let scheme = text.range(of: "://") else { return text }
    let authorityEnd = text[scheme.upperBound...].firstIndex { "/?#".contains($0) } ?? text.endIndex
    let authority = text[scheme.upperBound..<authorityEnd]
    guard let at = authority.lastIndex(of: "@"),
      let colon = authority[..<at].firstIndex(of: ":")
    else { return text }
    return String(text[..<authority.index(after: colon)]) + marker + String(text[at...])
  }

  /// Hides the credential part of `Authorization`-like headers, keeping the scheme.
  public static func headerValue(name: String, _ value: String) -> String {
    let lower = name.lowercased()
    guard lower == "authorization" || lower == "proxy-authorization" else { return value }
    guard let space = value.firstIndex(of: " ") else { return marker }
    return String(value[..<space]) + " " + marker
  }

  /// Removes every secret from a line of text, and credentials from header lines in it.
  static func scrub(_ text: String, secrets: [String]) -> String {
    var out = text
    for secret in secrets where !secret.isEmpty {
      out = out.replacingOccurrences(of: secret, with: marker)
    }
    // Foundation splits "\r\n" at its "\n" (Swift's split would see one Character).
    let lines = out.components(separatedBy: "\n").map { line in
      guard let colon = line.firstIndex(of: ":") else { return line }
      let name = line[..<colon]
      let value = line[line.index(after: colon)...].drop { $0 == " " }
      let redacted = headerValue(name: String(name), String(value))
      return redacted == String(value) ? line : "\(name): \(redacted)"
    }
    return lines.joined(separator: "\n")
  }
}
