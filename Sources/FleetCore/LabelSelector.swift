// Kubernetes label selectors: `env=prod`, `env!=dev`, `region in (a,b)`, `tier notin (x)`,
// `canary`, `!canary`; a comma means AND.

public struct LabelSelector: Sendable, Equatable, CustomStringConvertible {
  public enum Requirement: Sendable, Equatable {
    case equals(String, String)
    case notEquals(String, String)
    case `in`(String, [String])
    case notIn(String, [String])
    case exists(String)
    case doesNotExist(String)

    public func matches(_ labels: [String: String]) -> Bool {
      switch self {
      case .equals(let key, let value): return labels[key] == value
      // As in Kubernetes: `!=` and `notin` also match objects that lack the label.
      case .notEquals(let key, let value): return labels[key] != value
      case .in(let key, let values): return labels[key].map(values.contains) ?? false
      case .notIn(let key, let values): return !(labels[key].map(values.contains) ?? false)
      case .exists(let key): return labels[key] != nil
      case .doesNotExist(let key): return labels[key] == nil
      }
    }

    public var key: String {
      switch self {
      case .equals(let k, _), .notEquals(let k, _), .in(let k, _), .notIn(let k, _), .exists(let k),
        .doesNotExist(let k):
        return k
      }
    }
  }

  public var requirements: [Requirement]
  /// The selector as written.
  public var text: String
  public var mark: SourceMark?

  public init(requirements: [Requirement], text: String, mark: SourceMark? = nil) {
    self.requirements = requirements
    self.text = text
    self.mark = mark
  }

  /// An empty selector matches everything, as in Kubernetes.
  public func matches(_ labels: [String: String]) -> Bool {
    requirements.allSatisfy { $0.matches(labels) }
  }

  public var description: String { text }

  public static func == (a: LabelSelector, b: LabelSelector) -> Bool {
    a.requirements == b.requirements
  }

  /// Parses a selector. `mark` points at its first character so errors point at the column.
  public static func parse(_ text: String, mark: SourceMark? = nil) throws(Diagnostic) -> LabelSelector {
    var parser = SelectorParser(text: Array(text), mark: mark)
    return LabelSelector(requirements: try parser.parse(), text: text, mark: mark)
  }
}

private struct SelectorParser {
  let text: [Character]
  let mark: SourceMark?
  var position = 0

  func fail(_ message: String, at column: Int? = nil) -> Diagnostic {
    .error("invalid label selector: \(message)", at: mark?.advanced(by: column ?? position))
  }

  mutating func skipSpace() {
    while position < text.count, text[position] == " " { position += 1 }
  }

  var atEnd: Bool { position >= text.count }

  mutating func parse() throws(Diagnostic) -> [LabelSelector.Requirement] {
    var requirements: [LabelSelector.Requirement] = []
    skipSpace()
    if atEnd { return [] }
    while true {
      requirements.append(try requirement())
      skipSpace()
      if atEnd { return requirements }
      guard text[position] == "," else { throw fail("expected ',' between requirements") }
      position += 1
      skipSpace()
      if atEnd { throw fail("expected a requirement after ','") }
    }
  }

  mutating func requirement() throws(Diagnostic) -> LabelSelector.Requirement {
    skipSpace()
    if text[position] == "!" {
      position += 1
      skipSpace()
      let key = try self.key()
      return .doesNotExist(key)
    }
    let key = try self.key()
    skipSpace()
    if atEnd || text[position] == "," { return .exists(key) }
    let operatorStart = position
    if text[position] == "=" {
      position += 1
      if !atEnd, text[position] == "=" { position += 1 }
      return .equals(key, try value())
    }
    if text[position] == "!" {
      position += 1
      guard !atEnd, text[position] == "=" else { throw fail("expected '=' after '!'", at: operatorStart) }
      position += 1
      return .notEquals(key, try value())
    }
    let word = identifierRun()
    switch word {
    case "in": return .in(key, try valueSet())
    case "notin": return .notIn(key, try valueSet())
    default:
      throw fail(
        "expected one of '=', '==', '!=', 'in', 'notin' after '\(key)'", at: operatorStart)
    }
  }

  mutating func identifierRun() -> String {
    let start = position
    while position < text.count, text[position].isLetter { position += 1 }
    return String(text[start..<position])
  }

  static func isNameCharacter(_ c: Character) -> Bool {
    c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." || c == "/"
  }

  mutating func key() throws(Diagnostic) -> String {
    let start = position
    while position < text.count, Self.isNameCharacter(text[position]) { position += 1 }
    guard position > start else { throw fail("expected a label key") }
    let key = String(text[start..<position])
    guard let first = key.first, first.isLetter || first.isNumber else {
      throw fail("label key '\(key)' must start with a letter or digit", at: start)
    }
    return key
  }

  mutating func value() throws(Diagnostic) -> String {
    skipSpace()
    let start = position
    while position < text.count, Self.isNameCharacter(text[position]) { position += 1 }
    // An empty value is allowed, as in Kubernetes (`env=` selects env="").
    return String(text[start..<position])
  }

  mutating func valueSet() throws(Diagnostic) -> [String] {
    skipSpace()
    guard !atEnd, text[position] == "(" else { throw fail("expected '(' to start a value set") }
    position += 1
    var values: [String] = []
    while true {
      skipSpace()
      let start = position
      let v = try value()
      if v.isEmpty && (atEnd || (text[position] != "," && text[position] != ")")) {
        throw fail("unexpected character in value set", at: start)
      }
      values.append(v)
      skipSpace()
      guard !atEnd else { throw fail("value set is not closed with ')'") }
      if text[position] == ")" {
        position += 1
        break
      }
      guard text[position] == "," else { throw fail("expected ',' or ')' in value set") }
      position += 1
    }
    if values == [""] { throw fail("value set is empty", at: position - 1) }
    return values
  }
}
