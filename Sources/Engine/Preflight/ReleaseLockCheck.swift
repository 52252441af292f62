// Preflight: is the release already being changed (by Fleetwave or by helm)? Another run holding its Lease makes the
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
      // helm's own records: a Secret per revision, labelled with its status.
      let helmRecords = try await client.list(
        apiVersion: "v1", kind: "Secret", namespace: namespace,
        labelSelector: "owner=helm,name=\(release)")
      for secret in helmRecords.sorted(by: { helmRevision($0) < helmRevision($1) }) {
        guard let status = secret["metadata"]?["labels"]?["status"]?.string,
          status.hasPrefix("pending-")
        else { continue }
        let name = secret["metadata"]?["name"]?.string ?? "?"
        problems.append(
          PreflightProblem(
            .release, .warning,
            "helm's revision \(helmRevision(secret)) of \(release) is \(status) (Secret "
              + "\(namespace)/\(name)): a helm operation stopped mid-change (helm refuses "
              + "another until it is rolled back)"))
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

  /// The revision of a helm release Secret, from its `version` label.
  private static func helmRevision(_ secret: Value) -> Int {
    secret["metadata"]?["labels"]?["version"]?.string.flatMap { Int($0) } ?? 0
  }
}
