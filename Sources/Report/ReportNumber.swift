// Numbers as people read them in reports: three significant digits, never a 16-digit float.
import FleetCore
import Foundation

enum ReportNumber {
  /// See `GateReading.number`: the one rounding every output shares.
  static func rounded(_ value: Double) -> String { GateReading.number(value) }

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
