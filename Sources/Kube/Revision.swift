// Revision records: each applied revision of a release kept as a Secret in the release
// namespace, as helm keeps its release records, so history survives the machine that ran it.
import FleetCore
import Foundation

public enum RevisionStatus: String, Sendable, Equatable {
  case deployed, superseded, failed
  /// Written before anything is applied and settled after, as helm does: a record left in a
  /// pending status says its attempt was cut off (the process died) before it finished.
  case pendingInstall = "pending-install"
  case pendingUpgrade = "pending-upgrade"
  case pendingRollback = "pending-rollback"
  /// A first install rolled back: its objects are gone, its records kept (helm's
  /// `uninstall --keep-history`).
  case uninstalled

  public var isPending: Bool {
    [.pendingInstall, .pendingUpgrade, .pendingRollback].contains(self)
  }
}

/// One revision of a release on one cluster: what was applied and from what.
public struct RevisionRecord: Sendable, Equatable {
  public var release: String
  public var namespace: String
  public var revision: Int
  public var status: RevisionStatus
  /// The objects as rendered and applied (namespaces filled in), in apply order.
  public var objects: [Value]
  /// SHA-256 of the merged values (JSON with sorted keys), in hex.
  public var valuesDigest: String
  public var version: String?
  public var chart: String?
  public var created: Date
  /// Why the revision exists or failed, e.g. "rollback to 2" or the readiness error.
  public var description: String?
  /// The release's hooks as rendered with this revision (test hooks included), so that a
  /// rollback to it and its uninstall run its own hooks, as helm's release records keep them.
  /// Nil in records written before revisions carried hooks.
  public var hooks: [Value]?

  public init(
    release: String, namespace: String, revision: Int, status: RevisionStatus, objects: [Value],
    valuesDigest: String, version: String? = nil, chart: String? = nil, created: Date,
    description: String? = nil, hooks: [Value]? = nil
  ) {
    self.hooks = hooks
    self.release = release
    self.namespace = namespace
    self.revision = revision
    self.status = status
    self.objects = objects
    self.valuesDigest = valuesDigest
    self.version = version
    self.chart = chart
    self.created = created
    self.description = description
  }

  public static let owner = "fleetwave"

  /// `fleetwave.release.v1.NAME.vN`, after helm's `sh.helm.release.v1.NAME.vN`.
  public static func secretName(release: String, revision: Int) -> String {
    "fleetwave.release.v1.\(release).v\(revision)"
  }

  public var secretName: String { Self.secretName(release: release, revision: revision) }

  /// The label selector that finds every record of a release.
  public static func selector(release: String) -> String { "owner=\(owner),name=\(release)" }

  /// The digest recorded for a set of values.
  public static func digest(values: Value) -> String {
    // Hashed while written, with marks ignored rather than stripped: no copy of the tree and
    // no whole JSON text, which for a large values file were each several times its size.
    JSONWriter.sha256(values, options: JSONWriter.Options(sortedKeys: true))
  }

  /// The record's payload: JSON of everything but the status, which lives in a label so that
  /// superseding a revision does not rewrite what was applied.
  var payload: Value {
    var mapping = Mapping()
    mapping["release"] = .string(release)
    mapping["namespace"] = .string(namespace)
    mapping["revision"] = .int(Int64(revision))
    mapping["objects"] = .sequence(objects.map(\.unmarked))
    mapping["valuesDigest"] = .string(valuesDigest)
    if let version { mapping["version"] = .string(version) }
    if let chart { mapping["chart"] = .string(chart) }
    mapping["created"] = .string(Timestamp.iso(created))
    if let description { mapping["description"] = .string(description) }
    if let hooks { mapping["hooks"] = .sequence(hooks.map(\.unmarked)) }
    return .mapping(mapping)
  }

