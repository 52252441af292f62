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
  /// The call is stopped and reported `timedOut` once this much (clock) time has passed.
  public var timeout: Duration
  public var cancellation: Cancellation
  public var clock: any RolloutClock
  /// A serial queue a driver without threads of its own may complete on; the executor passes
  /// its own queue, so a simulated call completes without a thread hop.
  public var queue: DispatchQueue

  public init(
    cluster: Cluster, run: String, timeout: Duration, cancellation: Cancellation = Cancellation(),
    clock: any RolloutClock, queue: DispatchQueue
  ) {
    self.cluster = cluster
    self.run = run
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
}
