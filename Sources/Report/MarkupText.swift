// Text placed inside HTML or XML (the plan page, JUnit reports).

enum MarkupText {
  /// Escapes the five markup characters and line breaks; drops the control characters XML 1.0
  /// forbids even as references. The result is valid in HTML text and attributes too.
  static func escaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\n": out += "&#10;"
      default:
        if scalar.value < 0x20 && scalar != "\t" {
          out += "?"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }
}
