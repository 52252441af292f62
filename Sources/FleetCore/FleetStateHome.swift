// Where a fleet's runs are kept when its fleet file names a home cluster (`state:`).

/// `state: {context: CONTEXT, namespace: NAMESPACE}` in fleet.yaml: the runs live in that
/// namespace of the cluster the kubeconfig context reaches, as `--state kube://CONTEXT/NAMESPACE`
/// would say. `--state` and `$FLEETWAVE_STATE` win over it.
public struct FleetStateHome: Sendable, Equatable {
  public var context: String
  public var namespace: String

  public init(context: String, namespace: String) {
    self.context = context
    self.namespace = namespace
  }

  /// The `--state` spelling of the same place.
  public var location: String { "kube://\(context)/\(namespace)" }

  /// A DNS label, as namespace names are: 1-63 of [a-z0-9-], alphanumeric at both ends.
  public static func isNamespaceName(_ name: some StringProtocol) -> Bool {
    let bytes = Array(name.utf8)
    let alphanumeric = { (b: UInt8) in (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) }
    guard let first = bytes.first, let last = bytes.last, bytes.count <= 63,
      alphanumeric(first), alphanumeric(last)
    else { return false }
    return bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
  }
}
