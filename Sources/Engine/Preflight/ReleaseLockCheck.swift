// Preflight: is the release already being changed? Another run holding its Lease makes the
// rollout fail on this cluster ("another operation is in progress"); a revision left pending
// by a run that stopped mid-change is carried on or closed by the next one, so it only warns.
import FleetCore
import Kube

enum ReleaseLockCheck {
  /// Nil when the release's records or Lease cannot be read for lack of permission: the
  /// permissions check names that already.
  /// A Lease held by one of `ours` (this process's identity and those of the run's earlier
  /// processes, which the rollout takes over) is not another run's.
  static func run(
    release: String, namespace: String, client: KubeClient, ours: Set<String> = []
  ) async -> [PreflightProblem]? {
    var problems: [PreflightProblem] = []
    do {
      let lease = try await client.get(
        apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: namespace,
        name: "fleetwave-\(release)")
      if let holder = lease?["spec"]?["holderIdentity"]?.string, !holder.isEmpty,
        !ours.contains(holder)
      {
        let since = lease?["spec"]?["acquireTime"]?.string ?? "an unknown time"
        problems.append(
          PreflightProblem(
            .release, .error,
            "release \(release) is locked: the Lease \(namespace)/fleetwave-\(release) is held by "
              + "\(holder) since \(since)"))
      }
      let records = try await RevisionHistory(
        client: client, release: release, namespace: namespace
      ).records()
      for record in records where record.status.isPending {
        problems.append(
          PreflightProblem(
            .release, .warning,
            "revision \(record.revision) of \(release) is \(record.status.rawValue): a run "
              + "stopped mid-change (the next rollout carries the same change on, or closes it "
              + "as failed)"))
      }
    } catch  where error.code == 403 {
      return nil
    } catch {
      problems.append(
        PreflightProblem(
          .release, .error, "cannot read the release: " + IdentityCheck.reachability(error)))
    }
    return problems
  }
}
