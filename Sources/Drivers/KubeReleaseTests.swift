// `helm test` in the kube driver: the deployed revision's test hooks run as helm's
// pkg/action/release_testing.go runs them - in weight-then-name order, each Pod created (its
// previous run deleted first under the default `before-hook-creation`), waited to
// `Succeeded`, the first failure stopping the rest - then each test Pod's log read back.
import FleetCore
import Foundation
import Kube

extension KubeDriver: ReleaseTesting {
  public func testRelease(
    on cluster: Cluster, run: String, timeout: Duration, clock: any RolloutClock,
    cancellation: Cancellation
  ) async -> ReleaseTestRun {
    let call = DriverCall(
      cluster: cluster, run: run, timeout: timeout, cancellation: cancellation, clock: clock,
      queue: DispatchQueue(label: "fleetwave.helm-test"))
    let begun = clock.now()
    let tests: [ReleaseHook]
    let revision: Int
    do throws(DriverError) {
      (revision, tests) = try await deployedTests(call)
    } catch {
      return ReleaseTestRun(passed: false, summary: error.message)
    }
    guard !tests.isEmpty else {
      return ReleaseTestRun(
        passed: true, summary: "revision \(revision) of \(release.name) has no test hooks")
    }
    let failure: DriverError?
    do throws(DriverError) {
      let manifest = ReleaseManifest(resources: [], hooks: tests)
      let deadline = begun.addingTimeInterval(DurationText.seconds(timeout))
      try await withSession(call, begun: begun) { session async throws(DriverError) in
        try await runHooks(.test, of: manifest, session, call, deadline: deadline)
      }
      failure = nil
    } catch {
      failure = error
    }
    let output = TestOutput.bounded(await logs(of: tests, cluster))
    guard let failure else {
      let count = tests.count == 1 ? "1 test" : "\(tests.count) tests"
      return ReleaseTestRun(
        passed: true, summary: "\(count) of revision \(revision) passed", output: output)
    }
    return ReleaseTestRun(passed: false, summary: failure.message, output: output)
  }

  /// The test hooks the deployed revision recorded (its render, for a record written before
  /// revisions carried hooks).
  private func deployedTests(_ call: DriverCall) async throws(DriverError) -> (Int, [ReleaseHook]) {
    let history = try history(call)
    let current: RevisionRecord?
    do {
      current = try await history.current()
    } catch {
      throw DriverError(.failed, error.description)
    }
    guard let current else {
      throw DriverError(.failed, "\(release.name) has no deployed revision to test")
    }
    let manifest: ReleaseManifest
    if let hooks = current.hooks {
      manifest = try split(hooks)
    } else {
      manifest = try await renderedManifest(call.cluster)
    }
    return (current.revision, manifest.hooks(for: .test))
  }

  /// Each test Pod's log, headed by its name, as `helm test --logs` prints them. A Pod its
  /// delete policy removed, or one that never started, has none to show.
  private func logs(of tests: [ReleaseHook], _ cluster: Cluster) async -> String {
    guard let client = try? client(cluster) else { return "" }
    var out: [String] = []
    for hook in tests where hook.kind == "Pod" {
      let key = hook.key
      let path = "/api/v1/namespaces/\(key.namespace ?? release.namespace)/pods/\(key.name)/log"
      guard let text = try? await client.readText(path: path) else { continue }
      out.append("POD LOGS: \(key.name)\n" + text.trimmingCharacters(in: .newlines))
    }
    return out.joined(separator: "\n")
  }
}
