// Values written to break out of a shell word, a path, a URL or a PromQL string when pasted raw.
// Shared by every target's HostileInputTests, so each template sink is tried with the same set.

/// One attack: a short name (also usable as a cluster name) and the value that tries it.
public struct HostileValue: Sendable, CustomStringConvertible {
  public let attack: String
  public let value: String

  public var description: String { attack }

  /// `;`, `$()`, backquotes, quotes, `"}`, `../`, a newline and NUL, in that order.
  public static let all = [
    HostileValue(attack: "semicolon", value: "x; touch /tmp/PWNED; echo"),
    HostileValue(attack: "subst", value: "$(id)"),
    HostileValue(attack: "backquote", value: "`id`"),
    HostileValue(attack: "quotes", value: #"it's "q""#),
    HostileValue(attack: "brace", value: #"a"}"#),
    HostileValue(attack: "dots", value: "../../outside"),
    HostileValue(attack: "newline", value: "line\nbreak"),
    HostileValue(attack: "nul", value: "a\0b"),
  ]
}
