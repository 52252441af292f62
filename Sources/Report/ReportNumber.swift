// Numbers as people read them in reports: three significant digits, never a 16-digit float.
import FleetCore
import Foundation

enum ReportNumber {
  /// `0.0034567` → `0.00346`, `123.456` → `123`, `0.1 + 0.2` → `0.3`, `12345.6` → `12346`;
  /// whole numbers stay whole. Three significant digits tell a gate's value from its limit
  /// (limits are written with few digits) without noise.
  static func rounded(_ value: Double) -> String {
    guard value.isFinite else { return Value.format(value) }
    if value.rounded() == value { return Value.format(value) }
    let magnitude = abs(value)
    if magnitude >= 100 { return Value.format(value.rounded()) }
    let decimals = max(0, 2 - Int(floor(log10(magnitude))))
    var text = String(format: "%.\(decimals)f", value)
    if text.contains(".") {
      while text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
  }

  /// The same text with every decimal number of more than three fractional digits rounded as
  /// above; gates write their raw values into their details (`0.27900000000000003 > 0.05`).
  static func roundedInText(_ text: String) -> String {
    var out = ""
    var index = text.startIndex
    while index < text.endIndex {
      let character = text[index]
      let startsNumber =
        character.isASCII && character.isNumber
        && (index == text.startIndex || !isWordCharacter(text[text.index(before: index)]))
      guard startsNumber else {
        out.append(character)
        index = text.index(after: index)
        continue
      }
      var end = index
      while end < text.endIndex, text[end].isASCII, text[end].isNumber || text[end] == "." {
        end = text.index(after: end)
      }
      // Exponents (`1e-05`) belong to the number.
      if end < text.endIndex, text[end] == "e" || text[end] == "E" {
        var exponent = text.index(after: end)
        if exponent < text.endIndex, text[exponent] == "-" || text[exponent] == "+" {
          exponent = text.index(after: exponent)
        }
        if exponent < text.endIndex, text[exponent].isASCII, text[exponent].isNumber {
          end = exponent
          while end < text.endIndex, text[end].isASCII, text[end].isNumber {
            end = text.index(after: end)
          }
        }
      }
      let number = String(text[index..<end])
      let fraction = number.split(separator: ".", omittingEmptySubsequences: false)
      let long = fraction.count == 2 && (fraction[1].count > 3 || number.contains("e"))
      if long, end == text.endIndex || !isWordCharacter(text[end]), let value = Double(number) {
        out += rounded(value)
      } else {
        out += number
      }
      index = end
    }
    return out
  }

  private static func isWordCharacter(_ character: Character) -> Bool {
    character.isLetter || character == "_" || character == "."
  }
}
