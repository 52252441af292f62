// CronJobs: a Job from `jobTemplate` at each time the schedule names, on the emulator's clock,
// as the cronjob controller creates them (name, owner, scheduled-timestamp annotation, status
// `active` and `lastScheduleTime`, history limits).
import FleetCore
import Foundation

/// A standard five-field cron schedule (minute hour day-of-month month day-of-week) or one of
/// the `@hourly`-style macros, evaluated in UTC (`spec.timeZone` is not honoured).
struct CronSchedule {
  private let fields: [Set<Int>]
  private let dayOfMonthAny: Bool
  private let dayOfWeekAny: Bool

  private static let macros = [
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
  ]
  private static let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]

  init?(_ text: String) {
    let expanded = Self.macros[text.trimmingCharacters(in: .whitespaces)] ?? text
    let parts = expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    guard parts.count == 5 else { return nil }
    var fields: [Set<Int>] = []
    for (part, range) in zip(parts, Self.ranges) {
      guard let field = Self.field(part, range) else { return nil }
      fields.append(field)
    }
    // Sunday may be written 7.
    if fields[4].contains(7) { fields[4].insert(0) }
    self.fields = fields
    dayOfMonthAny = parts[2] == "*" || parts[2] == "?"
    dayOfWeekAny = parts[4] == "*" || parts[4] == "?"
  }

  private static func field(_ text: String, _ range: (Int, Int)) -> Set<Int>? {
    var values = Set<Int>()
    for item in text.split(separator: ",") {
      let stepParts = item.split(separator: "/", maxSplits: 1).map(String.init)
      let step = stepParts.count == 2 ? Int(stepParts[1]) : 1
      guard let step, step > 0 else { return nil }
      var low = range.0
      var high = range.1
      if stepParts[0] != "*" && stepParts[0] != "?" {
        let bounds = stepParts[0].split(separator: "-").map { Int($0) }
        guard let first = bounds.first ?? nil, bounds.count <= 2 else { return nil }
        low = first
        high = bounds.count == 2 ? (bounds[1] ?? -1) : (stepParts.count == 2 ? range.1 : first)
      }
      guard low >= range.0, high <= max(range.1, 7), low <= high else { return nil }
      values.formUnion(stride(from: low, through: high, by: step))
    }
    return values
  }

  /// The first scheduled minute strictly after `date`.
  func next(after date: Date) -> Date? {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
    var time = Date(
      timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
    // Four years of minutes bound the search; days and hours that cannot match are skipped whole.
    let limit = time.addingTimeInterval(4 * 366 * 86_400)
    while time < limit {
      let parts = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: time)
      let (minute, hour, day, month) = (
        parts.minute ?? 0, parts.hour ?? 0, parts.day ?? 1, parts.month ?? 1
      )
      let weekday = (parts.weekday ?? 1) - 1
      let dayMatches: Bool
      switch (dayOfMonthAny, dayOfWeekAny) {
      case (false, false): dayMatches = fields[2].contains(day) || fields[4].contains(weekday)
      default: dayMatches = fields[2].contains(day) && fields[4].contains(weekday)
      }
      if !fields[3].contains(month) || !dayMatches {
        time = calendar.startOfDay(for: time).addingTimeInterval(86_400)
      } else if !fields[1].contains(hour) {
        time = time.addingTimeInterval(Double(60 - minute) * 60)
      } else if !fields[0].contains(minute) {
        time = time.addingTimeInterval(60)
      } else {
        return time
      }
    }
    return nil
  }
}

