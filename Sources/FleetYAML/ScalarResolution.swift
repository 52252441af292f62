// How a plain scalar becomes null, a boolean, a number or a string: the rules Helm applies to
// values files (YAML 1.1 as implemented by go-yaml v2 behind sigs.k8s.io/yaml), checked against
// `helm template` printing `toJson .Values`. See docs/yaml.md for the table.
import FleetCore

enum ScalarResolution {
  /// Resolves an untagged plain scalar.
  static func resolve(_ text: String) -> Value.Kind {
    guard let first = text.utf8.first else { return .null }
    switch first {
    case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
      if text == "~" || text == "null" || text == "Null" || text == "NULL" { return .null }
    default: break
    }
    switch first {
    case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"),
      UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"),
      UInt8(ascii: "o"), UInt8(ascii: "O"):
      if let b = boolean(text) { return .bool(b) }
      return .string(text)
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
      UInt8(ascii: "."):
      return number(text) ?? .string(text)
    default:
      return .string(text)
    }
  }

  static func boolean(_ text: String) -> Bool? {
    guard text.utf8.count <= 5 else { return nil }
    switch text {
    case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return true
    case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return false
    default: return nil
    }
  }

  /// Helm holds every number as float64, so integers beyond 2^53 lose precision there; they are
  /// kept as doubles here too, so `values` shows what the chart will see.
  private static let exactIntegerLimit: Int64 = 1 << 53

  static func number(_ text: String) -> Value.Kind? {
    if let small = text.utf8.withContiguousStorageIfAvailable(smallDecimal), let small {
      return .int(small)
    }
    switch text {
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
    case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
    case ".nan", ".NaN", ".NAN": return .double(.nan)
    default: break
    }
    var digits = Substring(text)
    var negative = false
    if let sign = digits.first, sign == "-" || sign == "+" {
      negative = sign == "-"
      digits = digits.dropFirst()
    }
    guard !digits.isEmpty else { return nil }
    let plain = digits.replacingUnderscores()
    if let integer = integer(plain) {
      let signed = negative ? -integer : integer
      if let exact = Int64(exactly: signed), abs(exact) <= exactIntegerLimit { return .int(exact) }
      return .double(signed)
    }
    guard isFloat(plain), let d = Double(plain) else { return nil }
    return .double(negative ? -d : d)
  }

  /// The common case without allocating: an optionally signed decimal of at most 18 digits
  /// with no leading zero (a leading zero means octal).
  private static func smallDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    var i = 0
    var negative = false
    if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
      negative = bytes[i] == UInt8(ascii: "-")
      i += 1
    }
    let digits = bytes.count - i
    guard digits >= 1, digits <= 18 else { return nil }
    if digits > 1, bytes[i] == UInt8(ascii: "0") { return nil }
    var total: Int64 = 0
    while i < bytes.count {
      let d = bytes[i] &- UInt8(ascii: "0")
      guard d < 10 else { return nil }
      total = total * 10 + Int64(d)
      i += 1
    }
    guard total <= exactIntegerLimit else { return nil }
    return negative ? -total : total
  }

  /// Integer forms: decimal, 0x hex, 0o and leading-zero octal (YAML 1.1), 0b binary.
  /// Returns a Double so values beyond Int64 still resolve to numbers, as in Helm.
  private static func integer(_ s: String) -> Double? {
    let u = Array(s.utf8)
    func parse(_ body: ArraySlice<UInt8>, radix: Int) -> Double? {
      guard !body.isEmpty else { return nil }
      let text = String(decoding: body, as: UTF8.self)
      if let exact = UInt64(text, radix: radix) { return Double(exact) }
      // Too large for 64 bits: still a number, rounded once (not digit by digit).
      guard body.allSatisfy({ Int(String(UnicodeScalar($0)), radix: radix) != nil }) else {
        return nil
      }
      if radix == 10 { return Double(text) }
      return body.reduce(0.0) { $0 * Double(radix) + Double(Int(String(UnicodeScalar($1)), radix: radix) ?? 0) }
    }
    if u.count > 2, u[0] == UInt8(ascii: "0") {
      switch u[1] {
      case UInt8(ascii: "x"), UInt8(ascii: "X"): return parse(u[2...], radix: 16)
      case UInt8(ascii: "o"), UInt8(ascii: "O"): return parse(u[2...], radix: 8)
      case UInt8(ascii: "b"), UInt8(ascii: "B"): return parse(u[2...], radix: 2)
      default: break
      }
    }
    if u.count > 1, u[0] == UInt8(ascii: "0") { return parse(u[1...], radix: 8) }
    return parse(u[...], radix: 10)
  }

  /// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?` or `\.[0-9]+([eE][-+]?[0-9]+)?`, after the sign.
  private static func isFloat(_ s: String) -> Bool {
    let u = Array(s.utf8)
    var i = 0
    func digits() -> Int {
      let start = i
      while i < u.count, u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") { i += 1 }
      return i - start
    }
    let whole = digits()
    if i < u.count, u[i] == UInt8(ascii: ".") {
      i += 1
      let fraction = digits()
      if whole == 0 && fraction == 0 { return false }
    } else if whole == 0 {
      return false
    }
    if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
      i += 1
      if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
      if digits() == 0 { return false }
    }
    return i == u.count
  }

  /// A mapping key as Helm sees it: keys become strings (`on:` is "true", `1:` is "1").
  static func key(_ text: String, plain: Bool) -> String {
    guard plain else { return text }
    switch resolve(text) {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d): return Value.format(d)
    default: return text
    }
  }
}

extension Substring {
  fileprivate func replacingUnderscores() -> String {
    contains("_") ? String(filter { $0 != "_" }) : String(self)
  }
}
