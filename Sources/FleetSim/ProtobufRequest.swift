// How the API answers a body's media type: protobuf bodies decoded, unknown media types 415.
import FleetCore

enum ProtobufRequest {
  /// The object in a protobuf body; a kind without field tables is 415 (the client may retry
  /// as JSON), a body that cannot be read is 400.
  static func decode(_ bytes: [UInt8]) throws(APIError) -> Value {
    do {
      return try ProtobufBody.decode(bytes)
    } catch .unsupportedKind(let apiVersion, let kind) {
      var failure = APIError.unsupportedMediaType(
        accepted: APIError.objectMediaTypes.filter { !$0.contains("protobuf") })
      failure.message +=
        " (\(ProtobufBody.Failure.unsupportedKind(apiVersion: apiVersion, kind: kind).message))"
      throw failure
    } catch {
      throw APIError.badRequest(error.message)
    }
  }

  /// Create, update and delete bodies must be JSON, YAML or protobuf; a patch's media type is
  /// checked by the patch route. A missing Content-Type is read as JSON.
  static func checkMediaType(_ request: APIRequest) throws(APIError) {
    let type = request.contentType
    guard request.method != "PATCH", !type.isEmpty else { return }
    guard APIError.objectMediaTypes.contains(type) else {
      throw APIError.unsupportedMediaType(accepted: APIError.objectMediaTypes)
    }
  }
}
