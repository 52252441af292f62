// The `kube` driver: renders the release, server-side applies it with field manager
// `fleetwave`, waits for readiness, prunes, and records each revision as a Secret, all under
// the release's Lease. No helm at apply time: helm only renders.
import FleetCore
import Foundation
import Kube

public struct KubeDriverOptions: Sendable {
  /// How long applied workloads may take to become ready (never longer than the call's own
  /// timeout, the policy's clusterTimeout).
  public var readinessTimeout: Duration?
  /// How long the lease outlives a holder that stopped renewing.
  public var leaseDuration: Duration
  /// Take over a lease whose holder stopped renewing.
  public var forceUnlock: Bool
  /// The first pause between readiness polls; it doubles up to `maximumPoll`.
  public var firstPoll: Duration
  public var maximumPoll: Duration

  public init(
    readinessTimeout: Duration? = nil, leaseDuration: Duration = .seconds(60),
    forceUnlock: Bool = false, firstPoll: Duration = .milliseconds(250),
    maximumPoll: Duration = .seconds(5)
  ) {
    self.readinessTimeout = readinessTimeout
    self.leaseDuration = leaseDuration
    self.forceUnlock = forceUnlock
    self.firstPoll = firstPoll
    self.maximumPoll = maximumPoll
  }
}

public final class KubeDriver: Driver, @unchecked Sendable {
  public let name = "kube"
  public let renderer: ReleaseRenderer
  public var release: Release { renderer.release }
  /// The cluster's merged values (`--set` included).
  public let values: @Sendable (Cluster) throws(DriverError) -> Value
  /// The API connection of a cluster (kubeconfig context or server URL).
  public let connect: @Sendable (Cluster) throws(DriverError) -> ClusterConnection
  public let options: KubeDriverOptions

  private let lock = NSLock()
  /// One client per cluster, so discovery is done once per run.
  private var clients: [String: KubeClient] = [:]
  /// Calls under way per cluster. The executor may start a rollback while a timed-out upgrade
  /// of the same run is still unwinding; both hold the same lease (the run's), and only the
  /// last one out may release it.
  private var holders: [String: Int] = [:]
  /// Leases kept past a successful upgrade, through the cluster's health window, until
  /// `releaseKept`: each counts as one holder in `holders`. Released between upgrade and
  /// verdict, the lease let a second run of the fleet (another state directory, another run
  /// id) upgrade the cluster again while this run was still judging it.
  private var kept: [String: ReleaseLease] = [:]
  /// The one timer that renews every kept lease, each third of the lease duration, so a
  /// `--force-unlock` taker sees them renewing; nil while nothing is kept.
  private var keptRenewal: Cancellation?
  private let renewals = DispatchQueue(label: "fleetwave.kube-kept-leases")

  public init(
    renderer: ReleaseRenderer, values: @escaping @Sendable (Cluster) throws(DriverError) -> Value,
    connect: @escaping @Sendable (Cluster) throws(DriverError) -> ClusterConnection,
    options: KubeDriverOptions = KubeDriverOptions()
  ) {
    self.renderer = renderer
    self.values = values
    self.connect = connect
    self.options = options
  }

  // MARK: Driver

