// Removing a release. Rolling back a first install, as helm does for a failed
// `install --atomic`: the release did not exist before the run, so going back means removing
// it. Between the pre-delete and post-delete hooks, every object a revision recorded and every
// hook of the release are deleted in reverse install order; the revision records stay, the
// last one marked uninstalled, as `helm uninstall --keep-history` leaves them.
import FleetCore
import Foundation
import Kube

extension KubeDriver {
  /// Deletes what the release created on the cluster and records it uninstalled. Returns
  /// "uninstalled", the word the helm driver returns for the same rollback.
  func uninstallFirstInstall(
    _ records: [RevisionRecord], _ session: Session, _ call: DriverCall
  ) async throws(DriverError) -> String {
    var created: [ObjectKey: Value] = [:]
    for record in records {
      for object in record.objects { created[ObjectKey(object)] = object }
    }
    // Revisions record resources, not hooks; the render names the hooks the install ran. A
    // chart that no longer renders leaves the recorded resources still to delete, so a render
    // failure only narrows what is deleted.
    let manifest: ReleaseManifest?
    if let recorded = records.last?.hooks {
      manifest = try split(recorded)
    } else {
      manifest = try? await renderedManifest(call.cluster)
    }
    for hook in manifest?.hooks ?? [] { created[hook.key] = hook.object }
    // helm's uninstall runs the delete hooks, an atomic install's rollback included.
    let deadline = hookDeadline(session, call)
    if let manifest {
      try await runHooks(.preDelete, of: manifest, session, call, deadline: deadline)
    }
    let ordered = KindOrder.installing(created.sorted { $0.key < $1.key }.map(\.value))
    for object in ordered.reversed() {
      if call.cancellation.isCancelled { throw DriverError(.cancelled, "cancelled") }
      let key = ObjectKey(object)
      do {
        _ = try await session.client.delete(
          apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
          namespace: key.namespace, name: key.name)
      } catch {
        throw DriverError(.failed, "uninstall \(key): \(error.description)")
      }
    }
    if let manifest {
      try await runHooks(.postDelete, of: manifest, session, call, deadline: deadline)
    }
    guard var last = records.last else { return "uninstalled" }
    last.status = .uninstalled
    last.description = [last.description, "uninstalled: rollback of a first install"]
      .compactMap { $0 }.joined(separator: "; ")
    do {
      try await session.history.save(last)
    } catch {
      throw DriverError(.failed, error.description)
    }
    return "uninstalled"
  }
}

// `fleetwave uninstall` on one cluster, after helm's `uninstall --wait`: the pre-delete hooks,
// then every object of the release in reverse install order, waited until gone, then the
// post-delete hooks; the revision records deleted, or kept and marked uninstalled.
extension KubeDriver {
  public func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>
  ) {
    let begun = call.clock.now()
    driverTask(completion) { [self] () async throws(DriverError) -> String in
      // Looked at before the lease is taken: taking it creates the release namespace, which a
      // cluster that never had the release should not get from an uninstall.
      let history = try self.history(call)
      let recorded = try await uninstallStep("read revisions of \(release.name)") {
        () async throws(KubeError) in try await history.records()
      }
      if recorded.isEmpty { return UninstallOutcome.notInstalled }
      return try await withSession(call, begun: begun) { session async throws(DriverError) in
        try await uninstallRelease(session, call, keepHistory: keepHistory)
      }
    }
  }

  private func uninstallRelease(_ session: Session, _ call: DriverCall, keepHistory: Bool)
    async throws(DriverError) -> String
  {
    let records = try await uninstallStep("read revisions of \(release.name)") {
      () async throws(KubeError) in try await session.history.records()
    }
    guard let newest = records.last(where: { $0.status != .uninstalled }) else {
      // Uninstalled before with --keep-history: only the records are left, and without
      // --keep-history they go now, as `helm uninstall` purges such a release.
      if !keepHistory { try await deleteRecords(records, session) }
      return UninstallOutcome.notInstalled
    }
    // What the newest revision applied, and what the deployed one did when an attempt after
    // it failed or was cut off: together every object the release may have on the cluster.
    var objects: [ObjectKey: Value] = [:]
    for record in records where record.revision == newest.revision || record.status == .deployed {
      for object in record.objects { objects[ObjectKey(object)] = object }
    }
    let hooks = try await deleteHooks(newest, call)
    let deadline = hookDeadline(session, call)
    try await runHooks(.preDelete, of: hooks, session, call, deadline: deadline)
    let ordered = KindOrder.deleting(objects.sorted { $0.key < $1.key }.map(\.value))
    for object in ordered {
      if call.cancellation.isCancelled { throw DriverError(.cancelled, "cancelled") }
      let key = ObjectKey(object)
      _ = try await uninstallStep("uninstall \(key)") { () async throws(KubeError) in
        try await session.client.delete(
          apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
          namespace: key.namespace, name: key.name)
      }
    }
    // helm's `uninstall --wait`: the objects must be gone, not only marked for deletion,
    // before the post-delete hooks run and the cluster counts as done.
    var remaining = ordered
    try await poll(call, deadline: deadline, late: "uninstall did not finish in time") {
      () async throws(DriverError) -> String? in
      var still: [Value] = []
      for object in remaining {
        let key = ObjectKey(object)
        let live = try await uninstallStep("uninstall \(key)") { () async throws(KubeError) in
          try await session.client.get(
            apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
            namespace: key.namespace, name: key.name)
        }
        if live != nil { still.append(object) }
      }
      remaining = still
      return still.first.map { "\(ObjectKey($0)) is still being deleted" }
    }
    try await runHooks(.postDelete, of: hooks, session, call, deadline: deadline)
    guard keepHistory else {
      try await deleteRecords(records, session)
      return UninstallOutcome.uninstalled
    }
    try await uninstallStep("store revisions of \(release.name)") { () async throws(KubeError) in
      // Nothing stays deployed or pending: the next rollout is a first install.
      for record in records
      where record.revision != newest.revision
        && (record.status == .deployed || record.status.isPending)
      {
        try await session.history.mark(record, .superseded)
      }
      var last = newest
      last.status = .uninstalled
      last.description = "uninstalled"
      try await session.history.save(last)
    }
    return UninstallOutcome.uninstalled
  }

  /// The hooks the newest revision recorded; a record written before revisions carried hooks
  /// has the chart rendered for them, and one that cannot be rendered fails the cluster rather
  /// than skip a pre-delete hook (a backup, say) that the release may have.
  private func deleteHooks(_ newest: RevisionRecord, _ call: DriverCall)
    async throws(DriverError) -> ReleaseManifest
  {
    if let hooks = newest.hooks { return try split(hooks) }
    do {
      return try await renderedManifest(call.cluster)
    } catch {
      throw DriverError(
        error.kind,
        "revision \(newest.revision) of \(release.name) does not record its hooks and the "
          + "chart does not render: \(error.message)")
    }
  }

  private func deleteRecords(_ records: [RevisionRecord], _ session: Session)
    async throws(DriverError)
  {
    for record in records {
      _ = try await uninstallStep("delete revision \(record.revision) of \(release.name)") {
        () async throws(KubeError) in
        try await session.client.delete(
          apiVersion: "v1", kind: "Secret", namespace: record.namespace, name: record.secretName)
      }
    }
  }

  /// An API failure fails the cluster, saying which step it was.
  private func uninstallStep<T>(_ step: String, _ body: () async throws(KubeError) -> T)
    async throws(DriverError) -> T
  {
    do {
      return try await body()
    } catch {
      throw DriverError(.failed, error.description)
    }
  }
}
