// Located problems with the input, rendered as `path:line:col: error: message` plus a caret line.

/// One problem found in the input, pointing at where it is.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
  public enum Severity: String, Sendable, Hashable {
    case error, warning, note
  }

  public var severity: Severity
  public var message: String
  public var mark: SourceMark?
  /// Follow-up lines such as "did you mean 'labels'?" or where a duplicate was first defined.
  public var notes: [Diagnostic]

  public init(
    _ severity: Severity = .error, _ message: String, at mark: SourceMark? = nil,
    notes: [Diagnostic] = []
  ) {
    self.severity = severity
    self.message = message
    self.mark = mark
    self.notes = notes
  }

  public static func error(_ message: String, at mark: SourceMark? = nil, notes: [Diagnostic] = [])
    -> Diagnostic
  {
    Diagnostic(.error, message, at: mark, notes: notes)
  }

  public static func warning(_ message: String, at mark: SourceMark? = nil) -> Diagnostic {
    Diagnostic(.warning, message, at: mark)
  }

  public static func note(_ message: String, at mark: SourceMark? = nil) -> Diagnostic {
    Diagnostic(.note, message, at: mark)
  }

  /// The first line only: `path:line:col: error: message`.
  public var headline: String {
    if let mark { return "\(mark): \(severity.rawValue): \(message)" }
    return "\(severity.rawValue): \(message)"
  }

  /// The full rendering: headline, the quoted source line, a caret under the column, then notes.
  public var description: String {
    var lines = [headline]
    if let mark, let source = mark.file.line(mark.line) {
      lines.append("    " + source)
      lines.append("    " + Self.caretPadding(source, column: mark.column) + "^")
    }
    for note in notes { lines.append(note.description) }
    return lines.joined(separator: "\n")
  }

  /// Spaces up to the column, keeping tabs so the caret lines up under tab-indented text.
  private static func caretPadding(_ line: String, column: Int) -> String {
    var padding = ""
    for (offset, character) in line.enumerated() where offset < column - 1 {
      padding.append(character == "\t" ? "\t" : " ")
    }
    let missing = column - 1 - line.count
    if missing > 0 { padding += String(repeating: " ", count: missing) }
    return padding
  }
}

/// Several diagnostics thrown at once, e.g. every problem `validate` found in a fleet.
public struct DiagnosticError: Error, Sendable, CustomStringConvertible {
  public var diagnostics: [Diagnostic]

  public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

  public var description: String {
    diagnostics.map(\.description).joined(separator: "\n")
  }
}

/// Collects diagnostics while input is checked, so all problems are reported at once.
public struct Diagnostics: Sendable {
  public private(set) var all: [Diagnostic] = []

  public init() {}

  public mutating func append(_ diagnostic: Diagnostic) { all.append(diagnostic) }
  public mutating func append(contentsOf diagnostics: [Diagnostic]) {
    all.append(contentsOf: diagnostics)
  }

  public mutating func error(_ message: String, at mark: SourceMark?, notes: [Diagnostic] = []) {
    all.append(.error(message, at: mark, notes: notes))
  }

  public mutating func warning(_ message: String, at mark: SourceMark?) {
    all.append(.warning(message, at: mark))
  }

  public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
  public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }
  public var hasErrors: Bool { all.contains { $0.severity == .error } }

  /// Throws every diagnostic (warnings included, for context) when any is an error.
  public func throwIfErrors() throws(DiagnosticError) {
    if hasErrors { throw DiagnosticError(all) }
  }
}

/// "did you mean" suggestions: the closest candidate within a small edit distance.
public enum Suggestion {
  public static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
    let limit = max(2, word.count / 3)
    var best: (String, Int)?
    for candidate in candidates {
      let distance = editDistance(word.lowercased(), candidate.lowercased())
      if distance <= limit, distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    return best?.0
  }

  public static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}
