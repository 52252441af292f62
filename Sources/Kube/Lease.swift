// The per-cluster lock: a coordination.k8s.io/v1 Lease per release, held by one run at a time.
import FleetCore
import Foundation

/// Why a lease could not be taken or kept.
public struct LeaseError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  /// The API failure behind it, when there was one.
  public var underlying: KubeError?

  public init(_ message: String, underlying: KubeError? = nil) {
    self.message = message
    self.underlying = underlying
  }

  public var description: String { message }
}

/// `fleetwave-RELEASE` in the release namespace. Takers use create (409 means held) and
/// compare-and-swap updates on resourceVersion, so two runs can never both hold it.
public struct ReleaseLease: Sendable {
  public let client: KubeClient
  /// The cluster's name as messages show it.
  public let cluster: String
  public let release: String
  public let namespace: String
  /// Who holds it: the run id.
  public let holder: String
  /// How long a holder that stopped renewing keeps it.
  public let duration: Duration
  public let clock: any RolloutClock

  public init(
    client: KubeClient, cluster: String, release: String, namespace: String, holder: String,
    duration: Duration = .seconds(60), clock: any RolloutClock
  ) {
    self.client = client
    self.cluster = cluster
    self.release = release
    self.namespace = namespace
    self.holder = holder
    self.duration = duration
    self.clock = clock
  }

  public var name: String { "fleetwave-\(release)" }

  private var durationSeconds: Int64 { max(1, duration.components.seconds) }

  /// Takes the lease. With `force`, also takes it from a holder whose last renewal is older
  /// than its lease duration; never from one that is still renewing.
  public func acquire(force: Bool = false) async throws(LeaseError) {
    let now = Self.microTime(clock.now())
    let fresh: Value = [
      "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
      "metadata": ["name": .string(name), "namespace": .string(namespace)],
      "spec": [
        "holderIdentity": .string(holder), "leaseDurationSeconds": .int(durationSeconds),
        "acquireTime": .string(now), "renewTime": .string(now), "leaseTransitions": 0,
      ],
    ]
    do {
      try await client.create(fresh)
      return
    } catch  where error.code == 409 {
      // Held, or left behind released: decide from what is there.
    } catch {
      throw LeaseError("cannot take the lock on \(cluster): \(error)", underlying: error)
    }
    let live = try await read()
    guard let live else {
      // Deleted between our create and read: one more create settles it.
      do {
        try await client.create(fresh)
        return
      } catch {
        throw LeaseError("cannot take the lock on \(cluster): \(error)", underlying: error)
      }
    }
    let spec = live["spec"]
    let current = spec?["holderIdentity"]?.string ?? ""
    if !current.isEmpty, current != holder {
      guard force, isStale(live) else { throw heldError(live) }
    }
    var taken = spec?.mapping ?? Mapping()
    if current != holder {
      taken["acquireTime"] = .string(now)
      let transitions = spec?["leaseTransitions"]?.int ?? 0
      taken["leaseTransitions"] = .int(current.isEmpty ? transitions : transitions + 1)
    }
    taken["holderIdentity"] = .string(holder)
    taken["leaseDurationSeconds"] = .int(durationSeconds)
    taken["renewTime"] = .string(now)
    try await swap(live, spec: taken, losing: "take")
  }

  /// Records that the holder is still at work; fails when someone else holds the lease now.
  public func renew() async throws(LeaseError) {
    guard let live = try await read() else {
      throw LeaseError("lost the lock on \(cluster): the lease \(namespace)/\(name) is gone")
    }
    let current = live["spec"]?["holderIdentity"]?.string ?? ""
    guard current == holder else {
      throw LeaseError("lost the lock on \(cluster): it is held by \(current) now")
    }
    var spec = live["spec"]?.mapping ?? Mapping()
    spec["renewTime"] = .string(Self.microTime(clock.now()))
    try await swap(live, spec: spec, losing: "renew")
  }

  /// Gives the lease up by clearing its holder; does nothing when another run holds it.
  public func relinquish() async throws(LeaseError) {
    guard let live = try await read(), live["spec"]?["holderIdentity"]?.string == holder else {
      return
    }
    var spec = live["spec"]?.mapping ?? Mapping()
    spec["holderIdentity"] = nil
    spec["acquireTime"] = nil
    spec["renewTime"] = nil
    try await swap(live, spec: spec, losing: "release")
  }

  /// The lease as the server has it, nil when there is none.
  public func read() async throws(LeaseError) -> Value? {
    do {
      return try await client.get(
        apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: namespace, name: name)
    } catch {
      throw LeaseError("cannot read the lock on \(cluster): \(error)", underlying: error)
    }
  }

  /// A holder is stale once renewTime + leaseDurationSeconds has passed.
  public func isStale(_ lease: Value) -> Bool {
    let spec = lease["spec"]
    guard
      let renewed = (spec?["renewTime"]?.string ?? spec?["acquireTime"]?.string)
        .flatMap(Timestamp.parse)
    else { return true }
    let seconds = Double(spec?["leaseDurationSeconds"]?.int ?? durationSeconds)
    return renewed.addingTimeInterval(seconds) < clock.now()
  }

  private func heldError(_ lease: Value) -> LeaseError {
    let spec = lease["spec"]
    let owner = spec?["holderIdentity"]?.string ?? "?"
    let since = spec?["acquireTime"]?.string ?? "an unknown time"
    return LeaseError(
      "another operation is in progress on \(cluster): held by \(owner) since \(since)")
  }

  /// Writes `spec` over `live` only if nobody wrote in between (resourceVersion compare-and-swap).
  private func swap(_ live: Value, spec: Mapping, losing verb: String) async throws(LeaseError) {
    var object = live.mapping ?? Mapping()
    object["spec"] = .mapping(spec)
    do {
      try await client.update(.mapping(object))
    } catch  where error.code == 409 {
      // Someone else wrote first; report who holds it now.
      if let now = try await read(), let owner = now["spec"]?["holderIdentity"]?.string,
        owner != holder
      {
        throw heldError(now)
      }
      throw LeaseError("cannot \(verb) the lock on \(cluster): it changed while we wrote it")
    } catch {
      throw LeaseError("cannot \(verb) the lock on \(cluster): \(error)", underlying: error)
    }
  }

  /// Kubernetes' MicroTime: RFC 3339 with exactly six fractional digits, UTC.
  public static func microTime(_ date: Date) -> String {
    let iso = Timestamp.iso(date)
    return String(iso.dropLast()) + "000Z"
  }
}
