// Fitting the live view's lines to a terminal: names elided in the middle, lines wrapped at
// word boundaries, ANSI colour by state. Nothing here cuts text off: what does not fit wraps.
import Foundation

enum TerminalText {
  /// `prometheus sum(rate(app_req…cluster="b"}[1m]))`: the head and the tail of `name`, which
  /// tell most names apart, in at most `limit` characters.
  static func elide(_ name: String, to limit: Int) -> String {
    guard name.count > limit, limit >= 5 else { return name }
    let tail = (limit - 1) / 2
    let head = limit - 1 - tail
    return String(name.prefix(head)) + "…" + String(name.suffix(tail))
  }

  /// `line` in pieces of at most `width` characters, broken after spaces where possible;
  /// continuation pieces are indented by two spaces so they read as one entry.
  static func wrap(_ line: String, width: Int) -> [String] {
    guard line.count > width, width > 4 else { return [line] }
    var pieces: [String] = []
    var rest = Substring(line)
    var room = width
    while rest.count > room {
      let window = rest.prefix(room)
      var cut = window.endIndex
      if let space = breakingSpace(in: window, rest: rest) {
        cut = window.index(after: space)
      }
      pieces.append(String(rest[rest.startIndex..<cut]).trimmingTrailingSpaces())
      rest = rest[cut...].drop { $0 == " " }
      room = width - 2
    }
    if !rest.isEmpty || pieces.isEmpty { pieces.append(String(rest)) }
    return pieces.enumerated().map { $0.offset == 0 ? $0.element : "  " + $0.element }
  }

  /// The last space of `window` worth breaking at: not in its first third (that would leave
  /// a nearly empty piece), and not beside a comparison, so `0.279 > 0.05` stays on one line.
  private static func breakingSpace(in window: Substring, rest: Substring) -> Substring.Index? {
    let operators: Set<Substring> = [">", "<", ">=", "<=", "==", "!="]
    var end = window.endIndex
    while let space = window[window.startIndex..<end].lastIndex(of: " ") {
      guard window.distance(from: window.startIndex, to: space) > window.count / 3 else {
        return nil
      }
      let before = window[window.startIndex..<space].split(separator: " ").last ?? ""
      let after = rest[rest.index(after: space)...].prefix { $0 != " " }
      if !operators.contains(before) && !operators.contains(after) { return space }
      end = space
    }
    return nil
  }

  /// The colour a line takes from the state it reports.
  enum Tone: Sendable {
    case plain, good, bad, busy, waiting, quiet

    /// The SGR parameters: green, red, cyan, yellow, dim.
    var code: String? {
      switch self {
      case .plain: return nil
      case .good: return "32"
      case .bad: return "31"
      case .busy: return "36"
      case .waiting: return "33"
      case .quiet: return "2"
      }
    }
  }

  static func paint(_ text: String, _ tone: Tone, colour: Bool) -> String {
    guard colour, let code = tone.code else { return text }
    return "\u{1B}[\(code)m\(text)\u{1B}[0m"
  }

  /// Whether output on `fd` gets colour: a terminal, `NO_COLOR` unset or empty
  /// (no-color.org), and not `TERM=dumb`.
  static func colours(fd: Int32, environment: [String: String]) -> Bool {
    guard isatty(fd) == 1 else { return false }
    if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
    return environment["TERM"] != "dumb"
  }
}

extension String {
  fileprivate func trimmingTrailingSpaces() -> String {
    var text = self
    while text.hasSuffix(" ") { text.removeLast() }
    return text
  }
}
