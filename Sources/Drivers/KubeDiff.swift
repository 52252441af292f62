// `fleetwave diff` for the kube driver: what applying the release would change, object by
// object, as unified diffs of YAML with server-populated fields left out and Secret data masked.
import FleetCore
import FleetYAML
import Foundation
import Kube

/// One object that would change: its unified diff (live on the left, rendered on the right).
public struct ObjectDiff: Sendable, Equatable {
  public var key: ObjectKey
  public var text: String
  /// A hook: compared with what the deployed revision recorded, not with a live object,
  /// since a hook runs at its event rather than being applied (and may be deleted by then).
  public var isHook = false
  /// A CRD of the chart's `crds/`, against the cluster's: installed on first install only and
  /// never upgraded, so a change here is one no upgrade will make.
  public var isCRD = false
}

public enum KubeDiff {
  /// Fields the API server writes; they differ between any two reads and say nothing of intent.
  static let serverMetadata = [
    "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
  ]

  /// The object without status and server-populated metadata, keys sorted, for comparison.
  public static func comparable(_ object: Value) -> Value {
    guard var top = object.mapping else { return object }
    top["status"] = nil
    if var metadata = top["metadata"]?.mapping {
      for field in serverMetadata { metadata[field] = nil }
      top["metadata"] = .mapping(metadata)
    }
    return sortedKeys(.mapping(top))
  }

  static func sortedKeys(_ value: Value) -> Value {
    if let mapping = value.mapping {
      var sorted = Mapping()
      for entry in mapping.sorted(by: { $0.key < $1.key }) {
        sorted[entry.key] = sortedKeys(entry.value)
      }
      return .mapping(sorted)
    }
    if let items = value.sequence { return .sequence(items.map(sortedKeys)) }
    return value.unmarked
  }

  /// Secret values replaced by `***`, or `*** (before)` / `*** (after)` where they differ, so
  /// a diff shows which keys change and never what they hold.
  public static func masked(live: Value?, wanted: Value?) -> (Value?, Value?) {
    guard (live ?? wanted)?["kind"]?.string == "Secret" else { return (live, wanted) }
    var left = live?.mapping
    var right = wanted?.mapping
    for field in ["data", "stringData"] {
      let before = left?[field]?.mapping
      let after = right?[field]?.mapping
      func mask(_ side: Mapping?, _ other: Mapping?, _ tag: String) -> Value? {
        guard let side else { return nil }
        var masked = Mapping()
        for entry in side {
          let changed = other.map { $0[entry.key] != nil && $0[entry.key] != entry.value } ?? false
          masked[entry.key] = .string(changed ? "*** (\(tag))" : "***")
        }
        return .mapping(masked)
      }
      if left != nil { left?[field] = mask(before, after, "before") }
      if right != nil { right?[field] = mask(after, before, "after") }
    }
    return (left.map { .mapping($0) }, right.map { .mapping($0) })
  }

  /// The diff of one object, nil when nothing would change.
  public static func object(
    key: ObjectKey, cluster: String, live: Value?, wanted: Value?, before: String = "live",
    after: String = "rendered"
  )
    -> ObjectDiff?
  {
    let (left, right) = masked(live: live.map(comparable), wanted: wanted.map(comparable))
    let name = "\(cluster)/\(key.kind)/" + (key.namespace.map { "\($0)/" } ?? "") + key.name
    guard
      let text = unified(
        lines(left), lines(right), from: left == nil ? "/dev/null" : "\(before)/" + name,
        to: right == nil ? "/dev/null" : "\(after)/" + name)
    else { return nil }
    return ObjectDiff(key: key, text: text)
  }

  /// The hooks that changed between what the deployed revision recorded and the render, test
  /// hooks left out (only `helm test` runs them); nil `recorded` (a revision written before
  /// records kept hooks) compares nothing.
  static func hooks(recorded: [ReleaseHook]?, rendered: [ReleaseHook], cluster: String)
    -> [ObjectDiff]
  {
    guard let recorded else { return [] }
    let before = Dictionary(
      recorded.filter { !$0.isTest }.map { ($0.key, $0.object) }
    ) { first, _ in first }
    let after = rendered.filter { !$0.isTest }
    let keys = Set(after.map(\.key))
    var diffs: [ObjectDiff] = []
    for hook in after {
      diffs +=
        object(
          key: hook.key, cluster: cluster, live: before[hook.key], wanted: hook.object,
          before: "recorded"
        )
        .map { [$0] } ?? []
    }
    for (key, object) in before.sorted(by: { $0.key < $1.key }) where !keys.contains(key) {
      diffs +=
        Self.object(
          key: key, cluster: cluster, live: object, wanted: nil, before: "recorded"
        )
        .map { [$0] } ?? []
    }
    return diffs.map {
      var diff = $0
      diff.isHook = true
      return diff
    }
  }

  static func lines(_ value: Value?) -> [String] {
    guard let value else { return [] }
    var text = YAML.emit(value)
    if text.hasSuffix("\n") { text.removeLast() }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  }

