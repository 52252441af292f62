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
///
/// The holder is a process acting for a run (`RUN/INSTANCE`, see `RunInstance`), not the run:
/// two processes that happen to carry the same run id are still told apart. Whether a holder
/// has stopped renewing is judged as client-go's leader election judges it, from time observed
/// here (the record left unchanged for a whole lease duration of our clock), never from the
/// `renewTime` another host wrote with its own clock.
public struct ReleaseLease: Sendable {
  public let client: KubeClient
  /// The cluster's name as messages show it.
  public let cluster: String
  public let release: String
  public let namespace: String
  /// Who holds it: the process's identity, `RUN/INSTANCE`.
  public let holder: String
  /// Earlier holders this one succeeds: processes of the same run known to be gone (the run's
  /// journal lists them and we hold its run lock), whose leases are taken over at once.
  public let succeeds: Set<String>
  /// Written on the Lease whenever this holder takes it: who it is, for the messages of others.
  public let annotations: [String: String]
  /// How long a holder that stopped renewing keeps it.
  public let duration: Duration
  public let clock: any RolloutClock

  public init(
    client: KubeClient, cluster: String, release: String, namespace: String, holder: String,
    succeeds: Set<String> = [], duration: Duration = .seconds(60), clock: any RolloutClock,
    name: String? = nil, annotations: [String: String] = [:]
  ) {
    self.name = name ?? "fleetwave-\(release)"
    self.annotations = annotations
    self.client = client
    self.cluster = cluster
    self.release = release
    self.namespace = namespace
    self.holder = holder
    self.succeeds = succeeds
    self.duration = duration
    self.clock = clock
  }

  /// `fleetwave-RELEASE` unless given.
  public let name: String

  private var durationSeconds: Int64 { max(1, duration.components.seconds) }

  /// Takes the lease: when free, ours, or held by an earlier process of our run that we succeed.
  /// With `force`, also from another holder that has stopped renewing: we watch the record for
  /// one lease duration of our own clock and take it only if nobody wrote it meanwhile (a
  /// holder that renews changes its resourceVersion at least every third of the duration).
  /// `cancellation` ends that watch early.
  public func acquire(force: Bool = false, cancellation: Cancellation? = nil)
    async throws(LeaseError)
  {
    let now = Self.microTime(clock.now())
    let fresh: Value = [
      "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
      "metadata": [
        "name": .string(name), "namespace": .string(namespace),
        "annotations": .mapping(annotationMapping),
      ],
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
    let current = live["spec"]?["holderIdentity"]?.string ?? ""
    if current.isEmpty || current == holder || succeeds.contains(current) {
      try await take(live)
      return
    }
    guard force else { throw heldError(live) }
    let observed = live["metadata"]?["resourceVersion"]?.string
    let expiry = clock.now().addingTimeInterval(DurationText.seconds(duration(of: live)))
    guard await clock.pause(until: expiry, cancellation: cancellation) else {
      throw LeaseError("gave up waiting for the lock on \(cluster): cancelled")
    }
    guard let later = try await read() else {
      // Deleted while we watched: free now.
      try await acquire(force: false, cancellation: cancellation)
      return
    }
    let holderNow = later["spec"]?["holderIdentity"]?.string ?? ""
    let untouched = later["metadata"]?["resourceVersion"]?.string == observed
    guard untouched || holderNow.isEmpty || holderNow == holder || succeeds.contains(holderNow)
    else { throw heldError(later, renewing: true) }
    try await take(later)
  }

  /// Writes us in as the holder of `live`, counting a transition when the holder changes.
  private func take(_ live: Value) async throws(LeaseError) {
    let now = Self.microTime(clock.now())
    let spec = live["spec"]
    let current = spec?["holderIdentity"]?.string ?? ""
    var taken = spec?.mapping ?? Mapping()
    if current != holder {
      taken["acquireTime"] = .string(now)
      let transitions = spec?["leaseTransitions"]?.int ?? 0
      taken["leaseTransitions"] = .int(current.isEmpty ? transitions : transitions + 1)
    }
    taken["holderIdentity"] = .string(holder)
    taken["leaseDurationSeconds"] = .int(durationSeconds)
    taken["renewTime"] = .string(now)
    try await swap(live, spec: taken, losing: "take", annotate: true)
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

  /// The lease duration its holder declared (ours when it declared none).
  private func duration(of lease: Value) -> Duration {
    .seconds(max(1, lease["spec"]?["leaseDurationSeconds"]?.int ?? durationSeconds))
  }

  private func heldError(_ lease: Value, renewing: Bool = false) -> LeaseError {
    let spec = lease["spec"]
    let owner = spec?["holderIdentity"]?.string ?? "?"
    let since = spec?["acquireTime"]?.string ?? "an unknown time"
    var message = "another operation is in progress on \(cluster): held by \(owner) since \(since)"
    if renewing {
      message += " (still renewing: not taken over)"
    }
    return LeaseError(message)
  }

  /// Writes `spec` over `live` only if nobody wrote in between (resourceVersion compare-and-swap).
  private func swap(
    _ live: Value, spec: Mapping, losing verb: String, annotate: Bool = false
  ) async throws(LeaseError) {
    var object = live.mapping ?? Mapping()
    object["spec"] = .mapping(spec)
    if annotate, !annotations.isEmpty, var metadata = live["metadata"]?.mapping {
      var merged = metadata["annotations"]?.mapping ?? Mapping()
      for (key, value) in annotations { merged[key] = .string(value) }
      metadata["annotations"] = .mapping(merged)
      object["metadata"] = .mapping(metadata)
    }
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

  private var annotationMapping: Mapping {
    var mapping = Mapping()
    for key in annotations.keys.sorted() { mapping[key] = annotations[key].map { .string($0) } }
    return mapping
  }

  /// Kubernetes' MicroTime: RFC 3339 with exactly six fractional digits, UTC.
  public static func microTime(_ date: Date) -> String {
    let iso = Timestamp.iso(date)
    return String(iso.dropLast()) + "000Z"
  }
}
