// Unknown fields in the JSON and YAML bodies of the built-in kinds, found by walking the object
// against the protobuf field tables (ProtobufSchemas: the one list of the fields each message
// has) and handled as the request's `fieldValidation` asks, with the API server's wording:
// https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
import FleetCore

/// What the client asked the server to do with unknown fields.
enum FieldValidationMode {
  /// Refuse the request (kubectl's default for create, replace and apply).
  case strict
  /// Drop the fields and say so in one `Warning` header each: the server's default when the
  /// parameter is absent (k8s.io/apiserver's handlers: `fieldValidation` defaults to Warn).
  case warn
  /// Drop the fields silently (`kubectl --validate=false`).
  case ignore

  init(_ request: APIRequest) {
    switch request.query["fieldValidation"] {
    case "Strict": self = .strict
    case "Ignore": self = .ignore
    default: self = .warn
    }
  }
}

/// One field of a body that its kind does not have.
struct UnknownField: Equatable {
  /// As the Go strict decoder names it: `spec.template.spec.containers[0].imagee`.
  var path: String
  /// As server-side apply's typed conversion names it:
  /// `.spec.template.spec.containers[name="web"].imagee`.
  var applyPath: String
}

struct KnownFields {
  /// The object without the fields its kind's message does not have, and those fields in
  /// document order. `apiVersion` and `kind` are every object's. A field whose table entry is
  /// `ignored` (status, and parts fleet-sim does not model field by field) is kept unchecked.
  /// With `firstPerObject`, an object's walk stops at its first unknown field, as
  /// structured-merge-diff's typed conversion does (fields after it go unvisited).
  /// `badQuantity` is the Go decoder's complaint about the first resource quantity that does
  /// not parse, which fails the decoding before unknown fields are considered.
  static func pruned(_ object: Value, _ message: ProtobufMessage, firstPerObject: Bool = false)
    -> (object: Value, unknown: [UnknownField], badQuantity: String?)
  {
    var walker = KnownFields(firstPerObject: firstPerObject)
    let result = walker.walk(object, message, path: "", applyPath: "", top: true)
    return (result, walker.unknown, walker.badQuantity)
  }

  private let firstPerObject: Bool
  private var unknown: [UnknownField] = []
  private var badQuantity: String?

  private init(firstPerObject: Bool) { self.firstPerObject = firstPerObject }

  private mutating func walk(
    _ value: Value, _ message: ProtobufMessage, path: String, applyPath: String, top: Bool
  ) -> Value {
    guard var mapping = value.mapping else { return value }
    let before = unknown.count
    for entry in mapping {
      let name = entry.key
      if top, name == "apiVersion" || name == "kind" { continue }
      let here = path.isEmpty ? name : "\(path).\(name)"
      guard let field = Self.field(name, in: message) else {
        mapping[name] = nil
        unknown.append(UnknownField(path: here, applyPath: "\(applyPath).\(name)"))
        if firstPerObject { break }
        continue
      }
      switch field {
      case .message(let inner):
        let count = unknown.count
        let walked = walk(
          entry.value, inner, path: here, applyPath: "\(applyPath).\(name)", top: false)
        if unknown.count != count { mapping[name] = walked }
      case .messages(let inner):
        guard let items = entry.value.sequence else { continue }
        let count = unknown.count
        var walked: [Value] = []
        for (index, item) in items.enumerated() {
          walked.append(
            walk(
              item, inner, path: "\(here)[\(index)]",
              applyPath: "\(applyPath).\(name)\(Self.itemKey(item, index))", top: false))
        }
        if unknown.count != count { mapping[name] = .sequence(walked) }
      case .quantity:
        checkQuantity(entry.value)
      case .quantityMap:
        for quantity in entry.value.mapping ?? Mapping() { checkQuantity(quantity.value) }
      default:
        continue
      }
    }
    return unknown.count == before ? value : .mapping(mapping)
  }

  private mutating func checkQuantity(_ value: Value) {
    guard badQuantity == nil, let text = value.string ?? value.scalarText else { return }
    badQuantity = QuantitySyntax.problem(text)
  }

