// Kubernetes protobuf request bodies for the few objects kubectl sends that way (`kubectl create
// namespace|configmap|secret`): the `k8s\0` envelope and a field table per message.
import FleetCore
import Foundation

enum ProtobufBody {
  struct Unsupported: Error {
    var kind: String
  }

  indirect enum Field {
    case string, int, bool, stringList, stringMap, bytesMap, time
    case message([Int: (String, Field)])
  }

  static let time: [Int: (String, Field)] = [:]

  static let objectMeta: [Int: (String, Field)] = [
    1: ("name", .string), 2: ("generateName", .string), 3: ("namespace", .string),
    5: ("uid", .string), 6: ("resourceVersion", .string), 7: ("generation", .int),
    11: ("labels", .stringMap), 12: ("annotations", .stringMap), 14: ("finalizers", .stringList),
  ]

  static let kinds: [String: [Int: (String, Field)]] = [
    "Namespace": [
      1: ("metadata", .message(objectMeta)),
      2: ("spec", .message([1: ("finalizers", .stringList)])),
    ],
    "ConfigMap": [
      1: ("metadata", .message(objectMeta)), 2: ("data", .stringMap), 3: ("binaryData", .bytesMap),
      4: ("immutable", .bool),
    ],
    "Secret": [
      1: ("metadata", .message(objectMeta)), 2: ("data", .bytesMap), 3: ("type", .string),
      4: ("stringData", .stringMap), 5: ("immutable", .bool),
    ],
    "ServiceAccount": [1: ("metadata", .message(objectMeta))],
  ]

  /// Decodes an enveloped object into the JSON shape; throws `Unsupported` for other kinds.
  static func decode(_ bytes: [UInt8]) throws -> Value {
    let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]
    guard bytes.count > 4, Array(bytes[0..<4]) == magic else { throw Unsupported(kind: "") }
    let unknown = try fields(ArraySlice(bytes[4...]))
    var apiVersion = ""
    var kind = ""
    var raw: ArraySlice<UInt8> = []
    for (number, payload) in unknown {
      guard case .bytes(let data) = payload else { continue }
      if number == 1 {
        for (inner, value) in try fields(data) {
          guard case .bytes(let text) = value else { continue }
          if inner == 1 { apiVersion = String(decoding: text, as: UTF8.self) }
          if inner == 2 { kind = String(decoding: text, as: UTF8.self) }
        }
      } else if number == 2 {
        raw = data
      }
    }
    guard let schema = kinds[kind] else { throw Unsupported(kind: kind) }
    var object = try message(raw, schema)
    object.set(["apiVersion"], .string(apiVersion))
    object.set(["kind"], .string(kind))
    return object
  }

  private enum Payload {
    case varint(UInt64)
    case bytes(ArraySlice<UInt8>)
  }

  struct Malformed: Error {}

  private static func fields(_ data: ArraySlice<UInt8>) throws -> [(Int, Payload)] {
    var result: [(Int, Payload)] = []
    var index = data.startIndex
    func varint() throws -> UInt64 {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while index < data.endIndex {
        let byte = data[index]
        index += 1
        value |= UInt64(byte & 0x7f) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
        if shift > 63 { throw Malformed() }
      }
      throw Malformed()
    }
    while index < data.endIndex {
      let tag = try varint()
      let number = Int(tag >> 3)
      switch tag & 7 {
      case 0: result.append((number, .varint(try varint())))
      case 2:
        let length = Int(try varint())
        guard length >= 0, index + length <= data.endIndex else { throw Malformed() }
        result.append((number, .bytes(data[index..<index + length])))
        index += length
      case 1: index += 8
      case 5: index += 4
      default: throw Malformed()
      }
    }
    return result
  }

  private static func message(_ data: ArraySlice<UInt8>, _ schema: [Int: (String, Field)]) throws
    -> Value
  {
    var mapping = Mapping()
    for (number, payload) in try fields(data) {
      guard let (name, field) = schema[number] else { continue }
      switch (field, payload) {
      // Go's protobuf writes empty strings and zeros; JSON omits them, and so do we.
      case (.string, .bytes(let text)) where !text.isEmpty:
        mapping[name] = .string(String(decoding: text, as: UTF8.self))
      case (.int, .varint(let v)) where v != 0: mapping[name] = .int(Int64(bitPattern: v))
      case (.bool, .varint(let v)) where v != 0: mapping[name] = .bool(true)
      case (.stringList, .bytes(let text)):
        let items = mapping[name]?.sequence ?? []
        mapping[name] = .sequence(items + [.string(String(decoding: text, as: UTF8.self))])
      case (.stringMap, .bytes(let entry)), (.bytesMap, .bytes(let entry)):
        var key = ""
        var value: ArraySlice<UInt8> = []
        for (n, p) in try fields(entry) {
          guard case .bytes(let b) = p else { continue }
          if n == 1 { key = String(decoding: b, as: UTF8.self) } else if n == 2 { value = b }
        }
        var map = mapping[name]?.mapping ?? Mapping()
        if case .bytesMap = field {
          map[key] = .string(Data(value).base64EncodedString())
        } else {
          map[key] = .string(String(decoding: value, as: UTF8.self))
        }
        mapping[name] = .mapping(map)
      case (.message(let inner), .bytes(let nested)): mapping[name] = try message(nested, inner)
      default: continue
      }
    }
    return .mapping(mapping)
  }
}
