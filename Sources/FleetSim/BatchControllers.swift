// Workloads that run to an end: Jobs (retried with back-off until `backoffLimit`, failing with
// the job controller's conditions), and Pods no workload owns (`helm test` and hook Pods), which
// the kubelet runs to `Succeeded` or `Failed`. Image faults decide how each container runs.
import FleetCore
import Foundation

/// One container's state in a simulated pod, as the kubelet reports it.
enum ContainerRun: Equatable {
  /// Waiting with this reason: `ContainerCreating`, `ImagePullBackOff`, `CrashLoopBackOff`.
  case waiting(String, restarts: Int)
  case running(restarts: Int)
  /// Exited with this code; `Completed` for 0, `Error` otherwise.
  case exited(code: Int, restarts: Int)

  var restarts: Int {
    switch self {
    case .waiting(_, let count), .running(let count), .exited(_, let count): return count
    }
  }
}

/// Where a pod that runs to an end stands: its phase and the state all its containers share.
struct PodRun: Equatable {
  var phase: String
  var container: ContainerRun

  /// The state a pod's stored status shows, read back from its first container.
  static func observed(_ pod: Value) -> PodRun? {
    guard let phase = pod.at("status", "phase")?.string,
      let first = pod.at("status", "containerStatuses")?.sequence?.first
    else { return nil }
    let restarts = Int(first["restartCount"]?.int ?? 0)
    if let reason = first.at("state", "waiting", "reason")?.string {
      return PodRun(phase: phase, container: .waiting(reason, restarts: restarts))
    }
    if let code = first.at("state", "terminated", "exitCode")?.int {
      return PodRun(phase: phase, container: .exited(code: Int(code), restarts: restarts))
    }
    return PodRun(phase: phase, container: .running(restarts: restarts))
  }

  /// The kubelet's status for `containers` in this state.
  func status(_ containers: [Value], now: Date) -> Value {
    let stamp = KubeTime.format(now)
    let ready: Bool
    if case .running = container { ready = true } else { ready = false }
    let statuses: [Value] = containers.map { spec in
      var status: Value = [
        "name": spec["name"] ?? "", "image": spec["image"] ?? "", "ready": .bool(ready),
        "started": .bool(ready), "restartCount": .int(Int64(container.restarts)),
      ]
      switch container {
      case .waiting(let reason, _): status.set(["state"], ["waiting": ["reason": .string(reason)]])
      case .running: status.set(["state"], ["running": ["startedAt": .string(stamp)]])
      case .exited(let code, _):
        status.set(
          ["state"],
          [
            "terminated": [
              "exitCode": .int(Int64(code)), "reason": code == 0 ? "Completed" : "Error",
              "finishedAt": .string(stamp),
            ]
          ])
      }
      return status
    }
    func condition(_ type: String, _ value: Bool) -> Value {
      [
        "type": .string(type), "status": value ? "True" : "False",
        "lastTransitionTime": .string(stamp),
      ]
    }
    return [
      "phase": .string(phase),
      "conditions": [
        condition("PodScheduled", true), condition("Initialized", true),
        condition("ContainersReady", ready), condition("Ready", ready),
      ],
      "containerStatuses": .sequence(statuses), "hostIP": "10.0.0.1", "startTime": .string(stamp),
    ]
  }
}

/// The timeline of a container that crashes: it runs for `run`, exits 1, and is started again
/// after the kubelet's and job controller's back-off (10 s, doubling, at most 6 min; divided by
/// the emulator's speed like every other delay).
struct CrashTimeline {
  var start: Date
  var run: TimeInterval
  var speed: Double

  func backoff(after failures: Int) -> TimeInterval {
    min(10 * pow(2, Double(max(0, failures - 1))), 360) / speed
  }

  /// Failures up to `now` (at most `limit + 1`), whether an attempt is running, the time of the
  /// failure past `limit` if it came, and when the next of these changes is due.
  func at(_ now: Date, limit: Int) -> (failures: Int, running: Bool, gaveUp: Date?, wake: Date?) {
    var failures = 0
    var attempt = start
    while true {
      if attempt > now { return (failures, false, nil, attempt) }
      let exit = attempt.addingTimeInterval(run)
      if exit > now { return (failures, true, nil, exit) }
      failures += 1
      if failures > limit { return (failures, false, exit, nil) }
      attempt = exit.addingTimeInterval(backoff(after: failures))
    }
  }
}

extension KubeTime {
  static func parse(_ text: String?) -> Date? {
    guard let text else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
  }
}

