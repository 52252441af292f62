// SHA-256 computed while a message is produced: the same digest as the message whole.
import FleetCore
import Testing

@Suite struct DigestTests {
  @Test func aHasherFedInPiecesGivesTheDigestOfTheWhole() {
    let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    // Pieces that end inside, at and across the 64-byte blocks.
    for size in [1, 55, 56, 63, 64, 65, 200, 1000] {
      var hasher = SHA256.Hasher()
      var start = 0
      while start < message.count {
        let end = min(start + size, message.count)
        hasher.update(message[start..<end])
        start = end
      }
      #expect(hasher.hex() == SHA256.hex(message), "pieces of \(size)")
    }
    var abc = SHA256.Hasher()
    abc.update("a".utf8)
    abc.update("bc".utf8)
    #expect(abc.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  }

  @Test func theJSONDigestHashesTheTextTheWriterWrites() {
    // Several times the 64 KiB the writer keeps before handing text to the hasher.
    var mapping = Mapping()
    for i in (0..<5000).reversed() {
      mapping.append(
        "key-\(i)", ["n": .int(Int64(i)), "s": .string("<text \(i)>\n"), "l": [true, nil, 0.5]])
    }
    let value = Value.mapping(mapping)
    for options in [
      JSONWriter.Options(), JSONWriter.Options(sortedKeys: true),
      JSONWriter.Options(pretty: true, sortedKeys: true),
    ] {
      #expect(JSONWriter.bytes(value, options: options).count > 4 << 16)
      #expect(
        JSONWriter.sha256(value, options: options)
          == SHA256.hex(JSONWriter.bytes(value, options: options)))
    }
  }
}
