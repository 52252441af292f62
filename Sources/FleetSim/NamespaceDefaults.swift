// What the controller manager puts in every namespace as soon as it exists: the `default`
// ServiceAccount (serviceaccounts-controller) and the `kube-root-ca.crt` ConfigMap holding the
// cluster's CA (root-ca-cert-publisher). fleet-sim adds them in the same write as the namespace.
import FleetCore

enum NamespaceDefaults {
  /// The annotation the root CA publisher sets on `kube-root-ca.crt`.
  static let description =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    + "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    + "guaranteed across distributions of Kubernetes clusters."

  /// The objects a new namespace gets; `caBundle` is the PEM of the emulator's CA (empty when
  /// it serves plain HTTP only and has no CA).
  static func objects(namespace: String, caBundle: String) -> [(ResourceType, Value)] {
    var result: [(ResourceType, Value)] = []
    if let accounts = ResourceCatalog.find(apiVersion: "v1", kind: "ServiceAccount") {
      result.append(
        (
          accounts,
          [
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": ["name": "default", "namespace": .string(namespace)],
          ]
        ))
    }
    if let configMaps = ResourceCatalog.find(apiVersion: "v1", kind: "ConfigMap") {
      result.append(
        (
          configMaps,
          [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": [
              "name": "kube-root-ca.crt", "namespace": .string(namespace),
              "annotations": ["kubernetes.io/description": .string(description)],
            ],
            "data": ["ca.crt": .string(caBundle)],
          ]
        ))
    }
    return result
  }
}
