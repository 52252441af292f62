// The driver protocol: how the executor upgrades, rolls back and reads one cluster.
import FleetCore
import Foundation

/// Why a driver call did not succeed.
public struct DriverError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Kind: String, Sendable {
    /// The upgrade or rollback ran and reported failure (e.g. a non-zero exit).
    case failed
    /// It overran its timeout and was stopped.
    case timedOut = "timed-out"
    /// It was cancelled (halt with `inFlight: cancel`, or a second interrupt).
    case cancelled
    /// It could not be started at all (bad template, spawn failure).
    case setup
    /// The cluster's API could not be reached (refused, reset, timed out, TLS handshake,
    /// 502/503/504 from a proxy): the cluster may be fine once it can be reached again.
    case unreachable
  }

  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}

/// Everything a driver call needs besides the cluster itself.
public struct DriverCall: Sendable {
  public var cluster: Cluster
  /// The run's identifier, passed on to commands and logs.
  public var run: String
  /// The process making the call, for the leases a driver takes; nil names the run alone.
  public var instance: RunInstance?
  /// The call is stopped and reported `timedOut` once this much (clock) time has passed.
  public var timeout: Duration
  public var cancellation: Cancellation
  public var clock: any RolloutClock
  /// A serial queue a driver without threads of its own may complete on; the executor passes
  /// its own queue, so a simulated call completes without a thread hop.
  public var queue: DispatchQueue

  public init(
    cluster: Cluster, run: String, instance: RunInstance? = nil, timeout: Duration,
    cancellation: Cancellation = Cancellation(), clock: any RolloutClock, queue: DispatchQueue
  ) {
    self.cluster = cluster
    self.run = run
    self.instance = instance
    self.timeout = timeout
    self.cancellation = cancellation
    self.clock = clock
    self.queue = queue
  }
}

public typealias DriverCompletion<T: Sendable> = @Sendable (Result<T, DriverError>) -> Void

/// Upgrades, rolls back and reads one cluster at a time.
///
/// Calls return at once and report through `completion`, exactly once, on any thread. No call
/// holds a thread while it waits: `kube` requests run on the one HTTP loop, `helm` and `exec`
/// children are noticed exiting by the one child reaper, `sim` only sets a timer.
public protocol Driver: Sendable {
  /// `exec`, `sim`, ... as reports name it.
  var name: String { get }
  /// Upgrades the cluster from `fromRevision` (nil when unknown) to the release; completes with
  /// the new revision.
  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>)
  /// Rolls the cluster back to `revision`; completes with the revision the rollback produced
  /// (a rollback is a new revision, as in helm; history is never rewritten).
  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>)
  /// The cluster's current revision, nil when the driver cannot tell.
  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>)
  /// What the cluster runs: its deployed revision and what that revision carries; nil when
  /// nothing is deployed or the driver cannot tell.
  func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>)
  /// What an upgrade of `cluster` to `version` would deploy, in the terms `deployedRelease`
  /// reports, so the two compare.
  func target(for cluster: Cluster, version: String?) throws(DriverError) -> ReleaseTarget
  /// Removes the release from the cluster (`fleetwave uninstall`); completes with
  /// `uninstalled`, or `not-installed` when the cluster had no release to remove.
  /// `keepHistory` keeps the revision records, marked uninstalled, as
  /// `helm uninstall --keep-history` does.
  func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>)
  /// The run is done with these clusters: their wave was promoted, or the run's pass ended. A
  /// driver that kept a cluster locked since upgrading it (the `kube` driver's release Lease,
  /// held through the health window so that another run cannot slip in between the upgrade
  /// and the verdict) gives it back before this returns.
  func releaseKept(_ clusters: [Cluster])
}

/// The revisions an uninstall completes with.
public enum UninstallOutcome {
  public static let uninstalled = "uninstalled"
  /// The cluster had no release: nothing to do, and the cluster counts as done.
  public static let notInstalled = "not-installed"
}

/// What a release revision carries: the version, and a digest of the values it was deployed
/// with when the driver records one.
public struct ReleaseTarget: Sendable, Equatable {
  public var version: String?
  /// SHA-256 of the merged values, nil when the driver does not record it.
  public var valuesDigest: String?

  public init(version: String?, valuesDigest: String? = nil) {
    self.version = version
    self.valuesDigest = valuesDigest
  }
}

/// A cluster's deployed revision and what it carries.
public struct DeployedRelease: Sendable, Equatable {
  public var revision: String
  public var carries: ReleaseTarget

  public init(revision: String, carries: ReleaseTarget) {
    self.revision = revision
    self.carries = carries
  }

  /// Whether this is what an upgrade to `target` would leave: the same version and, where both
  /// sides know it, the same values. A resumed run verifies such a cluster instead of
  /// upgrading it again.
  public func isAt(_ target: ReleaseTarget) -> Bool {
    guard let version = carries.version, version == target.version else { return false }
    guard let wanted = target.valuesDigest else { return true }
    return carries.valuesDigest == wanted
  }
}

extension Driver {
  /// Drivers whose revision is the deployed version (an `exec` revision command that prints
  /// the version): the current revision, carrying itself as the version.
  public func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>
  ) {
    currentRevision(call) { result in
      completion(
        result.map { revision in
          revision.map { DeployedRelease(revision: $0, carries: ReleaseTarget(version: $0)) }
        })
    }
  }

  public func target(for cluster: Cluster, version: String?) throws(DriverError) -> ReleaseTarget {
    ReleaseTarget(version: version)
  }

  /// Drivers without an uninstall (`exec` has no uninstall command) refuse it.
  public func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>
  ) {
    completion(.failure(DriverError(.setup, "the \(name) driver cannot uninstall a release")))
  }
  /// Drivers that keep no lock between calls have nothing to give back.
  public func releaseKept(_ clusters: [Cluster]) {}
}
