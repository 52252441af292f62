// The types a virtual cluster serves beyond the fixed catalog: one per served version of each
// established CustomResourceDefinition in its store, and the discovery and OpenAPI documents
// that include them. Read from the store on each request, so discovery follows CRDs live.
import FleetCore

/// `apiextensions.k8s.io/v1` CustomResourceDefinitions, and the custom types they define.
struct CustomResources {
  let store: ClusterStore

  /// The CustomResourceDefinition type itself (served by every cluster, as by a real server).
  static let definitionType = ResourceType(
    group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions", namespaced: false, shortNames: ["crd", "crds"],
    hasSpec: true, subresources: ["status"])

  /// One served version of an established CRD.
  struct Served {
    var type: ResourceType
    /// The CRD's `spec.versions[]` entry: schema, printer columns, subresources.
    var version: Value
    var definition: Value
  }

  /// The served versions of every established CRD, in name order.
  var served: [Served] {
    let (definitions, _) = store.list(
      WatchFilter(type: Self.definitionType, namespace: nil, selector: nil, name: nil))
    return definitions.filter(Self.isEstablished).flatMap { definition in
      (definition.at("spec", "versions")?.sequence ?? []).filter { $0["served"]?.bool ?? false }
        .compactMap { version in
          Self.type(definition, version).map {
            Served(type: $0, version: version, definition: definition)
          }
        }
    }
  }

  static func isEstablished(_ definition: Value) -> Bool {
    (definition.at("status", "conditions")?.sequence ?? []).contains {
      $0["type"]?.string == "Established" && $0["status"]?.string == "True"
    }
  }

  /// The type a CRD version defines. Short names and categories live in the CRD, not in the
  /// type: the type is the store's key and must not change when only those do.
  static func type(_ definition: Value, _ version: Value) -> ResourceType? {
    guard let group = definition.at("spec", "group")?.string,
      let kind = definition.at("spec", "names", "kind")?.string,
      let plural = definition.at("spec", "names", "plural")?.string,
      let name = version["name"]?.string
    else { return nil }
    let status = version.at("subresources", "status") != nil
    return ResourceType(
      group: group, version: name, kind: kind, plural: plural,
      namespaced: definition.at("spec", "scope")?.string != "Cluster", shortNames: [],
      hasSpec: true, subresources: status ? ["status"] : [])
  }

  func find(apiVersion: String, plural: String) -> ResourceType? {
    ResourceCatalog.find(apiVersion: apiVersion, plural: plural)
      ?? served.first { $0.type.apiVersion == apiVersion && $0.type.plural == plural }?.type
  }

  /// The served version a custom type belongs to; nil for the fixed catalog's types.
  func served(_ type: ResourceType) -> Served? {
    guard !ResourceCatalog.all.contains(type) else { return nil }
    return served.first { $0.type == type }
  }

  /// Custom group versions, in the order discovery lists them: groups by name, each group's
  /// versions in the CRD's order (the first is preferred, as the API server prefers the
  /// highest-priority version).
  private var customGroupVersions: [(group: String, versions: [String])] {
    var result: [(String, [String])] = []
    for entry in served {
      if let index = result.firstIndex(where: { $0.0 == entry.type.group }) {
        if !result[index].1.contains(entry.type.version) {
          result[index].1.append(entry.type.version)
        }
      } else {
        result.append((entry.type.group, [entry.type.version]))
      }
    }
    return result.sorted { $0.0 < $1.0 }
  }

  func servesGroupVersion(_ apiVersion: String) -> Bool {
    ResourceCatalog.servesGroupVersion(apiVersion)
      || served.contains { $0.type.apiVersion == apiVersion }
  }

  func groupList() -> Value {
    var list = ResourceCatalog.groupList()
    let builtIn = list["groups"]?.sequence ?? []
    list.set(
      ["groups"],
      .sequence(builtIn + customGroupVersions.map { ResourceCatalog.groupEntry($0, $1) }))
    return list
  }

  func group(_ name: String) -> Value? {
    if let group = ResourceCatalog.group(name) { return group }
    guard let entry = customGroupVersions.first(where: { $0.group == name }) else { return nil }
    var value = ResourceCatalog.groupEntry(entry.group, entry.versions)
    value.set(["kind"], "APIGroup")
    value.set(["apiVersion"], "v1")
    return value
  }

