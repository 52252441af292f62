// `helm test` in the helm driver: helm runs the test hooks itself; its exit status is the
// verdict and the tail of what it printed (`--logs`: each test Pod's log) the detail.
import FleetCore
import Foundation

extension HelmDriver: ReleaseTesting {
  public func testRelease(
    on cluster: Cluster, run: String, timeout: Duration, clock: any RolloutClock,
    cancellation: Cancellation
  ) async -> ReleaseTestRun {
    let words = commandLine.test(cluster, timeout: timeout)
    // helm's own --timeout ends the tests; the process limit is a backstop past it, so helm
    // says which test was late rather than being killed silently.
    let process = HelmProcess(
      helm: commandLine.helm, environment: baseEnvironment,
      timeout: timeout + .seconds(Int64(killGrace) + 5))
    let output: HelmOutput
    do throws(DriverError) {
      output = try await process.outcome(
        Array(words.dropFirst()), clock: clock, cancellation: cancellation)
    } catch {
      return ReleaseTestRun(passed: false, summary: error.message)
    }
    let printed = TestOutput.bounded(output.stdout + "\n" + output.stderr)
    guard output.status == 0 else {
      let error = output.stderr.split(whereSeparator: \.isNewline)
        .last { $0.hasPrefix("Error: ") }
        .map { String($0.prefix(500)) }
      return ReleaseTestRun(
        passed: false,
        summary: error.map { TestOutput.bounded($0) }
          ?? "helm test exited with status \(output.status)",
        output: printed)
    }
    return ReleaseTestRun(passed: true, summary: "helm test passed", output: printed)
  }
}
