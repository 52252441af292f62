// A resumed run asks the driver what each cluster caught mid-change runs, in terms it can
// compare with the target (revision, version, values digest): a change that landed before the
// crash is verified, not applied again, even when the upgrade's answer was never journaled.
import Drivers
import Executor
import FleetCore
import Foundation
import Testing

/// A driver that reports, per cluster, a deployed revision carrying some values digest, and
/// counts the upgrades it is asked for.
private final class RecordedStateDriver: Driver, @unchecked Sendable {
  let name = "recorded"
  /// The digest each cluster's deployed revision carries.
  let deployedDigest: [String: String]
  /// The digest an upgrade of each cluster would deploy.
  let targetDigest: [String: String]
  private let lock = NSLock()
  private var upgraded: [String] = []

  init(deployed: [String: String], target: [String: String]) {
    deployedDigest = deployed
    targetDigest = target
  }

  var upgrades: [String] { lock.withLock { upgraded.sorted() } }

  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    lock.withLock { upgraded.append(call.cluster.name) }
    completion(.success("8"))
  }

  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    completion(.success("9"))
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    completion(.success("7"))
  }

  func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>
  ) {
    let digest = deployedDigest[call.cluster.name]
    let version = call.cluster.name == "other-version" ? "1.4.1" : "1.4.2"
    completion(
      .success(
        DeployedRelease(
          revision: "7", carries: ReleaseTarget(version: version, valuesDigest: digest))))
  }

  func target(for cluster: Cluster, version: String?) throws(DriverError) -> ReleaseTarget {
    ReleaseTarget(version: version, valuesDigest: targetDigest[cluster.name])
  }
}

@Suite struct ResumeDeployedTests {
  @Test func aChangeThatLandedBeforeTheCrashIsVerifiedNotAppliedAgain() throws {
    let members = ["landed", "stale", "other-version"]
    let driver = RecordedStateDriver(
      deployed: ["landed": "v-new", "stale": "v-old", "other-version": "v-new"],
      target: ["landed": "v-new", "stale": "v-new", "other-version": "v-new"])
    let midChange = { (name: String) in
      ClusterRunRecord(name: name, wave: 0, phase: .upgrading, startedAt: Date())
    }
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    let executor = try Executor(
      plan: plan([WaveShape(name: "all", clusters: members)]), clusters: clusters(members),
      driver: driver, clock: clock,
      options: ExecutorOptions(
        run: "run-1", failurePolicy: FailurePolicy(rollback: .none),
        resumeFrom: RecordedRun(
          clusters: Dictionary(uniqueKeysWithValues: members.map { ($0, midChange($0)) }))))
    let summary = executor.runInVirtualTime(clock)
    #expect(summary.outcome == .succeeded)
    // `landed` runs the target already; `stale` carries other values, `other-version` another
    // version (the plan's is 1.4.2).
    #expect(driver.upgrades == ["other-version", "stale"])
    #expect(summary.record("landed")?.toRevision == "7")
    #expect(summary.record("stale")?.toRevision == "8")
  }
}
