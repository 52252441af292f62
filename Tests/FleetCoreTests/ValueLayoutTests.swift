// The compact layout of the value tree (a values file's tree sets the peak memory of `values`,
// `plan` and `rollout`), and the marks it packs, which diagnostics must still quote exactly.
import FleetCore
import Testing

@Suite struct ValueLayoutTests {
  let file = SourceFile(path: "values.yaml", text: "a: 1\n")
  let other = SourceFile(path: "env/prod.yaml", text: "a: 2\n")

  /// The sizes docs/benchmarks.md counts on (x86_64). A change that grows them grows every
  /// tree: Kind 17 bytes + packed line and column 7 + file 8; an entry adds its key (16) and
  /// the key's line and column (8).
  @Test func nodesAndEntriesKeepTheirSize() {
    #expect(MemoryLayout<Value>.size == 32)
    #expect(MemoryLayout<Value>.stride == 32)
    #expect(MemoryLayout<Mapping.Entry>.size == 56)
    #expect(MemoryLayout<Mapping.Entry>.stride == 56)
    #expect(MemoryLayout<SourceMark>.size == 16)
  }

  @Test func marksComeBackExactlyUpToTheirLimit() {
    for (line, column) in [(1, 1), (3, 6), (65_537, 70_001), (268_435_455, 268_435_455)] {
      let value = Value.int(1, mark: SourceMark(file: file, line: line, column: column))
      #expect(value.mark?.description == "values.yaml:\(line):\(column)")
      #expect(value.mark?.file === file)
    }
    // Past 28 bits a line or column is clamped, never wrapped.
    let far = Value.null.with(SourceMark(file: file, line: 1 << 30, column: 1 << 29))
    #expect(far.mark?.description == "values.yaml:268435455:268435455")
    var cleared = Value.string("x", mark: SourceMark(file: file, line: 2, column: 3))
    cleared.mark = nil
    #expect(cleared.mark == nil)
  }

  @Test func keyMarksSurviveValuesFromAnotherFile() throws {
    let key = SourceMark(file: file, line: 7, column: 3)
    var mapping = Mapping()
    mapping.append("same", keyMark: key, .int(1, mark: SourceMark(file: file, line: 7, column: 9)))
    mapping.append("unmarked", keyMark: key, .int(2))
    mapping.append(
      "elsewhere", keyMark: key, .int(3, mark: SourceMark(file: other, line: 1, column: 4)))
    mapping.append("none", .int(4))
    #expect(
      mapping.entries.map { $0.keyMark?.description } == [
        "values.yaml:7:3", "values.yaml:7:3", "values.yaml:7:3", nil,
      ])
    // Replacing a value keeps its key's mark, whatever file the new value came from.
    mapping["same"] = .int(5, mark: SourceMark(file: other, line: 1, column: 4))
    let entry = try #require(mapping.entry("same"))
    #expect(entry.keyMark?.description == "values.yaml:7:3")
    #expect(entry.value.mark?.description == "env/prod.yaml:1:4")
    #expect(entry.value == 5)
  }

  @Test func diagnosticsQuoteFileLineAndColumn() {
    // The duplicate is past column 65,535 of a one-line document, where a 16-bit column
    // would have wrapped.
    let padding = String(repeating: " ", count: 70_000)
    #expect {
      try JSONReader.parse("{\"a\": 1,\(padding)\"a\": 2}", path: "big.json")
    } throws: { error in
      (error as? Diagnostic)?.headline == "big.json:1:70009: error: duplicate key 'a'"
    }
  }
}

extension Value {
  fileprivate func with(_ mark: SourceMark) -> Value { Value(kind, mark: mark) }
}
