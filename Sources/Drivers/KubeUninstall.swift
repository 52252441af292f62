// Rolling back a first install, as helm does for a failed `install --atomic`: the release did
// not exist before the run, so going back means removing it. Every object a revision recorded
// and every hook the release renders are deleted in reverse install order; the revision
// records stay, the last one marked uninstalled, as `helm uninstall --keep-history` leaves them.
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
    if let manifest = try? await renderedManifest(call.cluster) {
      for hook in manifest.hooks { created[hook.key] = hook.object }
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