extension RolloutController {
  /// Creates the Job a CronJob's schedule calls for (only the latest missed one, as the
  /// controller does after downtime), trims finished Jobs to the history limits, and sleeps
  /// until the next scheduled time.
  func stepCronJob(_ key: Key, _ cluster: VirtualCluster) {
    let now = clock.now()
    let store = cluster.store
    guard let jobType = ResourceCatalog.find(apiVersion: "batch/v1", kind: "Job") else { return }
    let owned = store.list(WatchFilter(type: jobType, namespace: key.namespace)).items
      .filter { Pods.isOwned($0, by: key.type, name: key.name) }
      .sorted {
        ($0.at("metadata", "creationTimestamp")?.string ?? "")
          < ($1.at("metadata", "creationTimestamp")?.string ?? "")
      }
    guard let cron = store.get(key.type, namespace: key.namespace, name: key.name) else {
      // Deleted: the garbage collector takes its Jobs, and their pods with them.
      forget(key)
      for job in owned {
        if let gone = store.delete(jobType, namespace: key.namespace, name: job.name) {
          changed(cluster, jobType, gone)
        }
      }
      return
    }
    guard let times = CronSchedule(cron.at("spec", "schedule")?.string ?? "") else { return }
    let suspended = cron.at("spec", "suspend")?.bool == true
    let last =
      KubeTime.parse(cron.at("status", "lastScheduleTime")?.string)
      ?? KubeTime.parse(cron.at("metadata", "creationTimestamp")?.string) ?? now
    var due: Date?
    var probe = times.next(after: last)
    while let time = probe, time <= now {
      due = time
      probe = times.next(after: time)
    }
    var jobs = owned
    if let due, !suspended {
      if let job = createJob(cron, key, cluster, scheduled: due, now: now) { jobs.append(job) }
    }
    jobs = trimHistory(cron, jobs, store, jobType, cluster)
    let active: [Value] = jobs.filter { !JobOutcome.isFinished($0) }.map { job in
      [
        "apiVersion": "batch/v1", "kind": "Job", "name": .string(job.name),
        "namespace": .string(key.namespace), "uid": job.at("metadata", "uid") ?? "",
        "resourceVersion": job.at("metadata", "resourceVersion") ?? "",
      ]
    }
    _ = try? store.modify(key.type, namespace: key.namespace, name: key.name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      guard var updated = current else { return nil }
      if let due, !suspended {
        updated.set(["status", "lastScheduleTime"], .string(KubeTime.format(due)))
      }
      updated.set(["status", "active"], active.isEmpty ? Value?.none : .sequence(active))
      if updated == current { return nil }
      return updated
    }
    if let probe, !suspended { schedule(key, cluster, at: probe) }
  }

  private func createJob(
    _ cron: Value, _ key: Key, _ cluster: VirtualCluster, scheduled: Date, now: Date
  ) -> Value? {
    guard let jobType = ResourceCatalog.find(apiVersion: "batch/v1", kind: "Job") else {
      return nil
    }
    // The controller names Jobs by the scheduled time in minutes since the epoch.
    let name = "\(cron.name)-\(Int64(scheduled.timeIntervalSince1970 / 60))"
    var job: Value = [
      "apiVersion": "batch/v1", "kind": "Job",
      "metadata": [
        "name": .string(name), "namespace": .string(key.namespace),
        "ownerReferences": [
          [
            "apiVersion": "batch/v1", "kind": "CronJob", "name": .string(cron.name),
            "uid": cron.at("metadata", "uid") ?? "", "controller": true, "blockOwnerDeletion": true,
          ]
        ],
      ],
      "spec": cron.at("spec", "jobTemplate", "spec") ?? [:],
    ]
    for field in ["labels", "annotations"] {
      if let values = cron.at("spec", "jobTemplate", "metadata", field) {
        job.set(["metadata", field], values)
      }
    }
    job.set(
      ["metadata", "annotations", "batch.kubernetes.io/cronjob-scheduled-timestamp"],
      .string(KubeTime.format(scheduled)))
    job.set(["metadata", "generation"], 1)
    job = JobDefaults.onCreate(Defaults.apply(jobType, job))
    job.set(["status"], [:])
    guard let created = try? cluster.store.create(jobType, job, now: now) else { return nil }
    ClusterEvents.record(
      cluster.store, about: ClusterEvents.involved(cron, key.type), type: "Normal",
      reason: "SuccessfulCreate", message: "Created job \(name)", component: "cronjob-controller",
      now: now)
    changed(cluster, jobType, created)
    return created
  }

  /// Deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` (default 3) and
  /// `failedJobsHistoryLimit` (default 1); returns the Jobs kept.
  private func trimHistory(
    _ cron: Value, _ jobs: [Value], _ store: ClusterStore, _ jobType: ResourceType,
    _ cluster: VirtualCluster
  ) -> [Value] {
    func failed(_ job: Value) -> Bool {
      (job.at("status", "conditions")?.sequence ?? []).contains {
        $0["type"]?.string == "Failed" && $0["status"]?.string == "True"
      }
    }
    let finished = jobs.filter(JobOutcome.isFinished)
    let succeededJobs = finished.filter { !failed($0) }
    let failedJobs = finished.filter(failed)
    let limits = (
      Int(cron.at("spec", "successfulJobsHistoryLimit")?.int ?? 3),
      Int(cron.at("spec", "failedJobsHistoryLimit")?.int ?? 1)
    )
    let excess =
      Array(succeededJobs.dropLast(max(0, limits.0))) + Array(failedJobs.dropLast(max(0, limits.1)))
    let dropped = Set(excess.map(\.name))
    for job in excess {
      if let gone = store.delete(jobType, namespace: job.namespace, name: job.name) {
        changed(cluster, jobType, gone)
      }
    }
    return jobs.filter { !dropped.contains($0.name) }
  }
}
