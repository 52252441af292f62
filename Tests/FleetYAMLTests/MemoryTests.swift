// What a parsed values file costs: collections without spare capacity, files read whole into
// one array, text streamed out of the emitter instead of built whole.
import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct TreeMemoryTests {
  /// Every collection of the tree whose buffer has room for more than it holds, as
  /// "path: count/capacity".
  func spareCapacity(_ value: Value, at path: String = "$") -> [String] {
    switch value.kind {
    case .sequence(let items):
      let own = items.capacity > items.count ? ["\(path): \(items.count)/\(items.capacity)"] : []
      return own
        + items.enumerated().flatMap { spareCapacity($0.element, at: "\(path)[\($0.offset)]") }
    case .mapping(let mapping):
      let entries = mapping.entries
      let own =
        entries.capacity > entries.count ? ["\(path): \(entries.count)/\(entries.capacity)"] : []
      return own + entries.flatMap { spareCapacity($0.value, at: "\(path).\($0.key)") }
    default:
      return []
    }
  }

  @Test func parsedCollectionsHoldNoSpareCapacity() throws {
    let eleven = (1...11).map { "k\($0): \($0)" }.joined(separator: ", ")
    let seventeen = (1...17).map { "k\($0): \($0)" }.joined(separator: "\n  ")
    let value = try YAML.parse(
      """
      two: {a: 1, b: 2}
      eleven: {\(eleven)}
      seventeen:
        \(seventeen)
      three: [1, 2, 3]
      five: [a, b, c, {x: 1}, [q]]
      merged: {<<: {x: 1, p: 2}, z: 3}
      """)
    #expect(spareCapacity(value) == [])
    // The shrinking keeps order and content.
    #expect(value["seventeen"]?.mapping?.keys == (1...17).map { "k\($0)" })
    #expect(value["merged"]?.mapping?.keys == ["x", "p", "z"])
    #expect(value["five"] == ["a", "b", "c", ["x": 1], ["q"]])
  }

  @Test func filesAreReadWholeWhateverTheirSize() throws {
    let directory = try TemporaryDirectory("fleetyaml-read")
    defer { directory.remove() }
    // Around the first read's size (the file's plus one byte) and the 4 KiB floor.
    for size in [0, 1, 4095, 4096, 4097, 100_003] {
      let text = String(repeating: "a", count: size)
      let path = try directory.write("f\(size).yaml", text)
      #expect(try YAML.read(path: path).bytes == Array(text.utf8))
    }
    let path = try directory.write("big.yaml", String(repeating: "b", count: 11))
    #expect {
      try YAML.read(path: path, limits: YAML.Limits(maxBytes: 10))
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: \(path): file is 11 bytes, more than the limit of 10"
    }
  }

  @Test func aTreeLoadedWithoutItsTextStillQuotesItsLines() throws {
    let directory = try TemporaryDirectory("fleetyaml-ondisk")
    defer { directory.remove() }
    let path = try directory.write("values.yaml", "a: 1\nb:\n  c: [x, z]\n")
    let value = try YAML.load(path: path, keepingText: false)
    #expect(value == ["a": 1, "b": ["c": ["x", "z"]]])
    let mark = try #require(value["b"]?["c"]?.mark)
    #expect(mark.file.bytes.isEmpty)
    #expect(mark.description == "\(path):3:6")
    #expect(mark.file.line(3) == "  c: [x, z]")
    // Every kind of failure reads the same, snippet included, as with the text kept: a
    // syntax error, a bad byte (located by offset), a limit.
    let inputs: [[UInt8]] = [
      Array("a: 1\n  b: 2\n".utf8), Array("a: [1, 2\n".utf8), Array("a: 1\nb: x".utf8) + [0xFF],
      Array(repeating: UInt8(ascii: "a"), count: 100),
    ]
    for (i, bytes) in inputs.enumerated() {
      let path = directory.path + "/bad\(i).yaml"
      #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
      let limits = YAML.Limits(maxBytes: 64)
      func failure(keepingText: Bool) -> String {
        do {
          _ = try YAML.load(path: path, limits: limits, keepingText: keepingText)
          return "parsed"
        } catch {
          return error.description
        }
      }
      #expect(failure(keepingText: false) != "parsed")
      #expect(failure(keepingText: false) == failure(keepingText: true))
    }
  }

  /// A tree whose YAML is several of libyaml's 16 KiB output buffers.
  let large: Value = .mapping(
    Mapping(
      (0..<2000).map {
        Mapping.Entry(
          key: "service-\($0)", value: ["replicas": 3, "note": "yes", "list": [1, nil]])
      }))

  @Test func streamedEmissionIsTheSameTextInPieces() throws {
    var chunks: [[UInt8]] = []
    YAML.emit(large) { chunks.append(Array($0)) }
    #expect(chunks.count > 2)
    #expect(String(decoding: chunks.joined(), as: UTF8.self) == YAML.emit(large))
  }

  struct DiskFull: Error, Equatable {}

  @Test func aFailingWriterStopsTheEmissionWithItsError() {
    var calls = 0
    #expect(throws: DiskFull()) {
      try YAML.emit(large) { (_) throws(DiskFull) in
        calls += 1
        throw DiskFull()
      }
    }
    #expect(calls == 1)
  }

  /// Marks are packed into the nodes (a key's mark beside its value's); a duplicate down a
  /// file still quotes both places exactly, the first through its entry's key mark.
  @Test func packedMarksStillLocateADuplicateKey() {
    let services = (1...2_000).map { "  s\($0): {port: \($0)}" }.joined(separator: "\n")
    let text = "services:\n\(services)\n  s1999:   {port: 1}\n"
    #expect {
      try YAML.parse(text, path: "values.yaml")
    } throws: { error in
      (error as? Diagnostic)?.description == """
        values.yaml:2002:3: error: duplicate key 's1999' in mapping
              s1999:   {port: 1}
              ^
        values.yaml:2000:3: note: 's1999' was first defined here
              s1999: {port: 1999}
              ^
        """
    }
  }
}
