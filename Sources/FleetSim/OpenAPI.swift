// The OpenAPI v3 documents kubectl reads before it writes: just enough for it to see that every
// type accepts `fieldValidation` (so validation happens on the server) and which kind each path is.
import FleetCore

enum OpenAPI {
  /// Bumped whenever the documents change, so clients' disk caches (keyed by hash) refresh.
  static let hash = "fleetsim-1"

  static func root(prefix: String) -> Value {
    var paths = Mapping()
    var versions = ["v1"]
    versions += ResourceCatalog.groupVersions.map { "\($0.group)/\($0.version)" }
    for apiVersion in versions {
      let key = apiVersion == "v1" ? "api/v1" : "apis/\(apiVersion)"
      paths[key] = ["serverRelativeURL": .string("\(prefix)/openapi/v3/\(key)?hash=\(hash)")]
    }
    return ["paths": .mapping(paths)]
  }

  static func document(apiVersion: String) -> Value? {
    document(
      apiVersion: apiVersion, types: ResourceCatalog.all.filter { $0.apiVersion == apiVersion })
  }

  /// The document of one group version serving `types` (custom types too).
  static func document(apiVersion: String, types: [ResourceType]) -> Value? {
    guard !types.isEmpty else { return nil }
    let base = apiVersion == "v1" ? "/api/v1" : "/apis/\(apiVersion)"
    let queryParameters: [Value] = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]
      .map {
        ["name": .string($0), "in": "query", "schema": ["type": "string", "uniqueItems": true]]
      }
    var paths = Mapping()
    for type in types {
      let gvk: Value = [
        "group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind),
      ]
      let ok: Value = ["200": ["description": "OK"]]
      func operation(_ action: String, _ parameters: [Value]) -> Value {
        [
          "operationId": .string(action + type.kind), "parameters": .sequence(parameters),
          "responses": ok, "x-kubernetes-action": .string(action),
          "x-kubernetes-group-version-kind": gvk,
        ]
      }
      let collection =
        type.namespaced
        ? "\(base)/namespaces/{namespace}/\(type.plural)" : "\(base)/\(type.plural)"
      paths[collection] = [
        "get": operation("list", []), "post": operation("post", queryParameters),
      ]
      paths[collection + "/{name}"] = [
        "get": operation("get", []), "put": operation("put", queryParameters),
        "patch": operation("patch", queryParameters), "delete": operation("delete", []),
      ]
    }
    return [
      "openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"],
      "paths": .mapping(paths), "components": ["schemas": [:]],
    ]
  }
}
