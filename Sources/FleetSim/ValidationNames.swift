// Label and name syntax as k8s.io/apimachinery's validation checks it, with its messages
// (util/validation: IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain; each message is
// the rule followed by examples and the regex, as RegexError words it).
import FleetCore

enum NameSyntax {
  typealias FieldError = Validation.FieldError

  private static let qualifiedName =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    + "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    + "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

  private static let labelValue =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    + "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    + "'my_value',  or '12345', regex used for validation is "
    + "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

  static let subdomain =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    + "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    + "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

  /// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
  /// Keys are `[prefix/]name` (name at most 63 characters, prefix a DNS subdomain); values at
  /// most 63 characters; both of `[A-Za-z0-9_.-]`, starting and ending with a letter or digit.
  static func labels(_ labels: Value?, at field: String) -> [FieldError] {
    var errors: [FieldError] = []
    for entry in labels?.mapping ?? Mapping() {
      for problem in keyProblems(entry.key) {
        errors.append(invalid(field, entry.key, problem))
      }
      let value = entry.value.scalarText ?? ""
      if value.utf8.count > 63 {
        errors.append(invalid(field, value, "must be no more than 63 characters"))
      }
      if !value.isEmpty, !isQualifiedNamePart(value) {
        errors.append(invalid(field, value, labelValue))
      }
    }
    return errors
  }

  /// Why `name` is not a DNS-1123 subdomain (the rule for most kinds' `metadata.name`), or nil.
  static func subdomainProblem(_ name: String) -> String? {
    if name.utf8.count > 253 { return "must be no more than 253 characters" }
    return isSubdomain(name) ? nil : subdomain
  }

  private static func invalid(_ field: String, _ value: String, _ detail: String) -> FieldError {
    FieldError(
      reason: "FieldValueInvalid", field: field, detail: "Invalid value: \"\(value)\": \(detail)")
  }

  /// IsQualifiedName's messages, in its order.
  private static func keyProblems(_ key: String) -> [String] {
    let parts = key.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count <= 2 else {
      return [
        "a qualified name \(qualifiedName) with an optional DNS subdomain prefix and '/' (e.g. "
          + "'example.com/MyName')"
      ]
    }
    var problems: [String] = []
    if parts.count == 2 {
      let prefix = String(parts[0])
      if prefix.isEmpty {
        problems.append("prefix part must be non-empty")
      } else if let problem = subdomainProblem(prefix) {
        problems.append("prefix part \(problem)")
      }
    }
    let name = String(parts[parts.count - 1])
    if name.isEmpty {
      problems.append("name part must be non-empty")
    } else if name.utf8.count > 63 {
      problems.append("name part must be no more than 63 characters")
    }
    if !isQualifiedNamePart(name) { problems.append("name part \(qualifiedName)") }
    return problems
  }

  private static func isAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
      || (byte >= 0x61 && byte <= 0x7A)
  }

  /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
  private static func isQualifiedNamePart(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first),
      isAlphanumeric(last)
    else { return false }
    return bytes.allSatisfy {
      isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        || $0 == UInt8(ascii: ".")
    }
  }

  /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
  private static func isSubdomain(_ text: String) -> Bool {
    let lower = { (byte: UInt8) in (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A)
    }
    for part in text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
      guard let first = part.first, let last = part.last, lower(first), lower(last) else {
        return false
      }
      guard part.allSatisfy({ lower($0) || $0 == UInt8(ascii: "-") }) else { return false }
    }
    return true
  }
}

/// resource.Quantity's syntax as k8s.io/apimachinery's ParseQuantity reads it: a signed decimal
/// number, then a suffix (`m`, `k`, `Mi`, `e3`, ...), with its two messages.
/// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
enum QuantitySyntax {
  static let formatWrong =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
  static let badSuffix = "unable to parse quantity's suffix"

  private static let suffixes: Set<String> = [
    "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
  ]

  /// Why `text` is not a quantity, or nil.
  static func problem(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return formatWrong }
    var position = 0
    if bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") { position = 1 }
    let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
    while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      position += 1
      while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }
    let suffixStart = position
    let letters = Set("eEinumkKMGTP".utf8)
    while position < bytes.count, letters.contains(bytes[position]) { position += 1 }
    if position < bytes.count,
      bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
    {
      position += 1
    }
    while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    guard position == bytes.count else { return formatWrong }
    let suffix = String(decoding: bytes[suffixStart...], as: UTF8.self)
    if suffixes.contains(suffix) { return nil }
    // A decimal exponent: e or E and an integer.
    if let first = suffix.first, first == "e" || first == "E", Int(suffix.dropFirst()) != nil {
      return nil
    }
    return badSuffix
  }
}
