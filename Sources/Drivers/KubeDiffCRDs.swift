// `fleetwave diff` and the chart's CRDs: each CRD of `crds/` (the dependencies' included)
// against the cluster's. Helm creates them on a first install and never updates them, so
// they are shown apart: a change here is one no upgrade will make.
import FleetCore
import Foundation
import Kube

extension KubeDriver {
  /// The chart's CRDs that differ from the cluster's, marked `isCRD`: a missing one in full,
  /// an existing one as a server-side dry-run apply would leave it (so the API server's
  /// defaults do not show as changes).
  func crdDiffs(_ cluster: Cluster, client: KubeClient) throws(DriverError) -> [ObjectDiff] {
    var diffs: [ObjectDiff] = []
    for crd in try renderer.chartCRDs() {
      let key = ObjectKey(crd)
      do throws(KubeError) {
        let live = try client.get(
          apiVersion: crd["apiVersion"]?.string ?? "", kind: key.kind, namespace: nil,
          name: key.name)
        let wanted = live == nil ? crd : try client.apply(crd, dryRun: true)
        guard
          var diff = KubeDiff.object(
            key: key, cluster: cluster.name, live: live, wanted: wanted, after: "chart")
        else { continue }
        diff.isCRD = true
        diffs.append(diff)
      } catch {
        throw DriverError(.failed, "chart CRDs: \(error.description)")
      }
    }
    return diffs
  }
}
