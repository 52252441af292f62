// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`): the `k8s\0`
// envelope around a runtime.Unknown, and a small decoder of the protobuf wire format that turns
// a message into the object's JSON shape, driven by one field table per message
// (ProtobufSchemas.swift). kubectl 1.32 sends `create` bodies this way and helm sends
// DeleteOptions this way; everything else arrives as JSON.
import FleetCore
import Foundation

/// A protobuf message: field number to the JSON name and how the field's bytes read.
typealias ProtobufMessage = [Int: (name: String, field: ProtobufBody.Field)]

enum ProtobufBody {
  /// How one field's wire value maps to JSON. Go value fields (`string`, `int`, `bool`) are
  /// always written by the generated marshaller, zero or not, while JSON omits their zero
  /// values; Go pointer fields (`optional...`) are written only when set, so zero is a value.
  indirect enum Field: Sendable {
    case string, int, bool
    case optionalString, optionalInt, optionalBool
    /// `repeated string`, `repeated int64` (packed or not).
    case strings, ints
    /// `map<string, string>`, `map<string, bytes>` (JSON carries base64), `map<string, Quantity>`.
    case stringMap, bytesMap, quantityMap
    /// intstr.IntOrString, resource.Quantity, metav1.Time and MicroTime.
    case intOrString, quantity, time
    case message(ProtobufMessage)
    case messages(ProtobufMessage)
    /// A Go embedded struct: its fields appear in the parent's JSON object.
    case inline(ProtobufMessage)
    /// Read and dropped: what the server fills itself (status, managedFields).
    case ignored
  }

  /// Why a protobuf body cannot be read. `unsupportedKind` is answered 415 (send another media
  /// type); the others are 400.
  enum Failure: Error, Equatable {
    case notEnveloped
    case unsupportedKind(apiVersion: String, kind: String)
    case malformed(String)
    case unknownField(message: String, number: Int)

    var message: String {
      switch self {
      case .notEnveloped:
        return "the protobuf body does not start with the Kubernetes envelope (k8s\\x00)"
      case .unsupportedKind(let apiVersion, let kind):
        return "fleet-sim does not decode \(kind) (\(apiVersion)) from protobuf"
      case .malformed(let path): return "the protobuf body is malformed at \(path)"
      case .unknownField(let message, let number):
        // Dropping a field silently would store a different object than the client sent.
        return "fleet-sim does not decode protobuf field \(number) of \(message); "
          + "send the object as JSON"
      }
    }
  }