/// What the API server fills into a new Job (batch/v1 `SetDefaults_Job` and the job strategy's
/// `generateSelector`): a selector on the Job's uid, and the labels that selector needs on the
/// pod template (https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-labels).
enum JobDefaults {
  static func onCreate(_ input: Value) -> Value {
    var job = input
    let uid = UUID().uuidString.lowercased()
    job.set(["metadata", "uid"], .string(uid))
    func fill(_ path: [String], _ value: Value) {
      if job.at(path) == nil { job.set(path, value) }
    }
    fill(["spec", "completionMode"], "NonIndexed")
    fill(["spec", "suspend"], false)
    fill(["spec", "podReplacementPolicy"], "TerminatingOrFailed")
    // With `manualSelector: true` the client's selector and labels stand as written.
    guard job.at("spec", "manualSelector")?.bool != true else { return job }
    let generated: [(String, String)] = [
      ("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", job.name),
      ("controller-uid", uid), ("job-name", job.name),
    ]
    for (key, value) in generated {
      job.set(["spec", "template", "metadata", "labels", key], .string(value))
    }
    job.set(
      ["spec", "selector"], ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]])
    if (job.at("metadata", "labels")?.mapping ?? Mapping()).isEmpty {
      job.set(["metadata", "labels"], job.at("spec", "template", "metadata", "labels"))
    }
    return job
  }
}

extension RolloutController {
  /// The first fault among these containers' images that changes how they run.
  func runFault(_ cluster: VirtualCluster, _ containers: Value?) -> ImageFault? {
    let set = faults.faults
    for container in containers?.sequence ?? [] {
      guard let image = container["image"]?.string,
        let fault = set.imageFault(image, cluster: cluster.name, labels: cluster.spec.labels),
        fault.effect != .errors
      else { continue }
      return fault
    }
    return nil
  }

  // MARK: Jobs

  /// Advances a Job: writes its status, keeps its pods in line, records the job controller's
  /// events, and schedules the next change.
  func stepJob(_ key: Key, _ cluster: VirtualCluster) {
    let now = clock.now()
    let store = cluster.store
    var outcome: JobOutcome?
    var job: Value?
    _ = try? store.modify(key.type, namespace: key.namespace, name: key.name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      guard let current, !JobOutcome.isFinished(current) else { return nil }
      let result = JobOutcome(
        current, fault: runFault(cluster, current.at("spec", "template", "spec", "containers")),
        run: interval(1), speed: speed, now: now)
      outcome = result
      var updated = current
      updated.set(["status"], result.status)
      job = updated
      if updated == current { return nil }
      return updated
    }
    guard store.get(key.type, namespace: key.namespace, name: key.name) != nil else {
      // Deleted: the garbage collector takes its pods.
      forget(key)
      Pods.sync(
        store, key.type, namespace: key.namespace, workload: key.name, desired: [], now: now)
      return
    }
    guard let outcome, let job else { return }
    guard let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod") else { return }
    let pods = outcome.pods.map { run in
      var pod = Pods.pod(
        job, key.type, name: run.name, hash: nil, phase: run.state.phase, waiting: nil, now: now)
      pod.set(
        ["status"],
        run.state.status(job.at("spec", "template", "spec", "containers")?.sequence ?? [], now: now)
      )
      return pod
    }
    let about = ClusterEvents.involved(job, key.type)
    for pod in pods where store.get(podType, namespace: key.namespace, name: pod.name) == nil {
      ClusterEvents.record(
        store, about: about, type: "Normal", reason: "SuccessfulCreate",
        message: "Created pod: \(pod.name)", component: "job-controller", now: now)
    }
    Pods.sync(
      store, key.type, namespace: key.namespace, workload: key.name, desired: pods, now: now)
    recordEvents(store, key, job, before: nil, after: nil, pods: pods, now: now)
    if let (type, reason, message) = outcome.finished {
      ClusterEvents.record(
        store, about: about, type: type, reason: reason, message: message,
        component: "job-controller", now: now)
      // A CronJob's controller hears of its Jobs ending: it updates `active` and trims history.
      if let owner = job.at("metadata", "ownerReferences")?.sequence?.first(where: {
        $0["kind"]?.string == "CronJob"
      }), let cronType = ResourceCatalog.find(apiVersion: "batch/v1", kind: "CronJob"),
        let cron = store.get(cronType, namespace: key.namespace, name: owner["name"]?.string ?? "")
      {
        changed(cluster, cronType, cron)
      }
    }
    if let wake = outcome.wake { schedule(key, cluster, at: wake) }
  }

  // MARK: Pods no workload owns

