// helm's semantic version constraints (Masterminds semver v3, which helm uses for a chart's
// `kubeVersion`): `>=1.25.0-0`, `^1.28`, `~1.29`, `1.2.x`, `1.2 - 1.4`, `<1.30 || >=1.31`.

/// A version as the constraints compare it: `v` prefix allowed, missing parts zero, build
/// metadata ignored, pre-release identifiers compared as semver says.
public struct SemverVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public var patch: Int
  /// Empty for a release.
  public var prerelease: [String]

  public init(major: Int, minor: Int, patch: Int, prerelease: [String] = []) {
    self.major = major
    self.minor = minor
    self.patch = patch
    self.prerelease = prerelease
  }

  /// Nil when `text` is not a version (`1`, `1.2`, `v1.2.3-rc.1+build` are).
  public init?(_ text: String) {
    // Missing parts are zero (`1.28` is 1.28.0); `x` is for constraints only.
    let core = text.prefix { $0 != "-" && $0 != "+" }
    guard !core.contains(where: { "xX*".contains($0) }), let parsed = try? SemverPattern(text)
    else { return nil }
    self = parsed.floor
  }

  public var description: String {
    "\(major).\(minor).\(patch)"
      + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
  }

  public static func < (a: SemverVersion, b: SemverVersion) -> Bool {
    if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) {
      return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }
    // A pre-release comes before its release; identifiers compare left to right, numbers
    // numerically and before words, and a shorter list first when one is a prefix.
    if a.prerelease.isEmpty || b.prerelease.isEmpty {
      return !a.prerelease.isEmpty && b.prerelease.isEmpty
    }
    for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
      switch (Int(x), Int(y)) {
      case (let m?, let n?): return m < n
      case (.some, nil): return true
      case (nil, .some): return false
      case (nil, nil): return x < y
      }
    }
    return a.prerelease.count < b.prerelease.count
  }
}

/// Why a constraint cannot be read.
public struct SemverError: Error, Equatable {
  public var message: String

  public init(message: String) { self.message = message }
}

/// A version in a constraint, whose later parts may be missing or `x`/`X`/`*`.
struct SemverPattern {
  /// The version with missing parts as zero.
  var floor: SemverVersion
  /// The first part left open: 0 major, 1 minor, 2 patch; nil when all three are given.
  var wildcard: Int?

  /// `word` is what error messages quote (the version with its operator).
  init(_ text: String, in word: String? = nil) throws(SemverError) {
    let quoted = word ?? text
    var body = Substring(text)
    if body.first == "v" || body.first == "V" { body = body.dropFirst() }
    if let plus = body.firstIndex(of: "+") { body = body[..<plus] }
    var prerelease: [String] = []
    if let dash = body.firstIndex(of: "-") {
      prerelease = body[body.index(after: dash)...].split(
        separator: ".", omittingEmptySubsequences: false
      )
      .map(String.init)
      body = body[..<dash]
      if prerelease.contains(where: \.isEmpty) {
        throw SemverError(message: "'\(quoted)' has an empty pre-release identifier")
      }
    }
    let parts = body.split(separator: ".", omittingEmptySubsequences: false)
    guard (1...3).contains(parts.count) else {
      throw SemverError(message: "'\(quoted)' is not a version")
    }
    var numbers: [Int] = []
    var open: Int?
    for (index, part) in parts.enumerated() {
      if ["x", "X", "*"].contains(part) {
        open = open ?? index
        numbers.append(0)
      } else if open == nil, let number = Int(part), number >= 0, part.allSatisfy(\.isNumber) {
        numbers.append(number)
      } else {
        throw SemverError(message: "'\(quoted)' is not a version")
      }
    }
    if parts.count < 3 { open = open ?? parts.count }
    while numbers.count < 3 { numbers.append(0) }
    floor = SemverVersion(
      major: numbers[0], minor: numbers[1], patch: numbers[2], prerelease: prerelease)
    wildcard = open
  }

  /// The first version past every version the pattern covers (`1.2.x` -> 1.3.0), or nil for
  /// a pattern open from its major part.
  var ceiling: SemverVersion? {
    switch wildcard {
    case 0: return nil
    case 1: return SemverVersion(major: floor.major + 1, minor: 0, patch: 0, prerelease: ["0"])
    case 2:
      return SemverVersion(major: floor.major, minor: floor.minor + 1, patch: 0, prerelease: ["0"])
    default: return nil
    }
  }
}

/// One comparison: a lower and an upper bound (either may be open), or `!=`.
struct SemverComparison {
  var lower: (version: SemverVersion, inclusive: Bool)?
  var upper: (version: SemverVersion, inclusive: Bool)?
  var excluded: SemverPattern?
  /// The constraint names a pre-release, so pre-release versions may satisfy it.
  var allowsPrerelease: Bool

  func isSatisfied(by version: SemverVersion) -> Bool {
    // A pre-release satisfies only a constraint that names one: `>=1.25.0` refuses
    // `1.32.0-eks-1`, `>=1.25.0-0` accepts it.
    if !version.prerelease.isEmpty && !allowsPrerelease { return false }
    if let lower, version < lower.version || (!lower.inclusive && version == lower.version) {
      return false
    }
    if let upper, upper.version < version || (!upper.inclusive && version == upper.version) {
      return false
    }
    if let excluded {
      let release = SemverVersion(major: version.major, minor: version.minor, patch: version.patch)
      if excluded.wildcard == nil {
        return version != excluded.floor
      }
      return excluded.ceiling.map { !(excluded.floor <= release && release < $0) } ?? false
    }
    return true
  }
}

