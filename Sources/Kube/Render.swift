// Rendered releases: Kubernetes objects read from `helm template` output or a manifests
// directory, given their namespace, and keyed so revisions can be compared and pruned.
import FleetCore
import FleetYAML
import Foundation

/// Identifies one object across revisions: group, kind, namespace, name.
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var group: String
  public var kind: String
  public var namespace: String?
  public var name: String

  public init(_ object: Value) {
    let apiVersion = object["apiVersion"]?.string ?? ""
    let parts = apiVersion.split(separator: "/", maxSplits: 1)
    group = parts.count == 2 ? String(parts[0]) : ""
    kind = object["kind"]?.string ?? ""
    namespace = object["metadata"]?["namespace"]?.string
    name = object["metadata"]?["name"]?.string ?? ""
  }

  /// `Deployment shop/checkout`, as kubectl names objects in messages.
  public var description: String {
    "\(kind) " + (namespace.map { "\($0)/\(name)" } ?? name)
  }

  public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
    (a.group, a.kind, a.namespace ?? "", a.name) < (b.group, b.kind, b.namespace ?? "", b.name)
  }
}

public struct RenderError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

public enum Manifests {
  /// The objects of a YAML stream, in order; empty documents (helm leaves some) are skipped and
  /// `List` kinds are unpacked.
  public static func objects(in text: String, path: String) throws(RenderError) -> [Value] {
    let documents: [Value]
    do {
      documents = try YAML.parseStream(SourceFile(path: path, bytes: Array(text.utf8)))
    } catch {
      throw RenderError(error.description)
    }
    var objects: [Value] = []
    for document in documents where !document.isNull {
      if document["kind"]?.string == "List", let items = document["items"]?.sequence {
        objects += items.map(\.unmarked)
        continue
      }
      guard document.mapping != nil, document["kind"]?.string != nil,
        document["apiVersion"]?.string != nil, document["metadata"]?["name"]?.string != nil
      else {
        let line = document.mark.map { ":\($0.line)" } ?? ""
        throw RenderError("\(path)\(line): a manifest needs apiVersion, kind and metadata.name")
      }
      objects.append(document.unmarked)
    }
    return objects
  }

  /// The objects of every `.yaml`, `.yml` and `.json` file in `directory` (sorted by path,
  /// subdirectories included), with `{{ .version }}`, `{{ .release }}` and `{{ .namespace }}`
  /// replaced first, so a manifest says where the release's version goes.
  public static func load(directory: String, variables: [String: String], cluster: Cluster)
    throws(RenderError) -> [Value]
  {
    let root = URL(fileURLWithPath: directory)
    guard let walker = FileManager.default.enumerator(atPath: root.path) else {
      throw RenderError("cannot read the manifests directory \(directory)")
    }
    let files = walker.compactMap { $0 as? String }.filter {
      $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")
    }.sorted()
    var objects: [Value] = []
    for file in files {
      let path = root.appendingPathComponent(file).path
      guard let data = FileManager.default.contents(atPath: path) else {
        throw RenderError("cannot read \(path)")
      }
      let text: String
      do {
        text = try ClusterTemplate.render(
          String(decoding: data, as: UTF8.self), cluster: cluster, variables: variables)
      } catch {
        throw RenderError("\(path): \(error.message)")
      }
      objects += try Self.objects(in: text, path: path)
    }
    return objects
  }

  /// Puts namespaced objects without a namespace into `namespace`, as helm does at install.
  public static func placing(_ object: Value, in namespace: String) -> Value {
    guard object["metadata"]?["namespace"] == nil, var top = object.mapping,
      var metadata = object["metadata"]?.mapping
    else { return object }
    metadata["namespace"] = .string(namespace)
    top["metadata"] = .mapping(metadata)
    return .mapping(top)
  }
}