  /// Runs a Pod that no controller owns, as the kubelet would: to `Succeeded` or `Failed` unless
  /// its `restartPolicy` is `Always`.
  func stepBarePod(_ key: Key, _ cluster: VirtualCluster) {
    let now = clock.now()
    var wake: Date?
    var written: Value?
    _ = try? cluster.store.modify(key.type, namespace: key.namespace, name: key.name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      guard let current,
        !(current.at("metadata", "ownerReferences")?.sequence ?? []).contains(where: {
          $0["controller"]?.bool == true
        }),
        !["Succeeded", "Failed"].contains(current.at("status", "phase")?.string ?? "")
      else { return nil }
      let containers = current.at("spec", "containers")
      let (run, next) = barePodRun(
        fault: runFault(cluster, containers),
        created: KubeTime.parse(current.at("metadata", "creationTimestamp")?.string) ?? now,
        restartPolicy: current.at("spec", "restartPolicy")?.string ?? "Always", now: now)
      wake = next
      var updated = current
      updated.set(["status"], run.status(containers?.sequence ?? [], now: now))
      updated.set(["spec", "nodeName"], .string(Pods.nodeName))
      // The same phase and container state: no write, so watchers see no empty change.
      if PodRun.observed(current) == run { return nil }
      written = updated
      return updated
    }
    if let written, let podType = ResourceCatalog.find(apiVersion: "v1", kind: "Pod") {
      recordEvents(
        cluster.store,
        Key(cluster: key.cluster, type: podType, namespace: key.namespace, name: key.name),
        written, before: nil, after: nil, pods: [written], now: now)
      // A pod that has ended no longer counts against a quota.
      ResourceQuotas.refresh(cluster.store, namespace: key.namespace, now: now)
      ServiceEndpoints.refresh(cluster.store, namespace: key.namespace, now: now)
    }
    if let wake { schedule(key, cluster, at: wake) } else { forget(key) }
  }

  /// A bare pod's state at `now`: created, then one `replicaInterval` (scaled) to start, then
  /// one more to run to its end; the next change's time.
  func barePodRun(fault: ImageFault?, created: Date, restartPolicy: String, now: Date) -> (
    PodRun, Date?
  ) {
    let run = interval(fault?.effect == .slow ? fault?.slowFactor ?? 1 : 1)
    let started = created.addingTimeInterval(run)
    if fault?.effect == .neverReady {
      return (PodRun(phase: "Pending", container: .waiting("ImagePullBackOff", restarts: 0)), nil)
    }
    if now < started {
      return (
        PodRun(phase: "Pending", container: .waiting("ContainerCreating", restarts: 0)), started
      )
    }
    if fault?.effect == .crashLoop {
      if restartPolicy == "Never" {
        let exit = started.addingTimeInterval(run)
        return now < exit
          ? (PodRun(phase: "Running", container: .running(restarts: 0)), exit)
          : (PodRun(phase: "Failed", container: .exited(code: 1, restarts: 0)), nil)
      }
      // Restarted in place for ever; after ten restarts the back-off is at its cap, so stop
      // waking for a count nobody reads closely.
      let timeline = CrashTimeline(start: started, run: run, speed: speed)
      let state = timeline.at(now, limit: 10)
      let container: ContainerRun =
        state.running
        ? .running(restarts: state.failures)
        : .waiting("CrashLoopBackOff", restarts: state.failures)
      return (PodRun(phase: "Running", container: container), state.wake)
    }
    if restartPolicy == "Always" {
      return (PodRun(phase: "Running", container: .running(restarts: 0)), nil)
    }
    let exit = started.addingTimeInterval(run)
    return now < exit
      ? (PodRun(phase: "Running", container: .running(restarts: 0)), exit)
      : (PodRun(phase: "Succeeded", container: .exited(code: 0, restarts: 0)), nil)
  }
}

/// A Job's status and pods at one moment, from its start time, image fault and spec.
struct JobOutcome {
  struct JobPod {
    var name: String
    var state: PodRun
  }

  var status: Value
  var pods: [JobPod] = []
  var wake: Date?
  /// The event the job controller records when the Job ends: (type, reason, message).
  var finished: (String, String, String)?

  static func isFinished(_ job: Value) -> Bool {
    (job.at("status", "conditions")?.sequence ?? []).contains {
      ["Complete", "Failed"].contains($0["type"]?.string ?? "") && $0["status"]?.string == "True"
    }
  }

