// Jobs that fail after backoffLimit, CronJobs on the clock, Pods no workload owns running to an
// end, pods/log, and strict images, on a ManualClock at speed 1.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct BatchControllerTests {
  private let jobs = "/apis/batch/v1/namespaces/default/jobs"
  private let pods = "/api/v1/namespaces/default/pods"

  private func get(_ sim: SimFixture, _ path: String) throws -> Value {
    sim.server.settle()
    return try #require(try HTTPExchange.send("GET", sim.url("sim-0001", path)).json)
  }

  private func post(_ sim: SimFixture, _ path: String, _ body: String) throws {
    let answer = try HTTPExchange.send(
      "POST", sim.url("sim-0001", path), body: body, contentType: "application/json")
    #expect(answer.status == 201, "\(answer.body)")
  }

  /// `NAME PHASE STATE RESTARTS` for each pod, by name.
  private func podSummary(_ sim: SimFixture) throws -> [String] {
    let items = try get(sim, pods)["items"]?.sequence ?? []
    return items.map { pod in
      let status = pod.at("status", "containerStatuses")?.sequence?.first
      let state =
        status?.at("state", "waiting", "reason")?.string
        ?? status?.at("state", "terminated", "reason")?.string
        ?? (status?.at("state", "running") != nil ? "Running" : "-")
      return [
        pod.name, pod.at("status", "phase")?.string ?? "-", state,
        status?["restartCount"]?.scalarText ?? "-",
      ].joined(separator: " ")
    }.sorted()
  }

  private func jobSummary(_ status: Value) -> String {
    let counts = ["active", "ready", "failed", "succeeded"].map {
      "\($0)=\(status[$0]?.scalarText ?? "-")"
    }
    let conditions = (status["conditions"]?.sequence ?? []).map {
      "\($0["type"]?.string ?? "") \($0["reason"]?.string ?? "")"
    }
    return (counts + conditions).joined(separator: " ")
  }

  private func job(name: String, image: String, restartPolicy: String, extra: String = "")
    -> String
  {
    #"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":""# + name
      + #""},"spec":{"backoffLimit":2"# + extra + #","template":{"metadata":{"labels":"#
      + #"{"app":"hook"}},"spec":{"restartPolicy":""# + restartPolicy
      + #"","containers":[{"name":"main","image":""# + image + #""}]}}}}"#
  }

  @Test func aCrashingJobFailsAfterItsBackoffLimitWithTheControllersConditions() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [ImageFault(match: "*:crashy", effect: .crashLoop)])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    try post(sim, jobs, job(name: "migrate", image: "db:crashy", restartPolicy: "Never"))
    let created = try get(sim, jobs + "/migrate")
    let uid = try #require(created.at("metadata", "uid")?.string)
    #expect(
      created.at("spec", "selector")
        == ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]])
    #expect(
      created.at("spec", "template", "metadata", "labels")
        == [
          "app": "hook", "batch.kubernetes.io/controller-uid": .string(uid),
          "batch.kubernetes.io/job-name": "migrate", "controller-uid": .string(uid),
          "job-name": "migrate",
        ])
    #expect(
      created.at("metadata", "labels") == created.at("spec", "template", "metadata", "labels"))

    // Each attempt runs 2 s; retries wait 10 s, then 20 s; the third failure is past the limit.
    var seen = [jobSummary(created["status"] ?? .null)]
    for seconds in [2, 10, 2, 20, 2] {
      clock.advance(by: .seconds(seconds))
      seen.append(jobSummary(try get(sim, jobs + "/migrate")["status"] ?? .null))
    }
    #expect(
      seen == [
        "active=1 ready=1 failed=- succeeded=-",
        "active=- ready=0 failed=1 succeeded=-",
        "active=1 ready=1 failed=1 succeeded=-",
        "active=- ready=0 failed=2 succeeded=-",
        "active=1 ready=1 failed=2 succeeded=-",
        "active=- ready=0 failed=3 succeeded=- FailureTarget BackoffLimitExceeded "
          + "Failed BackoffLimitExceeded",
      ])
    let failed = try get(sim, jobs + "/migrate")
    let condition = try #require(failed.at("status", "conditions")?.sequence?.last)
    #expect(condition["message"] == "Job has reached the specified backoff limit")
    #expect(condition["lastTransitionTime"] == "2027-01-15T08:00:36Z")
    let summary = try podSummary(sim)
    #expect(summary.count == 3)
    #expect(summary.allSatisfy { $0.hasSuffix(" Failed Error 0") })
    let events = (try get(sim, "/api/v1/namespaces/default/events")["items"]?.sequence ?? [])
      .filter { $0.at("involvedObject", "kind") == "Job" }
      .map { "\($0["reason"]?.string ?? "") \($0["message"]?.string ?? "")" }
    #expect(events.filter { $0.hasPrefix("SuccessfulCreate Created pod: migrate-") }.count == 3)
    #expect(events.contains("BackoffLimitExceeded Job has reached the specified backoff limit"))
    // The logs of a failed attempt say how it ended.
    let firstPod = try #require(summary.first?.split(separator: " ").first)
    let log = try HTTPExchange.send("GET", sim.url("sim-0001", "\(pods)/\(firstPod)/log"))
    #expect(log.status == 200)
    #expect(
      log.body
        == "fleet-sim: container main started from image db:crashy\n"
        + "fleet-sim: container main exited with code 1\n")

    // Deleting the Job takes its pods.
    #expect(try HTTPExchange.send("DELETE", sim.url("sim-0001", jobs + "/migrate")).status == 200)
    #expect(try podSummary(sim) == [])
  }

  @Test func onFailureRestartsInPlaceAndANeverReadyJobEndsAtItsDeadline() throws {
    let clock = ManualClock()
    let faults = FaultSet(images: [
      ImageFault(match: "*:crashy", effect: .crashLoop),
      ImageFault(match: "*:missing", effect: .neverReady),
    ])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    try post(sim, jobs, job(name: "crash", image: "db:crashy", restartPolicy: "OnFailure"))
    try post(
      sim, jobs,
      job(
        name: "pull", image: "db:missing", restartPolicy: "Never",
        extra: #","activeDeadlineSeconds":30"#))
    clock.advance(by: .seconds(2))
    #expect(
      jobSummary(try get(sim, jobs + "/crash")["status"] ?? .null)
        == "active=1 ready=0 failed=- succeeded=-")
    #expect(
      try podSummary(sim).map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
        == ["Running CrashLoopBackOff 1", "Pending ImagePullBackOff 0"])
    clock.advance(by: .seconds(34))
    #expect(
      jobSummary(try get(sim, jobs + "/crash")["status"] ?? .null)
        == "active=- ready=0 failed=1 succeeded=- FailureTarget BackoffLimitExceeded "
        + "Failed BackoffLimitExceeded")
    let pull = try get(sim, jobs + "/pull")
    #expect(
      jobSummary(pull["status"] ?? .null)
        == "active=- ready=0 failed=1 succeeded=- FailureTarget DeadlineExceeded "
        + "Failed DeadlineExceeded")
    #expect(
      pull.at("status", "conditions")?.sequence?.last?["message"]
        == "Job was active longer than specified deadline")
    // Both Jobs' remaining pods were removed when they failed.
    #expect(try podSummary(sim) == [])
  }

  @Test func barePodsRunToAnEndAndStrictImagesCannotBePulled() throws {
    let clock = ManualClock()
    let faults = FaultSet(
      images: [ImageFault(match: "*:crashy", effect: .crashLoop)],
      allowedImages: ["registry.local/*"])
    let sim = try SimFixture(speed: 1, clock: clock, faults: faults)
    func pod(_ name: String, _ image: String, _ policy: String) -> String {
      #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":""# + name
        + #""},"spec":{"restartPolicy":""# + policy
        + #"","containers":[{"name":"test","image":""# + image + #""}]}}"#
    }
    try post(sim, pods, pod("smoke", "registry.local/curl:8", "Never"))
    try post(sim, pods, pod("crash", "registry.local/app:crashy", "Never"))
    try post(sim, pods, pod("server", "registry.local/app:1", "Always"))
    try post(sim, pods, pod("outside", "docker.io/busybox:1", "Never"))
    var seen = [try podSummary(sim)]
    let waiting = try HTTPExchange.send("GET", sim.url("sim-0001", pods + "/smoke/log"))
    #expect(waiting.status == 400)
    #expect(
      waiting.json?["message"]?.string
        == "container \"test\" in pod \"smoke\" is waiting to start: ContainerCreating")
    for _ in 0..<2 {
      clock.advance(by: .seconds(2))
      seen.append(try podSummary(sim))
    }
    #expect(
      seen == [
        [
          "crash Pending ContainerCreating 0", "outside Pending ImagePullBackOff 0",
          "server Pending ContainerCreating 0", "smoke Pending ContainerCreating 0",
        ],
        [
          "crash Running Running 0", "outside Pending ImagePullBackOff 0",
          "server Running Running 0", "smoke Running Running 0",
        ],
        [
          "crash Failed Error 0", "outside Pending ImagePullBackOff 0",
          "server Running Running 0", "smoke Succeeded Completed 0",
        ],
      ])
    let log = try HTTPExchange.send("GET", sim.url("sim-0001", pods + "/smoke/log"))
    #expect(log.status == 200)
    #expect(log.headers["content-type"] == "text/plain; charset=utf-8")
    #expect(
      log.body
        == "fleet-sim: container test started from image registry.local/curl:8\n"
        + "fleet-sim: container test exited with code 0\n")
    let pull = try HTTPExchange.send("GET", sim.url("sim-0001", pods + "/outside/log"))
    #expect(pull.status == 400)
    #expect(
      pull.json?["message"]?.string
        == "container \"test\" in pod \"outside\" is waiting to start: trying and failing to "
        + "pull image")
    let tail = try HTTPExchange.send(
      "GET", sim.url("sim-0001", pods + "/smoke/log?container=test&tailLines=1"))
    #expect(tail.body == "fleet-sim: container test exited with code 0\n")
    let wrong = try HTTPExchange.send("GET", sim.url("sim-0001", pods + "/smoke/log?container=x"))
    #expect(wrong.json?["message"]?.string == "container x is not valid for pod smoke")
  }

  @Test func aCronJobCreatesJobsOnTheClockAndKeepsItsHistoryLimit() throws {
    let clock = ManualClock()  // 2027-01-15T08:00:00Z
    let sim = try SimFixture(speed: 1, clock: clock)
    let cronJobs = "/apis/batch/v1/namespaces/default/cronjobs"
    try post(
      sim, cronJobs,
      #"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"report"},"spec":{"#
        + #""schedule":"*/5 * * * *","successfulJobsHistoryLimit":2,"jobTemplate":{"#
        + #""metadata":{"labels":{"app":"report"}},"spec":{"template":{"spec":{"#
        + #""restartPolicy":"OnFailure","containers":[{"name":"r","image":"report:1"}]}}}}}}"#)
    #expect(try get(sim, jobs)["items"]?.sequence?.count == 0)
    var names: [[String]] = []
    for _ in 0..<3 {
      clock.advance(by: .seconds(300))
      sim.server.settle()
      names.append(
        (try get(sim, jobs)["items"]?.sequence ?? []).map(\.name).sorted())
    }
    #expect(
      names == [
        ["report-30000005"], ["report-30000005", "report-30000010"],
        ["report-30000010", "report-30000015"],
      ])
    let job = try get(sim, jobs + "/report-30000015")
    #expect(job.at("metadata", "labels", "app") == "report")
    #expect(
      job.at("metadata", "annotations", "batch.kubernetes.io/cronjob-scheduled-timestamp")
        == "2027-01-15T08:15:00Z")
    #expect(job.at("metadata", "ownerReferences")?.sequence?.first?["kind"] == "CronJob")
    #expect(job.at("status", "succeeded") == 1)
    let cron = try get(sim, cronJobs + "/report")
    #expect(cron.at("status", "lastScheduleTime") == "2027-01-15T08:15:00Z")

    // Deleting the CronJob takes its Jobs.
    #expect(
      try HTTPExchange.send("DELETE", sim.url("sim-0001", cronJobs + "/report")).status == 200)
    sim.server.settle()
    #expect(try get(sim, jobs)["items"]?.sequence?.count == 0)
  }

  @Test(arguments: [
    ("*/15 9-17 * * 1-5", "2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z"),
    ("0 0 1 * *", "2027-01-15T08:00:00Z", "2027-02-01T00:00:00Z"),
    ("@hourly", "2027-01-15T08:30:00Z", "2027-01-15T09:00:00Z"),
    ("30 6 * * 0", "2027-01-15T08:00:00Z", "2027-01-17T06:30:00Z"),
  ])
  func cronSchedulesFindTheNextMinute(schedule: String, after: String, next: String) throws {
    let parsed = try #require(CronSchedule(schedule))
    let from = try #require(KubeTime.parse(after))
    #expect(parsed.next(after: from).map(KubeTime.format) == next)
  }

  @Test func malformedSchedulesAreRefused() {
    #expect(CronSchedule("61 * * * *") == nil)
    #expect(CronSchedule("* * *") == nil)
    #expect(CronSchedule("*/0 * * * *") == nil)
  }
}
