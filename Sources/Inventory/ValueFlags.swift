// helm's value flags (`-f/--values`, `--set`, `--set-string`, `--set-json`, `--set-file`): what
// the command line said, the files it names read once, and the result applied over a cluster's
// layered values in helm's order.
import FleetCore
import FleetYAML
import Foundation

/// The value flags as given on the command line, each list in the order given.
public struct HelmValueFlags: Sendable, Equatable {
  /// `-f/--values` files: top layers above the fleet's own, in order.
  public var files: [String]
  public var sets: [String]
  public var setStrings: [String]
  public var setJSONs: [String]
  public var setFiles: [String]

  public init(
    files: [String] = [], sets: [String] = [], setStrings: [String] = [],
    setJSONs: [String] = [], setFiles: [String] = []
  ) {
    self.files = files
    self.sets = sets
    self.setStrings = setStrings
    self.setJSONs = setJSONs
    self.setFiles = setFiles
  }

  public var isEmpty: Bool {
    files.isEmpty && sets.isEmpty && setStrings.isEmpty && setJSONs.isEmpty && setFiles.isEmpty
  }

  /// Reads every file the flags name and checks every argument, so that a mistake is reported,
  /// located and naming its flag, before any cluster is looked at. Relative paths are taken
  /// from the working directory, as helm takes them. `setFileContents` holds `--set-file` contents
  /// known already (a run's stored flags, read on another machine), used instead of the disk.
  public func read(setFileContents: [String: String] = [:]) throws(DiagnosticError)
    -> ValueOverrides
  {
    var problems: [Diagnostic] = []
    var layers: [Mapping] = []
    for path in files {
      do {
        layers.append(try Self.valuesFile(path))
      } catch {
        problems.append(contentsOf: error.diagnostics)
      }
    }
    var contents: [String: String] = setFileContents
    let reader: SetArgument.FileReader = { path throws(Diagnostic) in
      if let known = contents[path] { return known }
      guard let data = FileManager.default.contents(atPath: path) else {
        throw Diagnostic.error("cannot read file '\(path)'")
      }
      let text = String(decoding: data, as: UTF8.self)
      contents[path] = text
      return text
    }
    // helm's order (pkg/cli/values MergeValues): -f files, then --set-json, --set,
    // --set-string, --set-file, whatever their order on the command line.
    let arguments =
      setJSONs.map { (SetArgument.Kind.json, $0) } + sets.map { (.typed, $0) }
      + setStrings.map { (.string, $0) } + setFiles.map { (.file, $0) }
    for (kind, argument) in arguments {
      var scratch = Mapping()
      do throws(Diagnostic) {
        try ValueOverrides.apply(kind, argument, to: &scratch, readFile: reader)
      } catch {
        problems.append(error)
      }
    }
    if !problems.isEmpty { throw DiagnosticError(problems) }
    return ValueOverrides(
      layers: layers, arguments: arguments.map { ValueOverrides.Argument(kind: $0, text: $1) },
      fileContents: contents, digestText: digestText(contents))
  }

  /// Everything that decides the values, file contents included, for `ValueOverrides.digest`.
  private func digestText(_ contents: [String: String]) -> String {
    var text = ""
    for path in files {
      text += "-f\u{0}\(path)\u{0}"
      text += (FileManager.default.contents(atPath: path)).map { SHA256.hex(Array($0)) } ?? ""
      text += "\u{0}"
    }
    for (flag, arguments) in [
      ("--set-json", setJSONs), ("--set-string", setStrings), ("--set-file", setFiles),
    ] {
      for argument in arguments { text += "\(flag)\u{0}\(argument)\u{0}" }
    }
    for path in contents.keys.sorted() {
      text += "file\u{0}\(path)\u{0}" + SHA256.hex(Array((contents[path] ?? "").utf8)) + "\u{0}"
    }
    return text
  }

  /// A `-f` file: a mapping at its top (an empty file is no values), with marks for origins.
  private static func valuesFile(_ path: String) throws(DiagnosticError) -> Mapping {
    guard FileManager.default.fileExists(atPath: path) else {
      throw DiagnosticError([.error("-f \(path): no such values file")])
    }
    let document: Value
    do {
      document = try YAML.load(path: path)
    } catch {
      throw DiagnosticError([error])
    }
    switch document.kind {
    case .null: return Mapping()
    case .mapping(let mapping): return mapping
    default:
      throw DiagnosticError([
        .error(
          "-f \(path): a values file must hold a mapping at its top, found \(document.kindName)",
          at: document.mark)
      ])
    }
  }
}

