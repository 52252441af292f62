// The kube state backend against fleet-sim over TLS: a run's journal as a chain of Secrets
// appended by compare-and-swap, and the fleet's run lock as a Lease that renews and fences.
import Engine
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Journal
import Kube
import Testing

@Suite struct KubeStateStoreTests {
  final class Home: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: FleetSimServer
    let kubeconfig: String

    /// With `requestLog`, fleet-sim writes a line per mutating request to `requestLogPath`.
    init(requestLog: Bool = false) throws {
      directory = try TemporaryDirectory("kube-state")
      var options = FleetSimOptions(
        tls: true, stateDirectory: directory.file("state"), threads: 2)
      options.requestLog = requestLog ? directory.file("requests.jsonl") : nil
      server = try FleetSimServer.start(clusters: VirtualClusterSpec.numbered(1), options: options)
      kubeconfig = directory.file("kubeconfig")
      try server.writeKubeconfig(to: kubeconfig, tls: true)
      try client().apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "fw"]])
    }

    deinit {
      server.shutdown()
      directory.remove()
    }

    var requestLogPath: String { directory.file("requests.jsonl") }

    func client() throws -> KubeClient {
      KubeClient(
        connection: try Kubeconfig.load(paths: [kubeconfig], explicit: true).connection(
          context: "sim-0001"))
    }

    func store(chunkLimit: Int = 512 * 1024, clock: any RolloutClock = SystemClock()) throws
      -> KubeStateStore
    {
      KubeStateStore(
        client: try client(), home: KubeStateLocation(context: "sim-0001", namespace: "fw"),
        chunkLimit: chunkLimit, clock: clock)
    }
  }

  let start = Date(timeIntervalSince1970: 1_800_000_000)

  func header(_ id: String) -> RunHeader {
    RunHeader(
      id: id, fleet: "demo", release: "checkout", version: "1.4.2", fleetDigest: "sha256:1234",
      plan: ["fleet": "demo", "waves": [["index": 0, "name": "canary", "clusters": ["a"]]]],
      startedAt: start, host: "ci-1", pid: 42, user: "ops", instance: "p1x7ka")
  }

  @Test func locationsParseAndBadOnesSayWhatIsExpected() throws {
    #expect(
      try KubeStateLocation.parse("kube://home-admin/fleetwave")
        == KubeStateLocation(context: "home-admin", namespace: "fleetwave"))
    #expect(try KubeStateLocation.parse("/var/lib/fleetwave") == nil)
    // A context may hold slashes (EKS names contexts by ARN); a namespace cannot.
    #expect(
      try KubeStateLocation.parse("kube://arn:aws:eks:eu-west-1:1234:cluster/home/fleetwave")
        == KubeStateLocation(
          context: "arn:aws:eks:eu-west-1:1234:cluster/home", namespace: "fleetwave"))
    let message =
      "--state kube://home/Fleet_Wave: expected kube://CONTEXT/NAMESPACE (a kubeconfig context "
      + "and a namespace name of lowercase letters, digits and '-')"
    #expect(throws: EngineError(message)) { try KubeStateLocation.parse("kube://home/Fleet_Wave") }
    #expect(throws: EngineError.self) { try KubeStateLocation.parse("kube://home") }
  }

  @Test func aRunWrittenFromOneMachineReadsTheSameFromAnother() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let writer = try home.store(clock: clock)
    let journal = try writer.createRun(header("demo-20270115T080000-k3f9"), clock: clock)
    try journal.append(.wave(index: 0, state: "running", name: "canary"))
    try journal.append(.cluster(name: "a", state: "upgrading", revision: "2"))
    clock.advance(by: .seconds(30))
    try journal.append(.cluster(name: "a", state: "succeeded", revision: "2"))
    #expect(
      throws: EngineError("run demo-20270115T080000-k3f9 already exists in kube://sim-0001/fw")
    ) {
      try writer.createRun(header("demo-20270115T080000-k3f9"), clock: clock)
    }

    let reader = try home.store()
    #expect(reader.listRuns() == ["demo-20270115T080000-k3f9"])
    let stored = try reader.readRun("demo-20270115T080000-k3f9")
    #expect(stored.header == header("demo-20270115T080000-k3f9"))
    #expect(stored.records.map(\.sequence) == [1, 2, 3, 4])
    #expect(stored.state.clusters["a"]?.state == "succeeded")
    #expect(stored.state.clusters["a"]?.finishedAt == start.addingTimeInterval(30))
    #expect(stored.state.instances == ["p1x7ka"])
    #expect(
      throws: EngineError(
        "no run 'demo-20270115T080000-k3f8' in kube://sim-0001/fw; "
          + "did you mean 'demo-20270115T080000-k3f9'?")
    ) { try reader.readRun("demo-20270115T080000-k3f8") }

    // An approval from another machine lands in the run's sequence; the run's own journal
    // sees it on refresh and appends after it.
    _ = try reader.appendFromOutside(
      "demo-20270115T080000-k3f9", .approval(wave: 0, by: "alice", name: "canary"), clock: clock)
    journal.refresh()
    #expect(journal.state.approvals == ["canary": "alice"])
    let finished = try journal.append(.runFinished(outcome: "succeeded"))
    #expect(finished.sequence == 6)
    #expect(try reader.readRun("demo-20270115T080000-k3f9").state.outcome == "succeeded")
  }

  @Test func moreThanAMebibyteOfRecordsSpillsIntoChunksAndReadsBackWhole() throws {
    let home = try Home()
    let store = try home.store()
    let journal = try store.createRun(header("big"), clock: SystemClock())
    let detail = String(repeating: "x", count: 30_000)
    for index in 0..<40 {
      try journal.append(
        .measurement(
          cluster: "c\(index)", wave: "all",
          FleetCore.Measurement(
            gate: "errors", at: Date(timeIntervalSince1970: 1_800_000_000), value: Double(index),
            outcome: .passed, detail: detail)))
    }
    let stored = try store.readRun("big")
    #expect(stored.records.count == 41)
    #expect(stored.records.map(\.sequence) == Array(1...41))
    let client = try home.client()
    let chunks = try client.list(
      apiVersion: "v1", kind: "Secret", namespace: "fw",
      labelSelector: "app.kubernetes.io/managed-by=fleetwave")
    // 40 records of ~30 kB: about 1.2 MB of lines, at most 512 KiB per chunk.
    #expect(chunks.count == 3)
    for chunk in chunks {
      let size = Data(base64Encoded: chunk["data"]?["records"]?.string ?? "")?.count ?? 0
      #expect(size <= 512 * 1024)
    }
  }

  @Test func twoAppendersRacingOnOneRunLoseNoRecord() throws {
    let home = try Home()
    let store = try home.store(chunkLimit: 8 * 1024)
    _ = try store.createRun(header("race"), clock: SystemClock())
    let writers = 2
    let each = 40
    let ready = DispatchGroup()
    let go = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    let failures = Collected()
    for writer in 0..<writers {
      ready.enter()
      done.enter()
      Thread.detachNewThread {
        defer { done.leave() }
        guard let (journal, _) = try? store.reopenRun("race", clock: SystemClock()) else {
          failures.add("writer \(writer) could not open the run")
          ready.leave()
          return
        }
        ready.leave()
        go.wait()
        for index in 0..<each {
          do {
            try journal.append(.cluster(name: "w\(writer)-\(index)", state: "upgrading"))
          } catch {
            failures.add("\(error)")
          }
        }
      }
    }
    ready.wait()
    for _ in 0..<writers { go.signal() }
    #expect(done.wait(timeout: .now() + 120) == .success)
    #expect(failures.items == [])
    let stored = try store.readRun("race")
    #expect(stored.records.map(\.sequence) == Array(1...(1 + writers * each)))
    #expect(stored.state.clusters.count == writers * each)
    // Each writer's records in the order it wrote them.
    for writer in 0..<writers {
      let mine = stored.records.compactMap { record -> String? in
        guard case .cluster(let name, _, _, _, _) = record.entry, name.hasPrefix("w\(writer)-")
        else { return nil }
        return name
      }
      #expect(mine == (0..<each).map { "w\(writer)-\($0)" })
    }
  }

  @Test func aRenewingHolderKeepsTheRunLockAndASilentOneIsWaitedOut() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let store = try home.store(clock: clock)
    let first = RunInstance(run: "demo-1", token: "aaaaaa")
    let held = try store.lock(fleet: "demo", instance: first, at: clock.now())
    #expect(held.previousHolder == nil)

    // A second runner watches the lock for a lease duration (15 s) while the holder renews
    // every 5 s: it is refused, and told who holds the lock.
    let refused = LockAttempt(store, RunInstance(run: "demo-2", token: "bbbbbb"), clock: clock)
    // Pending: the holder's renewal and fence, the second runner's watch.
    #expect(clock.waitForTimers(3))
    clock.advance(by: .seconds(5))
    // The holder renews on its own timer (its queue, not this thread): wait until it landed.
    let renewedAt = "2027-01-15T08:00:05.000000Z"
    let lease = store.lockLease(fleet: "demo", holder: "observer", annotations: [:])
    #expect(
      try (0..<1000).first { _ in
        if try lease.read()?["spec"]?["renewTime"]?.string == renewedAt { return true }
        Thread.sleep(forTimeInterval: 0.01)
        return false
      } != nil)
    clock.advance(by: .seconds(10))
    let refusal = try #require(refused.result())
    #expect(refusal.hasPrefix("another rollout of fleet 'demo' is in progress: run demo-1 (host "))

    // A holder that died without releasing (nothing renews its lease): the next runner waits
    // the lease out and takes over, naming who held it before.
    held.release()
    let abandoned = store.lockLease(
      fleet: "demo", holder: "demo-1/dead00",
      annotations: [
        "fleetwave.io/run": "demo-1", "fleetwave.io/host": "ci-9", "fleetwave.io/pid": "7",
        "fleetwave.io/since": "2027-01-15T08:00:00.000Z",
      ])
    try abandoned.acquire()
    let taking = LockAttempt(store, RunInstance(run: "demo-3", token: "cccccc"), clock: clock)
    #expect(clock.waitForTimers(1))
    clock.advance(by: .seconds(15))
    #expect(
      taking.result() == "taken after run demo-1 (host ci-9, pid 7, since 2027-01-15T08:00:00.000Z)"
    )
  }

  @Test func aHolderThatCannotRenewIsFencedAtTheRenewDeadline() throws {
    let home = try Home()
    let clock = ManualClock(start: start)
    let store = try home.store(clock: clock)
    let held = try store.lock(
      fleet: "demo", instance: RunInstance(run: "demo-1", token: "aaaaaa"), at: clock.now())
    let lost = Collected()
    let fenced = DispatchSemaphore(value: 0)
    held.onLost {
      lost.add($0)
      fenced.signal()
    }
    // The home cluster becomes unreachable.
    home.server.shutdown()
    clock.advance(by: .seconds(9))
    #expect(lost.items == [])
    // The renewal at 5 s failed; at the renew deadline the run is fenced.
    clock.advance(by: .seconds(1))
    #expect(fenced.wait(timeout: .now() + 10) == .success)
    let reason = try #require(lost.items.first)
    // The failed renewal's error is named when it came back before the deadline; the fence
    // does not wait for a renewal still in flight.
    #expect(reason.hasPrefix("lost the run lock in the home cluster"))
    #expect(
      reason.hasSuffix(
        ": not renewed within 10s; stopping, no cluster starts after the renew deadline"))
  }
}

/// A run-lock attempt on a thread of its own; `result` waits for it.
final class LockAttempt: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var outcome: String?

  init(_ store: KubeStateStore, _ instance: RunInstance, clock: ManualClock) {
    Thread.detachNewThread { [self] in
      do throws(RunLockError) {
        let lock = try store.lock(fleet: "demo", instance: instance, at: clock.now())
        outcome = "taken" + (lock.previousHolder.map { " after \($0)" } ?? "")
        lock.release()
      } catch {
        outcome = error.description
      }
      done.signal()
    }
  }

  /// The outcome; nil when the attempt hung.
  func result() -> String? {
    done.wait(timeout: .now() + 60) == .success ? outcome : nil
  }
}