  /// The Secret that stores the record: `data.release` is the gzip-compressed JSON payload
  /// (base64 on the wire, as every Secret's data is).
  public func secret() throws(GzipError) -> Value {
    let compressed = try Gzip.compress(JSONWriter.bytes(payload))
    return [
      "apiVersion": "v1", "kind": "Secret",
      "metadata": [
        "name": .string(secretName), "namespace": .string(namespace),
        "labels": [
          "owner": .string(Self.owner), "name": .string(release),
          "revision": .string(String(revision)), "status": .string(status.rawValue),
        ],
      ],
      "type": "fleetwave.io/release.v1",
      "data": ["release": .string(Data(compressed).base64EncodedString())],
    ]
  }

  /// Reads a record back from its Secret as the API server returns it.
  public static func decode(secret: Value) throws(RevisionRecordError) -> RevisionRecord {
    let name = secret["metadata"]?["name"]?.string ?? "?"
    func fail(_ why: String) -> RevisionRecordError {
      RevisionRecordError(message: "revision record \(name): \(why)")
    }
    guard let encoded = secret["data"]?["release"]?.string,
      let compressed = Data(base64Encoded: encoded)
    else { throw fail("data.release is not base64") }
    let json: [UInt8]
    do {
      json = try Gzip.decompress(Array(compressed))
    } catch {
      throw fail(error.message)
    }
    guard let payload = try? JSONReader.parse(json, path: name) else {
      throw fail("the payload is not JSON")
    }
    let statusText = secret["metadata"]?["labels"]?["status"]?.string ?? ""
    guard let status = RevisionStatus(rawValue: statusText) else {
      throw fail("unknown status '\(statusText)'")
    }
    guard let release = payload["release"]?.string, let revision = payload["revision"]?.int,
      let namespace = payload["namespace"]?.string,
      let objects = payload["objects"]?.sequence,
      let digest = payload["valuesDigest"]?.string,
      let created = payload["created"]?.string.flatMap(Timestamp.parse)
    else { throw fail("the payload misses release, revision, objects, valuesDigest or created") }
    return RevisionRecord(
      release: release, namespace: namespace, revision: Int(revision), status: status,
      objects: objects.map(\.unmarked), valuesDigest: digest, version: payload["version"]?.string,
      chart: payload["chart"]?.string, created: created,
      description: payload["description"]?.string,
      hooks: payload["hooks"]?.sequence?.map(\.unmarked))
  }
}

public struct RevisionRecordError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

/// The revision records of one release on one cluster.
public struct RevisionHistory: Sendable {
  public let client: KubeClient
  public let release: String
  public let namespace: String

  public init(client: KubeClient, release: String, namespace: String) {
    self.client = client
    self.release = release
    self.namespace = namespace
  }

  /// Every record, oldest first.
  public func records() async throws(KubeError) -> [RevisionRecord] {
    let secrets = try await client.list(
      apiVersion: "v1", kind: "Secret", namespace: namespace,
      labelSelector: RevisionRecord.selector(release: release))
    var records: [RevisionRecord] = []
    for secret in secrets {
      do {
        records.append(try RevisionRecord.decode(secret: secret))
      } catch {
        throw KubeError(
          context: client.context, operation: "read revisions of \(release)",
          reason: .invalidResponse(error.message))
      }
    }
    return records.sorted { $0.revision < $1.revision }
  }

  /// The newest record with status deployed: what the cluster runs.
  public func current() async throws(KubeError) -> RevisionRecord? {
    try await records().last { $0.status == .deployed }
  }

  /// Stores a record (creating or replacing its Secret).
  public func save(_ record: RevisionRecord) async throws(KubeError) {
    let secret: Value
    do {
      secret = try record.secret()
    } catch {
      throw KubeError(
        context: client.context, operation: "store revision \(record.revision) of \(release)",
        reason: .invalidResponse(error.message))
    }
    try await client.apply(secret)
  }

  /// Changes a stored record's status label only.
  public func mark(_ record: RevisionRecord, _ status: RevisionStatus) async throws(KubeError) {
    var changed = record
    changed.status = status
    try await save(changed)
  }
}