  func resourceList(apiVersion: String) -> Value? {
    if let list = ResourceCatalog.resourceList(apiVersion: apiVersion) { return list }
    let types = served.filter { $0.type.apiVersion == apiVersion }
    guard !types.isEmpty else { return nil }
    var resources: [Value] = []
    for entry in types {
      let names = entry.definition.at("status", "acceptedNames") ?? [:]
      var resource: Value = [
        "name": .string(entry.type.plural),
        "singularName": .string(names["singular"]?.string ?? entry.type.singular),
        "namespaced": .bool(entry.type.namespaced), "kind": .string(entry.type.kind),
        "verbs": .sequence(ResourceCatalog.verbs),
      ]
      if let short = names["shortNames"], !(short.sequence ?? []).isEmpty {
        resource.set(["shortNames"], short)
      }
      if let categories = names["categories"], !(categories.sequence ?? []).isEmpty {
        resource.set(["categories"], categories)
      }
      resources.append(resource)
      if entry.type.subresources.contains("status") {
        resources.append([
          "name": .string("\(entry.type.plural)/status"), "singularName": "",
          "namespaced": .bool(entry.type.namespaced), "kind": .string(entry.type.kind),
          "verbs": ["get", "patch", "update"],
        ])
      }
    }
    return [
      "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(apiVersion),
      "resources": .sequence(resources),
    ]
  }

  /// The OpenAPI v3 root with the custom group versions added, so kubectl finds the
  /// `fieldValidation` parameter for custom types too and leaves validation to the server.
  func openAPIRoot(prefix: String) -> Value {
    var root = OpenAPI.root(prefix: prefix)
    for (group, versions) in customGroupVersions {
      for version in versions {
        let key = "apis/\(group)/\(version)"
        root.set(
          ["paths", key],
          ["serverRelativeURL": .string("\(prefix)/openapi/v3/\(key)?hash=\(openAPIHash)")])
      }
    }
    return root
  }

  /// Changes with the served custom types, so kubectl's disk cache of the documents refreshes.
  private var openAPIHash: String {
    let revisions = served.compactMap {
      $0.definition.at("metadata", "resourceVersion")?.string.flatMap { Int64($0) }
    }
    return "\(OpenAPI.hash)-\(revisions.max() ?? 0)"
  }

  func openAPIDocument(apiVersion: String) -> Value? {
    OpenAPI.document(apiVersion: apiVersion)
      ?? OpenAPI.document(
        apiVersion: apiVersion, types: served.map(\.type).filter { $0.apiVersion == apiVersion })
  }

  /// The printer columns of a custom type's Table: the version's `additionalPrinterColumns`, or
  /// the API server's default of one `Age` column. Nil for the fixed catalog's types.
  func printerColumns(_ type: ResourceType) -> [Value]? {
    guard let entry = served(type) else { return nil }
    let columns = entry.version["additionalPrinterColumns"]?.sequence ?? []
    guard columns.isEmpty else { return columns }
    return [["name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"]]
  }
}

/// Admission for CRDs and custom resources: a CRD is validated; a custom resource is pruned to
/// its schema (unknown fields refused under `fieldValidation=Strict`, kubectl's default) and
/// validated against it. Other types pass unchanged. Made before a write takes the store's lock.
struct CustomAdmission {
  let type: ResourceType
  /// The custom type's served version; nil for the fixed catalog's types.
  let served: CustomResources.Served?

  func admit(_ request: APIRequest, _ object: Value) throws(APIError) -> Value {
    if type == CustomResources.definitionType {
      try CRDController.validate(object)
      return object
    }
    guard let served else { return object }
    let schema = served.version.at("schema", "openAPIV3Schema") ?? [:]
    let (pruned, unknown) = StructuralSchema.pruned(object, schema)
    if request.query["fieldValidation"] == "Strict", !unknown.isEmpty {
      throw FieldValidation.strictDecodingError(type, unknown)
    }
    let errors = StructuralSchema.errors(pruned, schema)
    guard errors.isEmpty else { throw Validation.invalid(type, object.name, errors) }
    return pruned
  }
}

extension CustomResources {
  func admission(_ type: ResourceType) -> CustomAdmission {
    CustomAdmission(type: type, served: served(type))
  }
}
