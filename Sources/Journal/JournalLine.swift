// A journal record as one line of bytes: how every backend stores records.
import FleetCore

/// `CRC32 JSON\n`: the CRC-32 of the JSON in eight hex digits, a space, the record as JSON.
/// The local journal is a file of these lines; the kube backend keeps the same lines in its
/// chunk objects, so one reader checks both.
public enum JournalLine {
  public static func encode(_ record: JournalRecord) -> [UInt8] {
    let json = JSONWriter.bytes(RecordCoding.encode(record))
    let crc = String(CRC32.checksum(json), radix: 16)
    return Array((String(repeating: "0", count: 8 - crc.count) + crc + " ").utf8) + json + [0x0A]
  }

  /// The record of one line (without its newline); nil when its checksum or format is wrong.
  public static func decode(_ line: ArraySlice<UInt8>) -> JournalRecord? {
    guard line.count > 9, line[line.startIndex + 8] == UInt8(ascii: " "),
      let crc = UInt32(String(decoding: line.prefix(8), as: UTF8.self), radix: 16)
    else { return nil }
    let json = line.dropFirst(9)
    guard CRC32.checksum(json) == crc, let value = try? JSONReader.parse(Array(json)) else {
      return nil
    }
    return RecordCoding.decode(value)
  }
}