/// The value flags read and checked: applied over each cluster's values by `apply(to:)`.
public struct ValueOverrides: Sendable {
  struct Argument: Sendable {
    var kind: SetArgument.Kind
    var text: String
  }

  /// The `-f` files' values, in order.
  let layers: [Mapping]
  /// The `--set*` arguments in the order helm applies them.
  let arguments: [Argument]
  /// `--set-file` contents by path, read once.
  let fileContents: [String: String]
  private let digestText: String

  public static let none = ValueOverrides(
    layers: [], arguments: [], fileContents: [:], digestText: "")

  init(layers: [Mapping], arguments: [Argument], fileContents: [String: String], digestText: String)
  {
    self.layers = layers
    self.arguments = arguments
    self.fileContents = fileContents
    self.digestText = digestText
  }

  public var isEmpty: Bool { layers.isEmpty && arguments.isEmpty }

  /// What the `--set-file` arguments read, by path: kept with a run so that another machine
  /// can apply the same flags without the files.
  public var setFileContents: [String: String] { fileContents }

  /// The `--set` arguments alone (runs journal their digest apart, as they always have).
  public var sets: [String] { arguments.filter { $0.kind == .typed }.map(\.text) }

  /// A digest of every flag but `--set` and of the files they read (values may be secrets:
  /// runs journal this, never the values); nil without such flags.
  public var digest: String? {
    digestText.isEmpty ? nil : "sha256:" + SHA256.hex(Array(digestText.utf8))
  }

  /// The flags applied over `values` (a cluster's merged layers), as helm applies them.
  public func apply(to values: inout Mapping) throws(Diagnostic) {
    for layer in layers { values = HelmMerge.layer(layer, over: values) }
    let contents = fileContents
    for argument in arguments {
      try Self.apply(
        argument.kind, argument.text, to: &values,
        readFile: { path throws(Diagnostic) in
          guard let text = contents[path] else { throw Diagnostic.error("cannot read '\(path)'") }
          return text
        })
    }
  }

  /// One argument; a `--set-json` argument that is a JSON object is merged as a values file,
  /// as helm merges it.
  static func apply(
    _ kind: SetArgument.Kind, _ argument: String, to values: inout Mapping,
    readFile: @escaping SetArgument.FileReader
  ) throws(Diagnostic) {
    let trimmed = argument.drop { $0.isWhitespace }
    if kind == .json, trimmed.first == "{" {
      let object = try JSONReader.parse(SourceFile(path: kind.rawValue, text: argument))
      guard let mapping = SetArgument.asDecodedByGo(object).mapping else {
        throw Diagnostic.error("expected a JSON object", at: object.mark)
      }
      values = HelmMerge.layer(mapping, over: values)
      return
    }
    try SetArgument.apply(argument, kind: kind, to: &values, readFile: readFile)
  }
}

extension ValuesResolver {
  /// The values Helm receives for `cluster`: the fleet's layers, then the value flags.
  public func values(for cluster: Cluster, overrides: ValueOverrides) throws(DiagnosticError)
    -> Value
  {
    let layered = try values(for: cluster)
    guard !overrides.isEmpty else { return layered }
    var merged = layered.mapping ?? Mapping()
    do {
      try overrides.apply(to: &merged)
    } catch {
      throw DiagnosticError([error])
    }
    return .mapping(merged)
  }

  /// `.Values` as the chart sees it: `values(for:overrides:)` coalesced with the local chart's
  /// defaults, as `chartValues(for:)` does for the layers alone.
  public func chartValues(for cluster: Cluster, overrides: ValueOverrides)
    throws(DiagnosticError) -> Value
  {
    let user = try values(for: cluster, overrides: overrides)
    guard let defaults = try chartDefaults(), let mapping = user.mapping else { return user }
    return .mapping(HelmMerge.coalesce(mapping, withDefaults: defaults))
  }
}