/// A whole constraint: alternatives (`||`), each all of its comparisons (space or comma).
public struct SemverRange: Sendable {
  let alternatives: [[SemverComparison]]

  public init(_ text: String) throws(SemverError) {
    var alternatives: [[SemverComparison]] = []
    for alternative in text.components(separatedBy: "||") {
      var words = alternative.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" })
        .map(String.init)
      var comparisons: [SemverComparison] = []
      // `1.2 - 1.4`: the hyphen range.
      while let dash = words.firstIndex(of: "-") {
        guard dash > 0, dash + 1 < words.count else {
          throw SemverError(message: "'\(text)': a hyphen range needs a version on each side")
        }
        let low = try SemverPattern(words[dash - 1])
        let high = try SemverPattern(words[dash + 1])
        comparisons.append(
          SemverComparison(
            lower: (low.floor, true),
            upper: high.ceiling.map { ($0, false) }
              ?? (high.wildcard == 0 ? nil : (high.floor, true)),
            allowsPrerelease: !low.floor.prerelease.isEmpty || !high.floor.prerelease.isEmpty))
        words.removeSubrange((dash - 1)...(dash + 1))
      }
      // An operator written apart from its version (`>= 1.25`) joins it.
      var joined: [String] = []
      for word in words {
        if let last = joined.last, last.allSatisfy({ "<>=!~^".contains($0) }) {
          joined[joined.count - 1] = last + word
        } else {
          joined.append(word)
        }
      }
      for word in joined { comparisons.append(try Self.comparison(word, in: text)) }
      if comparisons.isEmpty {
        throw SemverError(message: "'\(text)': an empty alternative")
      }
      alternatives.append(comparisons)
    }
    self.alternatives = alternatives
  }

  public func isSatisfied(by version: SemverVersion) -> Bool {
    alternatives.contains { $0.allSatisfy { $0.isSatisfied(by: version) } }
  }

  private static func comparison(_ word: String, in text: String) throws(SemverError)
    -> SemverComparison
  {
    let operators = ["~>", ">=", "=>", "<=", "=<", "!=", ">", "<", "=", "~", "^"]
    let op = operators.first { word.hasPrefix($0) } ?? ""
    let pattern = try SemverPattern(String(word.dropFirst(op.count)), in: word)
    let floor = pattern.floor
    let pre = !floor.prerelease.isEmpty
    let release = SemverVersion(major: floor.major, minor: floor.minor, patch: floor.patch)
    switch op {
    case "", "=":
      if pattern.wildcard == nil {
        return SemverComparison(lower: (floor, true), upper: (floor, true), allowsPrerelease: pre)
      }
      return SemverComparison(
        lower: (floor, true), upper: pattern.ceiling.map { ($0, false) }, allowsPrerelease: pre)
    case "!=":
      return SemverComparison(excluded: pattern, allowsPrerelease: pre)
    case ">=", "=>":
      return SemverComparison(lower: (floor, true), allowsPrerelease: pre)
    case ">":
      // `>1.2` means past every 1.2.x.
      if let ceiling = pattern.ceiling {
        return SemverComparison(lower: (ceiling, true), allowsPrerelease: pre)
      }
      if pattern.wildcard == 0 {
        // Past every version: nothing.
        return SemverComparison(
          upper: (SemverVersion(major: 0, minor: 0, patch: 0, prerelease: ["0"]), false),
          allowsPrerelease: pre)
      }
      return SemverComparison(lower: (floor, false), allowsPrerelease: pre)
    case "<":
      return SemverComparison(upper: (floor, false), allowsPrerelease: pre)
    case "<=", "=<":
      return SemverComparison(
        upper: pattern.ceiling.map { ($0, false) } ?? (floor, true), allowsPrerelease: pre)
    case "~", "~>":
      // `~1.2.3` and `~1.2`: the same minor; `~1`: the same major.
      let upper =
        pattern.wildcard == 1
        ? SemverVersion(major: floor.major + 1, minor: 0, patch: 0, prerelease: ["0"])
        : SemverVersion(major: floor.major, minor: floor.minor + 1, patch: 0, prerelease: ["0"])
      return SemverComparison(lower: (floor, true), upper: (upper, false), allowsPrerelease: pre)
    case "^":
      // The same left-most non-zero part: `^1.28` < 2.0.0, `^0.2.3` < 0.3.0.
      let upper: SemverVersion
      if release.major > 0 || pattern.wildcard == 1 {
        upper = SemverVersion(major: floor.major + 1, minor: 0, patch: 0, prerelease: ["0"])
      } else if release.minor > 0 || pattern.wildcard == 2 {
        upper = SemverVersion(major: 0, minor: floor.minor + 1, patch: 0, prerelease: ["0"])
      } else {
        upper = SemverVersion(major: 0, minor: 0, patch: floor.patch + 1, prerelease: ["0"])
      }
      return SemverComparison(lower: (floor, true), upper: (upper, false), allowsPrerelease: pre)
    default:
      throw SemverError(message: "'\(text)': unknown operator in '\(word)'")
    }
  }
}
