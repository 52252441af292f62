// Kubernetes' label syntax, which keeps shell, path, URL and query metacharacters out of labels.

/// Label keys and values as Kubernetes accepts them (apimachinery's validation):
/// - a key is `[prefix/]name`: the name 1–63 characters of `[A-Za-z0-9_.-]`, starting and ending
///   with a letter or digit; the optional prefix a DNS subdomain (lower case `[a-z0-9.-]`, at most
///   253 characters, each dot-separated part starting and ending with a letter or digit);
/// - a value is empty or 1–63 characters of `[A-Za-z0-9_.-]`, starting and ending with a letter
///   or digit.
public enum LabelSyntax {
  /// Why `key` is not a label key, or nil when it is one.
  public static func problem(key: String) -> String? {
    var name = Substring(key)
    if let slash = key.firstIndex(of: "/") {
      let prefix = key[..<slash]
      name = key[key.index(after: slash)...]
      if let why = subdomainProblem(prefix) { return "its prefix '\(prefix)' \(why)" }
    }
    if name.isEmpty { return "its name is empty" }
    return nameProblem(name)
  }

  /// Why `value` is not a label value, or nil when it is one.
  public static func problem(value: String) -> String? {
    value.isEmpty ? nil : nameProblem(Substring(value))
  }

  private static func isAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
      || (byte >= 0x61 && byte <= 0x7A)
  }

  private static func nameProblem(_ name: Substring) -> String? {
    let bytes = Array(name.utf8)
    if bytes.count > 63 { return "is longer than 63 characters" }
    for byte in bytes
    where
      !(isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
      || byte == UInt8(ascii: "."))
    {
      return "holds \(describe(byte, in: name)); only letters, digits, '-', '_' and '.' are allowed"
    }
    guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first),
      isAlphanumeric(last)
    else { return "must start and end with a letter or digit" }
    return nil
  }

  private static func subdomainProblem(_ prefix: Substring) -> String? {
    if prefix.isEmpty { return "is empty" }
    if prefix.utf8.count > 253 { return "is longer than 253 characters" }
    for part in prefix.split(separator: ".", omittingEmptySubsequences: false) {
      let bytes = Array(part.utf8)
      let lowerAlphanumeric = { (byte: UInt8) in
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A)
      }
      for byte in bytes where !(lowerAlphanumeric(byte) || byte == UInt8(ascii: "-")) {
        return
          "holds \(describe(byte, in: part)); a DNS subdomain has only 'a-z', '0-9', '-' and '.'"
      }
      guard let first = bytes.first, let last = bytes.last, lowerAlphanumeric(first),
        lowerAlphanumeric(last)
      else { return "is not a DNS subdomain (each part starts and ends with a letter or digit)" }
    }
    return nil
  }

  /// The first offending character, shown so that a newline or NUL is visible.
  private static func describe(_ byte: UInt8, in text: Substring) -> String {
    guard byte >= 0x20, byte != 0x7F, byte < 0x80 else {
      let scalar = text.unicodeScalars.first { $0.value < 0x20 || $0.value >= 0x7F }
      return "\(Escaping.visible(scalar.map { String($0) } ?? "?"))"
    }
    return "'\(Character(Unicode.Scalar(byte)))'"
  }
}