  /// A list item as structured-merge-diff names it: by its `name` key where it has one (the
  /// merge key of containers, env, volumes, ports), else by position.
  private static func itemKey(_ item: Value, _ index: Int) -> String {
    if let name = item["name"]?.string { return "[name=\"\(name)\"]" }
    return "[\(index)]"
  }

  /// The field called `name` in the message or in a message embedded in it.
  private static func field(_ name: String, in message: ProtobufMessage) -> ProtobufBody.Field? {
    for entry in message.values {
      if case .inline(let inner) = entry.field {
        if let found = field(name, in: inner) { return found }
      } else if entry.name == name {
        return entry.field
      }
    }
    return nil
  }
}

/// Unknown-field handling for a write of a built-in kind, before any other rule sees the object.
enum FieldValidation {
  /// The object to go on with and the `Warning` headers to answer with. Protobuf bodies and
  /// subresources (whose bodies are other kinds) pass unchanged: the protobuf decoder already
  /// refuses fields its tables lack.
  static func admit(_ request: APIRequest, _ target: ResourceType, _ object: Value)
    throws(APIError) -> (object: Value, warnings: [(String, String)])
  {
    guard request.contentType != "application/vnd.kubernetes.protobuf",
      let message = ProtobufSchemas.message(apiVersion: target.apiVersion, kind: target.kind)
    else { return (object, []) }
    let (pruned, unknown, badQuantity) = KnownFields.pruned(object, message)
    if let badQuantity { throw decodingError(target, badQuantity) }
    guard !unknown.isEmpty else { return (object, []) }
    switch FieldValidationMode(request) {
    case .strict: throw strictDecodingError(target, unknown.map(\.path))
    case .warn: return (pruned, unknown.map { warning("unknown field \"\($0.path)\"") })
    case .ignore: return (pruned, [])
    }
  }

  /// Server-side apply converts the applied object to its typed form first, which fails on any
  /// unknown field whatever `fieldValidation` says (k8s.io/apiserver's fieldmanager: "failed to
  /// create typed patch object"); the error is a plain one, so the Status is a 500 without reason.
  static func admitApplied(
    _ request: APIRequest, _ target: ResourceType, namespace: String?, name: String,
    _ applied: Value
  ) throws(APIError) {
    guard let message = ProtobufSchemas.message(apiVersion: target.apiVersion, kind: target.kind)
    else { return }
    let unknown = KnownFields.pruned(applied, message, firstPerObject: true).unknown
    guard !unknown.isEmpty else { return }
    let errors = unknown.map { "\($0.applyPath): field not declared in schema" }
    let listed =
      errors.count == 1
      ? errors[0] : (["errors:"] + errors.map { "  " + $0 }).joined(separator: "\n")
    let groupVersion = target.group.isEmpty ? "/\(target.version)" : target.apiVersion
    throw APIError(
      code: 500, reason: "",
      message: "failed to create typed patch object (\(namespace ?? "")/\(name); "
        + "\(groupVersion), Kind=\(target.kind)): \(listed)")
  }

  /// The 400 of the strict decoder, for built-in and custom kinds alike.
  static func strictDecodingError(_ type: ResourceType, _ paths: [String]) -> APIError {
    decodingError(
      type,
      "strict decoding error: " + paths.map { "unknown field \"\($0)\"" }.joined(separator: ", "))
  }

  /// The 400 of a body the decoder could not turn into the kind.
  static func decodingError(_ type: ResourceType, _ problem: String) -> APIError {
    APIError.badRequest(
      "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): \(problem)")
  }

  /// A `Warning: 299 - "text"` header (RFC 7234's warn-text, quoted), as kubectl prints it.
  static func warning(_ text: String) -> (String, String) {
    var quoted = ""
    for character in text {
      if character == "\\" || character == "\"" { quoted.append("\\") }
      quoted.append(character)
    }
    return ("Warning", "299 - \"\(quoted)\"")
  }
}