  static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]

  /// Decodes an enveloped object into its JSON shape, with `apiVersion` and `kind` set.
  static func decode(_ bytes: [UInt8]) throws(Failure) -> Value {
    guard bytes.count >= 4, Array(bytes[0..<4]) == magic else { throw .notEnveloped }
    // runtime.Unknown: typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3,
    // contentType=4.
    var apiVersion = ""
    var kind = ""
    var raw: ArraySlice<UInt8> = []
    for (number, payload) in try fields(bytes[4...], at: "Unknown") {
      guard case .bytes(let data) = payload else { continue }
      if number == 1 {
        for (inner, value) in try fields(data, at: "Unknown.typeMeta") {
          guard case .bytes(let text) = value else { continue }
          if inner == 1 { apiVersion = String(decoding: text, as: UTF8.self) }
          if inner == 2 { kind = String(decoding: text, as: UTF8.self) }
        }
      } else if number == 2 {
        raw = data
      }
    }
    guard let schema = ProtobufSchemas.message(apiVersion: apiVersion, kind: kind) else {
      throw .unsupportedKind(apiVersion: apiVersion, kind: kind)
    }
    var object = try message(raw, schema, at: kind)
    object.set(["apiVersion"], .string(apiVersion))
    object.set(["kind"], .string(kind))
    return object
  }

  enum Payload {
    case varint(UInt64)
    case bytes(ArraySlice<UInt8>)
  }

  /// The fields of one message in wire order; fixed-width fields (no Kubernetes type this
  /// decoder reads uses them) are skipped.
  static func fields(_ data: ArraySlice<UInt8>, at path: String) throws(Failure) -> [(
    Int, Payload
  )] {
    var result: [(Int, Payload)] = []
    var index = data.startIndex
    func varint() throws(Failure) -> UInt64 {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while index < data.endIndex {
        let byte = data[index]
        index += 1
        value |= UInt64(byte & 0x7f) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
        if shift > 63 { throw .malformed(path) }
      }
      throw .malformed(path)
    }
    while index < data.endIndex {
      let tag = try varint()
      let number = Int(tag >> 3)
      switch tag & 7 {
      case 0: result.append((number, .varint(try varint())))
      case 2:
        let length = try varint()
        guard length <= UInt64(data.endIndex - index) else { throw .malformed(path) }
        let end = index + Int(length)
        result.append((number, .bytes(data[index..<end])))
        index = end
      case 1, 5:
        let width = tag & 7 == 1 ? 8 : 4
        guard data.endIndex - index >= width else { throw .malformed(path) }
        index += width
      default: throw .malformed(path)
      }
    }
    return result
  }

  static func message(_ data: ArraySlice<UInt8>, _ schema: ProtobufMessage, at path: String)
    throws(Failure) -> Value
  {
    var mapping = Mapping()
    try read(data, schema, at: path, into: &mapping)
    return .mapping(mapping)
  }

  private static func read(
    _ data: ArraySlice<UInt8>, _ schema: ProtobufMessage, at path: String,
    into mapping: inout Mapping
  ) throws(Failure) {
    for (number, payload) in try fields(data, at: path) {
      guard let (name, field) = schema[number] else {
        throw .unknownField(message: path, number: number)
      }
      let here = "\(path).\(name)"
      switch (field, payload) {
      case (.ignored, _): continue
      case (.string, .bytes(let text)) where !text.isEmpty: mapping[name] = .string(utf8(text))
      case (.string, _): continue
      case (.optionalString, .bytes(let text)): mapping[name] = .string(utf8(text))
      case (.int, .varint(let v)) where v != 0: mapping[name] = .int(Int64(bitPattern: v))
      case (.int, .varint): continue
      case (.optionalInt, .varint(let v)): mapping[name] = .int(Int64(bitPattern: v))
      case (.bool, .varint(let v)) where v != 0: mapping[name] = .bool(true)
      case (.bool, .varint): continue
      case (.optionalBool, .varint(let v)): mapping[name] = .bool(v != 0)
      case (.strings, .bytes(let text)):
        mapping[name] = .sequence((mapping[name]?.sequence ?? []) + [.string(utf8(text))])
      case (.ints, .varint(let v)):
        mapping[name] = .sequence((mapping[name]?.sequence ?? []) + [.int(Int64(bitPattern: v))])
      case (.ints, .bytes(let packed)):
        var items = mapping[name]?.sequence ?? []
        var index = packed.startIndex
        while index < packed.endIndex {
          var value: UInt64 = 0
          var shift: UInt64 = 0
          while true {
            guard index < packed.endIndex, shift <= 63 else { throw .malformed(here) }
            let byte = packed[index]
            index += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
          }
          items.append(.int(Int64(bitPattern: value)))
        }
        mapping[name] = .sequence(items)
      case (.stringMap, .bytes(let entry)), (.bytesMap, .bytes(let entry)),
        (.quantityMap, .bytes(let entry)):
        var key = ""
        var value: ArraySlice<UInt8> = []
        for (n, p) in try fields(entry, at: here) {
          guard case .bytes(let b) = p else { continue }
          if n == 1 { key = utf8(b) } else if n == 2 { value = b }
        }
        var map = mapping[name]?.mapping ?? Mapping()
        switch field {
        case .bytesMap: map[key] = .string(Data(value).base64EncodedString())
        case .quantityMap: map[key] = try quantity(value, at: here)
        default: map[key] = .string(utf8(value))
        }
        mapping[name] = .mapping(map)
      case (.intOrString, .bytes(let data)):
        // IntOrString: type=1 (0 int, 1 string), intVal=2, strVal=3.
        var isString = false
        var number: Int64 = 0
        var text = ""
        for (n, p) in try fields(data, at: here) {
          switch (n, p) {
          case (1, .varint(let v)): isString = v == 1
          case (2, .varint(let v)): number = Int64(Int32(truncatingIfNeeded: v))
          case (3, .bytes(let b)): text = utf8(b)
          default: continue
          }
        }
        mapping[name] = isString ? .string(text) : .int(number)
      case (.quantity, .bytes(let data)): mapping[name] = try quantity(data, at: here)
      case (.time, .bytes(let data)):
        // Time and MicroTime: seconds=1, nanos=2. The zero time is JSON's null: omitted.
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        for (n, p) in try fields(data, at: here) {
          guard case .varint(let v) = p else { continue }
          if n == 1 { seconds = Int64(bitPattern: v) } else if n == 2 { nanos = Int64(v) }
        }
        guard seconds != 0 || nanos != 0 else { continue }
        let date = Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
        mapping[name] = .string(KubeTime.format(date))
      case (.message(let inner), .bytes(let nested)):
        mapping[name] = try message(nested, inner, at: here)
      case (.messages(let inner), .bytes(let nested)):
        let item = try message(nested, inner, at: here)
        mapping[name] = .sequence((mapping[name]?.sequence ?? []) + [item])
      case (.inline(let inner), .bytes(let nested)):
        try read(nested, inner, at: path, into: &mapping)
      default: throw .malformed(here)
      }
    }
  }

  /// resource.Quantity: string=1, as its canonical text.
  private static func quantity(_ data: ArraySlice<UInt8>, at path: String) throws(Failure)
    -> Value
  {
    for (n, p) in try fields(data, at: path) {
      if n == 1, case .bytes(let b) = p { return .string(utf8(b)) }
    }
    return "0"
  }

  private static func utf8(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes, as: UTF8.self)
  }
}
