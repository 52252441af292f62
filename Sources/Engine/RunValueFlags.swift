// A run's value flags kept beside its journal in the home cluster, so that `resume` and
// `rollback RUN` from another machine apply the same values without anyone typing them again.
// They may carry secrets: they live in a Secret of their own, never in the journal (which
// holds only their salted digests), and nothing here prints them.
import FleetCore
import Foundation
import Inventory
import Kube

/// The flags as given (`-f` paths, the `--set*` arguments) and what `--set-file` read.
public struct RunValueFlags: Sendable, Equatable {
  public var flags: HelmValueFlags
  /// `--set-file` contents by path: the paths are the first machine's, often not on the next.
  public var setFileContents: [String: String]

  public init(flags: HelmValueFlags, setFileContents: [String: String]) {
    self.flags = flags
    self.setFileContents = setFileContents
  }

  /// The flags as JSON, for the Secret's `data.flags`.
  var bytes: [UInt8] {
    let list = { (items: [String]) in Value.sequence(items.map { .string($0) }) }
    var contents = Mapping()
    for path in setFileContents.keys.sorted() {
      contents[path] = .string(setFileContents[path] ?? "")
    }
    let document: Value = [
      "values": list(flags.files), "set": list(flags.sets), "setString": list(flags.setStrings),
      "setJSON": list(flags.setJSONs), "setFile": list(flags.setFiles),
      "setFileContents": .mapping(contents),
    ]
    return JSONWriter.bytes(document)
  }

  /// Reads `bytes`; nil when they are not what `bytes` writes. The reason is not said: a
  /// parse error would quote the text, and the text may be a secret.
  init?(bytes: [UInt8]) {
    guard let document = try? JSONReader.parse(bytes), document.mapping != nil else {
      return nil
    }
    func list(_ key: String) -> [String]? {
      guard let items = document[key]?.sequence else { return nil }
      let strings = items.compactMap(\.string)
      return strings.count == items.count ? strings : nil
    }
    guard let files = list("values"), let sets = list("set"),
      let setStrings = list("setString"), let setJSONs = list("setJSON"),
      let setFiles = list("setFile"), let contents = document["setFileContents"]?.mapping
    else { return nil }
    var setFileContents: [String: String] = [:]
    for entry in contents {
      guard let text = entry.value.string else { return nil }
      setFileContents[entry.key] = text
    }
    self.init(
      flags: HelmValueFlags(
        files: files, sets: sets, setStrings: setStrings, setJSONs: setJSONs,
        setFiles: setFiles),
      setFileContents: setFileContents)
  }
}

/// The Secret `fleetwave-values-KEY` (KEY as the journal's) in the home namespace: labelled as
/// the journal's chunks are, and owned by the journal's first chunk, so that deleting the run
/// (or the cluster's garbage collector after it) takes the values too.
struct RunValuesSecret {
  let chunks: JournalChunks

  var name: String { "fleetwave-values-\(chunks.key)" }

  /// Writes `values` for the run whose first chunk is `journal` (the created object).
  func create(_ values: RunValueFlags, ownedBy journal: Value) throws(EngineError) {
    var metadata: Value = [
      "name": .string(name), "namespace": .string(chunks.location.namespace),
      "labels": [
        "app.kubernetes.io/managed-by": .string(JournalChunks.managedBy),
        "fleetwave.io/journal": .string(chunks.key),
      ],
      "annotations": ["fleetwave.io/run": .string(chunks.run)],
    ]
    if let uid = journal["metadata"]?["uid"]?.string,
      let owner = journal["metadata"]?["name"]?.string, var fields = metadata.mapping
    {
      fields["ownerReferences"] = [
        ["apiVersion": "v1", "kind": "Secret", "name": .string(owner), "uid": .string(uid)]
      ]
      metadata = .mapping(fields)
    }
    let object: Value = [
      "apiVersion": "v1", "kind": "Secret", "type": "fleetwave.io/values",
      "metadata": metadata,
      "data": ["flags": .string(Data(values.bytes).base64EncodedString())],
    ]
    do {
      _ = try chunks.client.create(object)
    } catch {
      // The API's message names the object, never its data.
      throw EngineError(
        "cannot keep the value flags of run \(chunks.run) in \(chunks.location): \(error)")
    }
  }

  /// The run's stored flags; nil when it was started without any.
  func read() throws(EngineError) -> RunValueFlags? {
    let object: Value?
    do {
      object = try chunks.client.get(
        apiVersion: "v1", kind: "Secret", namespace: chunks.location.namespace, name: name)
    } catch {
      throw EngineError(
        "cannot read the value flags of run \(chunks.run) in \(chunks.location): \(error)")
    }
    guard let object else { return nil }
    guard let encoded = object["data"]?["flags"]?.string,
      let data = Data(base64Encoded: encoded), let values = RunValueFlags(bytes: [UInt8](data))
    else {
      throw EngineError("\(chunks.location) \(name): data.flags is not the run's value flags")
    }
    return values
  }
}
