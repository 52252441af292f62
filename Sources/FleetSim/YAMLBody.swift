// YAML request bodies (`application/apply-patch+yaml`, `application/yaml`) and faults files.
import FleetCore
import FleetYAML

enum YAMLBody {
  /// Small enough that a hostile body (deep nesting, alias bombs) is refused cheaply.
  static let limits = YAML.Limits(maxBytes: 3 << 20, maxDepth: 128, maxExpandedNodes: 200_000)

  static func parse(_ bytes: [UInt8], path: String = "request body") throws(Diagnostic) -> Value {
    try YAML.parse(SourceFile(path: path, bytes: bytes), limits: limits)
  }
}