  init(_ job: Value, fault: ImageFault?, run: TimeInterval, speed: Double, now: Date) {
    let start = KubeTime.parse(job.at("status", "startTime")?.string) ?? now
    let completions = Int(job.at("spec", "completions")?.int ?? 1)
    let backoffLimit = Int(job.at("spec", "backoffLimit")?.int ?? 6)
    let inPlace = job.at("spec", "template", "spec", "restartPolicy")?.string == "OnFailure"
    let uid = job.at("metadata", "uid")?.string ?? ""
    func podName(_ attempt: Int) -> String {
      "\(job.name)-\(TemplateHash.of(.string("\(uid)/\(attempt)")).prefix(5))"
    }
    status = [
      "startTime": .string(KubeTime.format(start)), "terminating": 0,
      "uncountedTerminatedPods": [:],
    ]
    var active = 0
    var ready = 0
    var failed = 0
    switch fault?.effect {
    case .neverReady?:
      active = 1
      pods = [
        JobPod(
          name: podName(0),
          state: PodRun(phase: "Pending", container: .waiting("ImagePullBackOff", restarts: 0)))
      ]
    case .crashLoop?:
      let timeline = CrashTimeline(start: start, run: run, speed: speed)
      let state = timeline.at(now, limit: backoffLimit)
      wake = state.wake
      if inPlace {
        // restartPolicy OnFailure: one pod whose container the kubelet restarts; its restarts
        // count against backoffLimit, and the pod is deleted when the Job fails.
        if state.gaveUp == nil {
          active = 1
          ready = state.running ? 1 : 0
          let container: ContainerRun =
            state.running
            ? .running(restarts: state.failures)
            : .waiting("CrashLoopBackOff", restarts: state.failures)
          pods = [JobPod(name: podName(0), state: PodRun(phase: "Running", container: container))]
        } else {
          failed = 1
        }
      } else {
        // restartPolicy Never: every failure leaves a Failed pod and the next attempt is a new one.
        failed = state.failures
        pods = (0..<state.failures).map {
          JobPod(
            name: podName($0),
            state: PodRun(phase: "Failed", container: .exited(code: 1, restarts: 0)))
        }
        if state.running {
          active = 1
          ready = 1
          pods.append(
            JobPod(
              name: podName(state.failures),
              state: PodRun(phase: "Running", container: .running(restarts: 0))))
        }
      }
      if let gaveUp = state.gaveUp {
        end(
          failed: "BackoffLimitExceeded", "Job has reached the specified backoff limit", at: gaveUp)
      }
    default:
      let done = start.addingTimeInterval(
        fault?.effect == .slow ? run * (fault?.slowFactor ?? 1) : 0)
      if now >= done {
        let stamp = KubeTime.format(done)
        pods = (0..<completions).map {
          JobPod(
            name: podName($0),
            state: PodRun(phase: "Succeeded", container: .exited(code: 0, restarts: 0)))
        }
        status.set(["completionTime"], .string(stamp))
        status.set(["succeeded"], .int(Int64(completions)))
        let reason = "CompletionsReached"
        let message = "Reached expected number of succeeded pods"
        status.set(
          ["conditions"],
          [
            Self.condition("SuccessCriteriaMet", reason, message, stamp),
            Self.condition("Complete", reason, message, stamp),
          ])
        finished = ("Normal", "Completed", "Job completed")
      } else {
        let parallel = min(completions, Int(job.at("spec", "parallelism")?.int ?? 1))
        active = parallel
        ready = parallel
        pods = (0..<parallel).map {
          JobPod(
            name: podName($0), state: PodRun(phase: "Running", container: .running(restarts: 0)))
        }
        wake = done
      }
    }
    // activeDeadlineSeconds ends a Job that has not finished, whatever its pods are doing.
    if finished == nil, let limit = job.at("spec", "activeDeadlineSeconds")?.int {
      let deadline = start.addingTimeInterval(Double(limit))
      if now >= deadline {
        failed += active
        active = 0
        ready = 0
        pods.removeAll { $0.state.phase != "Failed" }
        wake = nil
        end(
          failed: "DeadlineExceeded", "Job was active longer than specified deadline", at: deadline)
      } else if wake.map({ $0 > deadline }) ?? true {
        wake = deadline
      }
    }
    if active > 0 { status.set(["active"], .int(Int64(active))) }
    status.set(["ready"], .int(Int64(ready)))
    if failed > 0 { status.set(["failed"], .int(Int64(failed))) }
  }

  /// Fails the Job as the job controller does since Kubernetes 1.31: `FailureTarget`, then
  /// `Failed`, both with the same reason and message.
  private mutating func end(failed reason: String, _ message: String, at time: Date) {
    let stamp = KubeTime.format(time)
    status.set(
      ["conditions"],
      [
        Self.condition("FailureTarget", reason, message, stamp),
        Self.condition("Failed", reason, message, stamp),
      ])
    finished = ("Warning", reason, message)
    wake = nil
  }

  private static func condition(
    _ type: String, _ reason: String, _ message: String, _ stamp: String
  )
    -> Value
  {
    [
      "type": .string(type), "status": "True", "lastProbeTime": .string(stamp),
      "lastTransitionTime": .string(stamp), "reason": .string(reason), "message": .string(message),
    ]
  }
}
