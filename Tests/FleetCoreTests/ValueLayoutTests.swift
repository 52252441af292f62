// The compact layout of the value tree (a values file's tree sets the peak memory of `values`,
// `plan` and `rollout`), and the marks it packs, which diagnostics must still quote exactly.
import FleetCore
import Testing

@Suite struct ValueLayoutTests {
  let file = SourceFile(path: "values.yaml", text: "a: 1\n")
  let other = SourceFile(path: "env/prod.yaml", text: "a: 2\n")

  /// The sizes docs/benchmarks.md counts on (x86_64). A change that grows them grows every
  /// tree: Kind 17 bytes + packed line and column 7 + file 8; an entry adds its shared key (a
  /// reference, 8) and the key's line and column (8).
  @Test func nodesAndEntriesKeepTheirSize() {
    #expect(MemoryLayout<Value>.size == 32)
    #expect(MemoryLayout<Value>.stride == 32)
    #expect(MemoryLayout<Mapping.Entry>.size == 48)
    #expect(MemoryLayout<Mapping.Entry>.stride == 48)
    #expect(MemoryLayout<SourceMark>.size == 16)
    // Its entries (flat or chunked) and its key index: two references.
    #expect(MemoryLayout<Mapping>.size == 16)
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

  /// Past 1,024 entries a mapping keeps them in chunks; order, lookups, replacing and
  /// removing must not tell.
  @Test func largeMappingsBehaveAsSmallOnes() throws {
    var mapping = Mapping()
    for i in 0..<2_500 {
      mapping.append(
        "k\(i)", keyMark: SourceMark(file: file, line: i + 1, column: 1), .int(Int64(i)))
    }
    #expect(mapping.count == 2_500)
    #expect(mapping.keys == (0..<2_500).map { "k\($0)" })
    #expect(mapping["k1999"] == 1999)
    #expect(mapping.entries[1_024].key == "k1024")
    #expect(mapping.entries[1_024].keyMark?.description == "values.yaml:1025:1")
    #expect(mapping.entries.capacity - mapping.count < 1_024)

    var changed = mapping
    changed["k1500"] = "x"
    #expect(changed["k1500"] == "x")
    #expect(mapping["k1500"] == 1500)
    #expect(changed.entry("k1500")?.keyMark?.description == "values.yaml:1501:1")

    changed["k10"] = nil
    #expect(changed.count == 2_499)
    #expect(changed.keys == (0..<2_500).filter { $0 != 10 }.map { "k\($0)" })
    #expect(changed["k2499"] == 2499)
    #expect(changed.position(of: "k2499") == 2_498)
    #expect(changed["k10"] == nil)
    #expect(changed.entries.capacity - changed.count < 1_024)
    #expect(changed != mapping)
    changed["k10"] = 10
    changed["k1500"] = 1500
    #expect(changed == mapping)
  }

  /// Entries of one parse with the same key text share one key object.
  @Test func parsedKeysAreShared() throws {
    let value = try JSONReader.parse(
      Array(#"{"a": {"replicas": 1}, "b": {"replicas": 2}}"#.utf8), path: "v.json")
    let first = try #require(value["a"]?.mapping?.entries.first)
    let second = try #require(value["b"]?.mapping?.entries.first)
    #expect(first.key == "replicas")
    var copy = Mapping()
    copy.append(first)
    copy.append("other", .null)
    #expect(copy.keys == ["replicas", "other"])
    #expect(first.sharedKey === second.sharedKey)
    #expect(copy.entries[0].sharedKey === first.sharedKey)
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