  public func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    let begun = call.clock.now()
    inTask(completion) { [self] () async throws(DriverError) -> String in
      try await withSession(call, begun: begun, keep: true) { session async throws(DriverError) in
        let values = try self.values(call.cluster)
        // Before placing: the chart's custom resources need their types served.
        try await installChartCRDs(session, call)
        let capabilities = try await kube(session) { () async throws(KubeError) in
          try await renderer.capabilities.capabilities(session.cluster, session.client)
        }
        let manifest = try split(
          await place(
            renderer.render(call.cluster, values: values, capabilities: capabilities), session))
        let record = RevisionRecord(
          release: release.name, namespace: release.namespace, revision: 0,
          status: .pendingUpgrade, objects: manifest.resources,
          valuesDigest: RevisionRecord.digest(values: values),
          version: release.version, chart: renderer.source, created: call.clock.now(),
          hooks: manifest.hooks.map(\.object))
        return String(try await deploy(record, session, call, hooks: manifest))
      }
    }
  }

  public func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    let begun = call.clock.now()
    inTask(completion) { [self] () async throws(DriverError) -> String in
      try await withSession(call, begun: begun) { session async throws(DriverError) in
        let records = try await kube(session) { () async throws(KubeError) in
          try await session.history.records()
        }
        let target: RevisionRecord
        if let revision {
          guard let number = Int(revision),
            let found = records.first(where: { $0.revision == number })
          else {
            throw DriverError(
              .failed, "no revision \(revision) of \(release.name) on \(call.cluster.name)")
          }
          target = found
        } else {
          // No revision to go back to: the release did not exist before this run.
          return try await uninstallFirstInstall(records, session, call)
        }
        var record = target
        record.status = .pendingRollback
        record.created = call.clock.now()
        record.description = "rollback to \(target.revision)"
        // The target's own pre-rollback and post-rollback hooks, as helm runs them; a record
        // written before revisions carried hooks has none to run.
        let hooks = try target.hooks.map { hooks throws(DriverError) in try split(hooks) }
        return String(try await deploy(record, session, call, hooks: hooks))
      }
    }
  }

  public func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    inTask(completion) { [self] () async throws(DriverError) -> String? in
      let history = try self.history(call)
      let current = try await kube(call) { () async throws(KubeError) in
        try await history.current()
      }
      return current.map { String($0.revision) }
    }
  }

  public func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>
  ) {
    inTask(completion) { [self] () async throws(DriverError) -> DeployedRelease? in
      let history = try self.history(call)
      let current = try await kube(call) { () async throws(KubeError) in
        try await history.current()
      }
      return current.map {
        DeployedRelease(
          revision: String($0.revision),
          carries: ReleaseTarget(version: $0.version, valuesDigest: $0.valuesDigest))
      }
    }
  }

  /// The release's version and the digest of the cluster's merged values, as revision records
  /// carry them.
  public func target(for cluster: Cluster, version: String?) throws(DriverError) -> ReleaseTarget {
    ReleaseTarget(
      version: release.version, valuesDigest: RevisionRecord.digest(values: try values(cluster)))
  }

  /// The cluster's revision history (for `fleetwave diff` and tests).
  public func history(_ call: DriverCall) throws(DriverError) -> RevisionHistory {
    RevisionHistory(
      client: try client(call.cluster), release: release.name, namespace: release.namespace)
  }

  /// The objects an upgrade applies to this cluster, namespaces filled in, hooks left out.
  public func rendered(_ cluster: Cluster) throws(DriverError) -> [Value] {
    try Blocking.wait { () async throws(DriverError) in try await self.rendered(cluster) }
  }

  public func rendered(_ cluster: Cluster) async throws(DriverError) -> [Value] {
    try await renderedManifest(cluster).resources
  }

  /// The release as rendered for this cluster, split into its resources and its hooks.
  public func renderedManifest(_ cluster: Cluster) async throws(DriverError) -> ReleaseManifest {
    let client = try client(cluster)
    let values = try self.values(cluster)
    let capabilities = try await kube(cluster.name) { () async throws(KubeError) in
      try await renderer.capabilities.capabilities(cluster.name, client)
    }
    return try split(
      await objects(
        renderer.render(cluster, values: values, capabilities: capabilities), client: client,
        cluster: cluster))
  }

  public func client(_ cluster: Cluster) throws(DriverError) -> KubeClient {
    lock.lock()
    if let existing = clients[cluster.name] {
      lock.unlock()
      return existing
    }
    lock.unlock()
    let client = KubeClient(connection: try connect(cluster))
    lock.lock()
    defer { lock.unlock() }
    if let raced = clients[cluster.name] { return raced }
    clients[cluster.name] = client
    return client
  }

  // MARK: Steps

  /// A call's working state: its client, history and held lease.
  final class Session: @unchecked Sendable {
    let client: KubeClient
    let history: RevisionHistory
    let lease: ReleaseLease
    let cluster: String
    var lastRenewal: Date

    init(
      client: KubeClient, history: RevisionHistory, lease: ReleaseLease, begun: Date, at: Date
    ) {
      self.client = client
      self.history = history
      self.lease = lease
      self.cluster = lease.cluster
      self.lastRenewal = at
      self.started = begun
    }

    /// When the executor made the call: readiness must be decided before its timeout.
    let started: Date
  }

  /// Runs `body` holding the cluster's lease, and gives the lease back however it ends; with
  /// `keep`, a success keeps it until `releaseKept`.
  func withSession<T>(
    _ call: DriverCall, begun: Date, keep: Bool = false,
    _ body: (Session) async throws(DriverError) -> T
  ) async throws(DriverError) -> T {
    let session = try await open(call, begun: begun)
    let result: Result<T, DriverError>
    do throws(DriverError) {
      result = .success(try await body(session))
      if keep {
        lock.withLock {
          guard kept[session.cluster] == nil else { return }
          kept[session.cluster] = session.lease
          holders[session.cluster, default: 0] += 1
          scheduleKeptRenewal(call.clock)
        }
      }
    } catch {
      result = .failure(error)
    }
    await close(session)
    return try result.get()
  }

  public func releaseKept(_ clusters: [Cluster]) {
    let leases: [ReleaseLease] = lock.withLock {
      clusters.compactMap { cluster in
        guard let lease = kept.removeValue(forKey: cluster.name) else { return nil }
        let remaining = (holders[cluster.name] ?? 1) - 1
        holders[cluster.name] = remaining > 0 ? remaining : nil
        // A rollback of the cluster still under way gives the lease back when it ends.
        return remaining > 0 ? nil : lease
      }
    }
    let idle: Cancellation? = lock.withLock {
      guard kept.isEmpty else { return nil }
      defer { keptRenewal = nil }
      return keptRenewal
    }
    idle?.cancel()
    guard !leases.isEmpty else { return }
    // Side by side on the HTTP loop; the caller waits, so the process cannot exit with a
    // cluster still locked in its name.
    Blocking.wait { () async in
      await withTaskGroup(of: Void.self) { group in
        for lease in leases { group.addTask { try? await lease.relinquish() } }
      }
    }
  }

  /// Caller holds `lock`. Starts the kept leases' renewal timer unless it runs.
  private func scheduleKeptRenewal(_ clock: any RolloutClock) {
    guard keptRenewal == nil, !kept.isEmpty else { return }
    let at = clock.now().addingTimeInterval(DurationText.seconds(options.leaseDuration) / 3)
    keptRenewal = clock.schedule(at: at, on: renewals) { [self] in renewKept(clock) }
  }

  /// Renews every kept lease side by side, then schedules the next round. A renewal that
  /// fails (the lease was given back meanwhile, or taken by force) changes nothing.
  private func renewKept(_ clock: any RolloutClock) {
    let leases = lock.withLock {
      keptRenewal = nil
      return Array(kept.values)
    }
    Task(executorPreference: Blocking.executor) { [self] in
      await withTaskGroup(of: Void.self) { group in
        for lease in leases { group.addTask { try? await lease.renew() } }
      }
      lock.withLock { scheduleKeptRenewal(clock) }
    }
  }

  private func open(_ call: DriverCall, begun: Date) async throws(DriverError) -> Session {
    let client = try client(call.cluster)
    // Everything a session writes names the process, as the home cluster's requests do.
    if let instance = call.instance { client.userAgent = instance.userAgent("fleetwave") }
    // A lease this run keeps on the cluster (its upgrade succeeded; its health window is open)
    // covers every later call on it: the `helmTest` gate's tests, a rollback. Acquiring again
    // would name the call's holder, which for a gate is the run without its instance.
    let keptLease: ReleaseLease? = lock.withLock {
      guard let lease = kept[call.cluster.name], Self.actsFor(call, lease.holder) else {
        return nil
      }
      holders[call.cluster.name, default: 0] += 1
      return lease
    }
    let lease: ReleaseLease
    if let keptLease {
      lease = keptLease
    } else {
      lease = try await acquireLease(call, client)
    }
    return Session(
      client: client,
      history: RevisionHistory(client: client, release: release.name, namespace: release.namespace),
      lease: lease, begun: begun, at: call.clock.now())
  }

  /// Whether `holder` acts for the call: it is the call's instance or, for a call made without
  /// one (a health gate's), an instance of the call's run.
  private static func actsFor(_ call: DriverCall, _ holder: String) -> Bool {
    if let instance = call.instance { return holder == instance.identity }
    return holder == call.run || holder.hasPrefix(call.run + "/")
  }

  private func acquireLease(_ call: DriverCall, _ client: KubeClient) async throws(DriverError)
    -> ReleaseLease
  {
    let lease = ReleaseLease(
      client: client, cluster: call.cluster.name, release: release.name,
      namespace: release.namespace, holder: call.instance?.identity ?? call.run,
      succeeds: call.instance?.succeeds ?? [], duration: options.leaseDuration,
      clock: call.clock)
    // The lease lives in the release namespace, so it must exist first.
    try await ensureNamespace(client, call.cluster.name)
    do {
      try await lease.acquire(force: options.forceUnlock, cancellation: call.cancellation)
    } catch {
      throw DriverError(.failed, error.message)
    }
    lock.withLock { holders[call.cluster.name, default: 0] += 1 }
    return lease
  }

  private func close(_ session: Session) async {
    let remaining = lock.withLock {
      let remaining = (holders[session.cluster] ?? 1) - 1
      holders[session.cluster] = remaining > 0 ? remaining : nil
      return remaining
    }
    if remaining <= 0 { try? await session.lease.relinquish() }
  }

  private func ensureNamespace(_ client: KubeClient, _ cluster: String) async throws(DriverError) {
    let namespace = release.namespace
    try await kube(cluster) { () async throws(KubeError) in
      if try await client.get(
        apiVersion: "v1", kind: "Namespace", namespace: nil, name: namespace) == nil
      {
        try await client.apply([
          "apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)],
        ])
      }
    }
  }

  private func place(_ rendered: [Value], _ session: Session) async throws(DriverError)
    -> [Value]
  {
    try await objects(rendered, client: session.client, clusterName: session.cluster)
  }

  private func objects(_ rendered: [Value], client: KubeClient, cluster: Cluster)
    async throws(DriverError)
    -> [Value]
  {
    try await objects(rendered, client: client, clusterName: cluster.name)
  }

  /// Namespaced objects without a namespace go to the release namespace; apply order follows
  /// helm's install order (namespaces and config before the workloads that mount them).
  private func objects(_ rendered: [Value], client: KubeClient, clusterName: String)
    async throws(DriverError) -> [Value]
  {
    var placed: [Value] = []
    for object in rendered {
      let mapping = try await kube(clusterName) { () async throws(KubeError) in
        try await client.mapping(
          apiVersion: object["apiVersion"]?.string ?? "", kind: object["kind"]?.string ?? "")
      }
      placed.append(mapping.namespaced ? Manifests.placing(object, in: release.namespace) : object)
    }
    return KindOrder.installing(placed)
  }

  /// Applies `record`'s objects as the next revision, waits for them, prunes what the previous
  /// revision had and this one has not, and records the outcome. Returns the new revision.
  private func deploy(
    _ proposed: RevisionRecord, _ session: Session, _ call: DriverCall,
    hooks: ReleaseManifest? = nil
  ) async throws(DriverError) -> Int {
    let records = try await kube(session) { () async throws(KubeError) in
      try await session.history.records()
    }
    // Helm installs when no revision was ever deployed, a failed first attempt included.
    let installing = !records.contains { $0.status == .deployed || $0.status == .superseded }
    let events: (before: HookEvent, after: HookEvent) =
      proposed.status == .pendingRollback
      ? (.preRollback, .postRollback)
      : installing ? (.preInstall, .postInstall) : (.preUpgrade, .postUpgrade)
    let hookDeadline = hookDeadline(session, call)
    var record = proposed
    if installing && record.status == .pendingUpgrade { record.status = .pendingInstall }
    record.revision = (records.last?.revision ?? 0) + 1
    if let left = records.last, left.status.isPending {
      // An attempt cut off mid-change (this process or another died; the Lease we hold says
      // nobody acts on it now). The same change is carried on under its revision, so a
      // resumed run leaves one record per change; a different change closes it as failed.
      if left.objects == record.objects && left.valuesDigest == record.valuesDigest
        && left.version == record.version
      {
        record.revision = left.revision
        record.status = left.status
      } else {
        var closed = left
        closed.status = .failed
        closed.description = [left.description, "interrupted before it finished"]
          .compactMap { $0 }.joined(separator: ": ")
        try await kube(session) { () async throws(KubeError) in
          try await session.history.save(closed)
        }
      }
    }
    // Recorded before anything is applied: a run that dies mid-apply still leaves a record of
    // what it may have created, so the next revision prunes it.
    try await kube(session) { () async throws(KubeError) in try await session.history.save(record) }
    do throws(DriverError) {
      if let hooks {
        try await runHooks(events.before, of: hooks, session, call, deadline: hookDeadline)
      }
      for object in record.objects {
        try checkCancelled(call)
        _ = try await kube(session) { () async throws(KubeError) in
          try await session.client.apply(object)
        }
      }
      try await waitForReadiness(record.objects, session, call)
      let keep = Set(record.objects.map(ObjectKey.init))
      var previous: [ObjectKey: Value] = [:]
      // What ran before (an attempt cut off while settling may have superseded it already)
      // and what the last attempt may have created.
      let ranBefore = records.last { $0.status == .deployed || $0.status == .superseded }
      for earlier in records
      where earlier.status == .deployed || earlier.revision == ranBefore?.revision
        || earlier.revision == records.last?.revision
      {
        for object in earlier.objects { previous[ObjectKey(object)] = object }
      }
      for (key, object) in previous.sorted(by: { $0.key < $1.key }) where !keep.contains(key) {
        try await kube(session) { () async throws(KubeError) in
          _ = try await session.client.delete(
            apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
            namespace: key.namespace,
            name: key.name)
        }
      }
      if let hooks {
        try await runHooks(events.after, of: hooks, session, call, deadline: hookDeadline)
      }
    } catch {
      record.status = .failed
      record.description = [record.description, error.message].compactMap { $0 }.joined(
        separator: ": ")
      try? await session.history.save(record)
      throw error
    }
    // Superseded first, as helm does: a process killed between the two writes leaves no
    // revision deployed and this one pending, which the next attempt carries on. The other
    // order would leave two revisions deployed, and a resumed run that finds the new one
    // deployed verifies the cluster without ever superseding the old one.
    record.status = .deployed
    let settled = record
    try await kube(session) { () async throws(KubeError) in
      for earlier in records where earlier.status == .deployed {
        try await session.history.mark(earlier, .superseded)
      }
      try await session.history.save(settled)
    }
    return record.revision
  }

  /// Polls each workload until it is ready, with doubling pauses on the call's clock, renewing
  /// the lease as it goes; fails at the first object that cannot become ready or at the deadline.
  private func waitForReadiness(_ objects: [Value], _ session: Session, _ call: DriverCall)
    async throws(DriverError)
  {
    // The executor stops the call at its timeout with a bare "timed out"; finishing a little
    // earlier lets the driver say which object was not ready and why.
    let margin = min(5, DurationText.seconds(call.timeout) / 10)
    let callDeadline = session.started.addingTimeInterval(
      DurationText.seconds(call.timeout) - margin)
    let limit = options.readinessTimeout ?? call.timeout
    let waitStart = call.clock.now()
    let deadline = min(callDeadline, waitStart.addingTimeInterval(DurationText.seconds(limit)))
    let waited = Duration.seconds(Int64(deadline.timeIntervalSince(waitStart).rounded()))
    var pending = objects.filter { KubeApplyOrder.workloads.contains($0["kind"]?.string ?? "") }
    var pause = options.firstPoll
    while true {
      try checkCancelled(call)
      var waiting: [(Value, String)] = []
      for object in pending {
        let key = ObjectKey(object)
        let live = try await kube(session) { () async throws(KubeError) in
          try await session.client.get(
            apiVersion: object["apiVersion"]?.string ?? "", kind: key.kind,
            namespace: key.namespace, name: key.name)
        }
        guard let live else {
          waiting.append((object, "\(key) does not exist"))
          continue
        }
        switch Readiness.of(live) {
        case .ready: continue
        case .failed(let message): throw await diagnosed(.failed, message, [object], session)
        case .progressing(let message): waiting.append((object, message))
        }
      }
      guard let first = waiting.first else { return }
      pending = waiting.map(\.0)
      let now = call.clock.now()
      if now >= deadline {
        throw await diagnosed(
          .timedOut, "not ready after \(DurationText.format(waited)): \(first.1)", pending,
          session)
      }
      if now.timeIntervalSince(session.lastRenewal) >= DurationText.seconds(options.leaseDuration)
        / 3
      {
        do {
          try await session.lease.renew()
        } catch {
          throw DriverError(.failed, error.message)
        }
        session.lastRenewal = now
      }
      let wake = min(deadline, now.addingTimeInterval(DurationText.seconds(pause)))
      guard await call.clock.pause(until: wake, cancellation: call.cancellation)
      else {
        throw DriverError(.cancelled, "cancelled")
      }
      pause = min(pause * 2, options.maximumPoll)
    }
  }

  /// The readiness failure with its cause, when the workloads' pods and events name one
  /// (docs/driver-kube.md, "Diagnosis"): three list requests, once per failed call.
  private func diagnosed(
    _ kind: DriverError.Kind, _ message: String, _ workloads: [Value], _ session: Session
  ) async -> DriverError {
    guard let diagnosis = await Diagnosis.read(workloads, client: session.client) else {
      return DriverError(kind, message)
    }
    return DriverError(kind, diagnosis.explaining(message))
  }

  private func checkCancelled(_ call: DriverCall) throws(DriverError) {
    if call.cancellation.isCancelled { throw DriverError(.cancelled, "cancelled") }
  }

  private func kube<T>(_ session: Session, _ body: () async throws(KubeError) -> T)
    async throws(DriverError) -> T
  {
    try await kube(session.cluster, body)
  }

  private func kube<T>(_ call: DriverCall, _ body: () async throws(KubeError) -> T)
    async throws(DriverError) -> T
  {
    try await kube(call.cluster.name, body)
  }

  /// API failures become driver failures; the message already names the cluster's context.
  /// An API that cannot be reached is said so, so the executor may defer the cluster.
  private func kube<T>(_ cluster: String, _ body: () async throws(KubeError) -> T)
    async throws(DriverError) -> T
  {
    do {
      return try await body()
    } catch {
      throw DriverError(error.isUnreachable ? .unreachable : .failed, error.description)
    }
  }

  /// A call is a task, not a thread: it holds no thread while it waits for the API server
  /// (requests run on the HTTP loop) or between readiness polls (a timer on the call's clock),
  /// so a slow API server holds up only its own cluster and costs nothing while it is slow.
  private func inTask<T: Sendable>(
    _ completion: @escaping DriverCompletion<T>,
    _ work: @escaping @Sendable () async throws(DriverError) -> T
  ) {
    driverTask(completion, work)
  }
}

/// The kinds whose readiness an upgrade waits for (helm's install order is `KindOrder`).
enum KubeApplyOrder {
  static let workloads: Set<String> = ["Deployment", "StatefulSet", "DaemonSet", "Job"]
}