  /// A unified diff (as `diff -u` prints it, three lines of context), nil for equal inputs.
  public static func unified(
    _ old: [String], _ new: [String], from: String, to: String, context: Int = 3
  ) -> String? {
    let edits = script(old, new)
    guard edits.contains(where: { $0.kind != .same }) else { return nil }
    var output = "--- \(from)\n+++ \(to)\n"
    // Group changes whose context windows touch into hunks.
    var index = 0
    while index < edits.count {
      guard let firstChange = edits[index...].firstIndex(where: { $0.kind != .same }) else { break }
      let start = max(index, firstChange - context)
      var end = firstChange
      var cursor = firstChange
      while cursor < edits.count {
        if edits[cursor].kind != .same {
          end = cursor
          cursor += 1
          continue
        }
        let nextChange = edits[cursor...].firstIndex { $0.kind != .same }
        guard let nextChange, nextChange - end <= 2 * context else { break }
        cursor = nextChange
      }
      let stop = min(edits.count, end + context + 1)
      let hunk = edits[start..<stop]
      let oldCount = hunk.filter { $0.kind != .insert }.count
      let newCount = hunk.filter { $0.kind != .delete }.count
      let oldStart = (hunk.first { $0.kind != .insert }?.oldLine ?? edits[start].oldLine) + 1
      let newStart = (hunk.first { $0.kind != .delete }?.newLine ?? edits[start].newLine) + 1
      output +=
        "@@ -\(range(oldCount == 0 ? oldStart - 1 : oldStart, oldCount)) "
        + "+\(range(newCount == 0 ? newStart - 1 : newStart, newCount)) @@\n"
      for edit in hunk {
        switch edit.kind {
        case .same: output += " " + old[edit.oldLine] + "\n"
        case .delete: output += "-" + old[edit.oldLine] + "\n"
        case .insert: output += "+" + new[edit.newLine] + "\n"
        }
      }
      index = stop
    }
    return output
  }

  private static func range(_ start: Int, _ count: Int) -> String {
    count == 1 ? "\(start)" : "\(start),\(count)"
  }

  struct Edit {
    enum Kind { case same, delete, insert }
    var kind: Kind
    /// Lines (0-based) in old and new at this point of the script.
    var oldLine: Int
    var newLine: Int
  }

  /// The edit script of a longest common subsequence, deletions before insertions.
  static func script(_ old: [String], _ new: [String]) -> [Edit] {
    let n = old.count
    let m = new.count
    // lengths[i][j]: LCS length of old[i...] and new[j...].
    var lengths = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
    for i in stride(from: n - 1, through: 0, by: -1) {
      for j in stride(from: m - 1, through: 0, by: -1) {
        lengths[i][j] =
          old[i] == new[j] ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
      }
    }
    var edits: [Edit] = []
    var i = 0
    var j = 0
    while i < n || j < m {
      if i < n, j < m, old[i] == new[j] {
        edits.append(Edit(kind: .same, oldLine: i, newLine: j))
        i += 1
        j += 1
      } else if i < n, j == m || lengths[i + 1][j] >= lengths[i][j + 1] {
        edits.append(Edit(kind: .delete, oldLine: i, newLine: j))
        i += 1
      } else {
        edits.append(Edit(kind: .insert, oldLine: i, newLine: j))
        j += 1
      }
    }
    return edits
  }
}

extension KubeDriver {
  /// What an upgrade of `cluster` would change: each rendered object against its live version
  /// (as a server-side dry-run apply would leave it), the objects of the deployed revision
  /// that are no longer rendered and would be pruned, then the hooks (`isHook`) that differ
  /// from the ones the deployed revision recorded, and last the chart's CRDs (`isCRD`) that
  /// differ from the cluster's.
  public func diff(_ cluster: Cluster) throws(DriverError) -> [ObjectDiff] {
    let client = try client(cluster)
    let manifest = try Blocking.wait { () async throws(DriverError) in
      try await self.renderedManifest(cluster)
    }
    let objects = manifest.resources
    var diffs: [ObjectDiff] = []
    var recordedHooks: [Value]?
    do throws(KubeError) {
      let keys = Set(objects.map(ObjectKey.init))
      for object in objects {
        let key = ObjectKey(object)
        let apiVersion = object["apiVersion"]?.string ?? ""
        let live = try client.get(
          apiVersion: apiVersion, kind: key.kind, namespace: key.namespace, name: key.name)
        // The dry run fills in the server's defaults, so only real changes remain.
        let wanted = live == nil ? object : try client.apply(object, dryRun: true)
        if let diff = KubeDiff.object(key: key, cluster: cluster.name, live: live, wanted: wanted) {
          diffs.append(diff)
        }
      }
      let history = RevisionHistory(
        client: client, release: release.name, namespace: release.namespace)
      let current = try history.current()
      recordedHooks = current?.hooks
      for object in current?.objects ?? [] where !keys.contains(ObjectKey(object)) {
        let key = ObjectKey(object)
        guard
          let live = try client.get(
            apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
            namespace: key.namespace, name: key.name),
          let diff = KubeDiff.object(key: key, cluster: cluster.name, live: live, wanted: nil)
        else { continue }
        diffs.append(diff)
      }
    } catch {
      throw DriverError(.failed, error.description)
    }
    let recorded = try recordedHooks.map { hooks throws(DriverError) in try split(hooks).hooks }
    return diffs
      + KubeDiff.hooks(recorded: recorded, rendered: manifest.hooks, cluster: cluster.name)
      + (try crdDiffs(cluster, client: client))
  }
}
