// Failures answered as Kubernetes `Status` objects, worded as the real API server words them.
import FleetCore

/// A request failure with its HTTP code, `reason` and message; rendered as a `Status` body.
public struct APIError: Error, Sendable, Equatable {
  public var code: Int
  public var reason: String
  public var message: String
  public var details: Value?
  /// Extra response headers (Retry-After).
  public var headers: [(String, String)] = []

  public init(code: Int, reason: String, message: String, details: Value? = nil) {
    self.code = code
    self.reason = reason
    self.message = message
    self.details = details
  }

  public static func == (a: APIError, b: APIError) -> Bool {
    a.code == b.code && a.reason == b.reason && a.message == b.message
  }

  static func notFound(_ type: ResourceType, _ name: String) -> APIError {
    APIError(
      code: 404, reason: "NotFound", message: "\(type.qualifiedName) \"\(name)\" not found",
      details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)])
  }

  static let unknownPath = APIError(
    code: 404, reason: "NotFound", message: "the server could not find the requested resource",
    details: [:])

  static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
    APIError(
      code: 409, reason: "AlreadyExists",
      message: "\(type.qualifiedName) \"\(name)\" already exists",
      details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)])
  }

  static func conflict(_ type: ResourceType, _ name: String) -> APIError {
    APIError(
      code: 409, reason: "Conflict",
      message: "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": the object "
        + "has been modified; please apply your changes to the latest version and try again",
      details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)])
  }

  static func badRequest(_ message: String) -> APIError {
    APIError(code: 400, reason: "BadRequest", message: message)
  }

  static func invalid(_ type: ResourceType, _ name: String, _ field: String, _ detail: String)
    -> APIError
  {
    APIError(
      code: 422, reason: "Invalid",
      message: "\(type.kind) \"\(name)\" is invalid: \(field): \(detail)",
      details: [
        "name": .string(name), "group": .string(type.group), "kind": .string(type.kind),
        "causes": [
          ["reason": "FieldValueInvalid", "message": .string(detail), "field": .string(field)]
        ],
      ])
  }

  static func methodNotAllowed(_ method: String) -> APIError {
    APIError(
      code: 405, reason: "MethodNotAllowed",
      message: "the server does not allow this method on the requested resource")
  }

  /// 415, listing the media types the verb accepts, as the server does.
  static func unsupportedMediaType(accepted: [String]) -> APIError {
    APIError(
      code: 415, reason: "UnsupportedMediaType",
      message: "the body of the request was in an unknown format - accepted media types include: "
        + accepted.joined(separator: ", "))
  }

  /// What create, update and delete bodies may be sent as.
  static let objectMediaTypes = [
    "application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
  ]

  /// What a patch may be sent as.
  static let patchMediaTypes = [
    "application/json-patch+json", "application/merge-patch+json",
    "application/apply-patch+yaml", "application/strategic-merge-patch+json",
  ]

  static let tooLarge = APIError(
    code: 413, reason: "RequestEntityTooLarge", message: "the request is too large")

  static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

  static func namespaceNotFound(_ name: String) -> APIError {
    APIError(
      code: 404, reason: "NotFound", message: "namespaces \"\(name)\" not found",
      details: ["name": .string(name), "kind": "namespaces"])
  }

  /// The Kubernetes `Status` object for this failure.
  public var status: Value {
    var mapping = Mapping()
    mapping["kind"] = "Status"
    mapping["apiVersion"] = "v1"
    mapping["metadata"] = [:]
    mapping["status"] = "Failure"
    mapping["message"] = .string(message)
    mapping["reason"] = .string(reason)
    if let details { mapping["details"] = details }
    mapping["code"] = .int(Int64(code))
    return .mapping(mapping)
  }
}
