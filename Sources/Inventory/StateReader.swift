// The fleet file's `state:` block: the home cluster that keeps the fleet's runs.
import FleetCore
import FleetYAML
import Foundation

enum StateReader {
  /// `state: {context: CONTEXT, namespace: NAMESPACE}`; nil (and located errors) when wrong.
  static func read(_ value: Value, _ diagnostics: inout Diagnostics) -> FleetStateHome? {
    guard
      let fields = Fields.open(
        value, as: "state", allowed: ["context", "namespace"], &diagnostics)
    else { return nil }
    let context = fields.requiredText("context", &diagnostics)
    let namespace = fields.requiredText("namespace", &diagnostics)
    if let context, context.isEmpty {
      diagnostics.error(
        "'context' in state must name a kubeconfig context", at: fields.mark(of: "context"))
      return nil
    }
    if let namespace, !FleetStateHome.isNamespaceName(namespace) {
      diagnostics.error(
        "'namespace' in state must be a namespace name (1-63 lowercase letters, digits and "
          + "'-', alphanumeric at both ends), found '\(namespace)'",
        at: fields.mark(of: "namespace"))
      return nil
    }
    guard let context, let namespace else { return nil }
    return FleetStateHome(context: context, namespace: namespace)
  }
}

extension FleetLoader {
  /// The `state:` block of the fleet at `directory` alone, for the verbs that find runs
  /// without loading the whole fleet (`status --fleet DIR`); nil when the file has none.
  public static func stateHome(directory: String) throws(DiagnosticError) -> FleetStateHome? {
    let (_, fleetFile) = try locate(directory)
    let document: Value
    do {
      document = try YAML.parse(try YAML.read(path: fleetFile))
    } catch {
      throw DiagnosticError([error])
    }
    guard let value = document["state"] else { return nil }
    var diagnostics = Diagnostics()
    let home = StateReader.read(value, &diagnostics)
    if diagnostics.hasErrors { throw DiagnosticError(diagnostics.all) }
    return home
  }
}
