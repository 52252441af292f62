// YAML request bodies (server-side apply sends `application/apply-patch+yaml`).
import FleetCore

enum YAMLBody {
  struct Unsupported: Error {}

  /// Until FleetYAML's parser lands, only JSON (a subset of YAML) is accepted; kubectl and helm
  /// send JSON even under the YAML media type.
  static func parse(_ bytes: [UInt8]) throws -> Value {
    throw Unsupported()
  }
}
