// Running a release's hooks on one cluster as helm's pkg/action does: for one event, each hook
// in weight order is (re)created, waited to completion, and deleted as its policy says; the
// first hook that fails stops the rest and fails the call, naming the hook and why.
import FleetCore
import Foundation
import Kube

/// How a hook object stands: helm waits only for Jobs and Pods; any other kind is done once
/// it is created.
enum HookProgress: Equatable {
  case done
  case running(String)
  case failed(String)

  static func of(_ live: Value) -> HookProgress {
    let name = live["metadata"]?["name"]?.string ?? ""
    switch live["kind"]?.string ?? "" {
    case "Job":
      switch Readiness.of(live) {
      case .ready: return .done
      case .failed(let message): return .failed(message)
      case .progressing(let message): return .running(message)
      }
    case "Pod":
      switch live["status"]?["phase"]?.string ?? "Pending" {
      case "Succeeded": return .done
      case "Failed":
        let reason =
          live["status"]?["reason"]?.string ?? live["status"]?["message"]?.string
          ?? terminatedContainer(live)
        return .failed("pod \"\(name)\" failed" + (reason.map { " (\($0))" } ?? ""))
      case let phase: return .running("pod \"\(name)\" is \(phase)")
      }
    default: return .done
    }
  }

  /// A failed Pod usually says why only in its containers: the first that ended non-zero, as
  /// `container C: Error, exit code 1`.
  private static func terminatedContainer(_ live: Value) -> String? {
    for status in live["status"]?["containerStatuses"]?.sequence ?? [] {
      guard let ended = status["state"]?["terminated"],
        let code = ended["exitCode"]?.scalarText, code != "0"
      else { continue }
      let name = status["name"]?.string ?? "?"
      let reason = ended["reason"]?.string.map { "\($0), " } ?? ""
      return "container \(name): \(reason)exit code \(code)"
    }
    return nil
  }
}

extension KubeDriver {
  /// Runs `event`'s hooks of `manifest`, in helm's order, each waited to completion before the
  /// next starts, all within `deadline`.
  func runHooks(
    _ event: HookEvent, of manifest: ReleaseManifest, _ session: Session, _ call: DriverCall,
    deadline: Date
  ) async throws(DriverError) {
    let hooks = manifest.hooks(for: event)
    for hook in hooks {
      try checkHookCancelled(call)
      if hook.deletePolicies.contains(.beforeHookCreation) {
        try await deleteHook(hook, session, call, deadline: deadline, waitUntilGone: true)
      }
      let outcome: DriverError?
      do throws(DriverError) {
        try await hookCall(session, hook, event) { () async throws(KubeError) in
          _ = try await session.client.apply(hook.object)
        }
        try await waitForHook(hook, event, session, call, deadline: deadline)
        outcome = nil
      } catch {
        outcome = error
      }
      if let outcome {
        if hook.deletePolicies.contains(.hookFailed), outcome.kind != .cancelled {
          try? await deleteHook(hook, session, call, deadline: deadline, waitUntilGone: false)
        }
        throw outcome
      }
    }
    // As helm does, hooks that asked to go on success go once every hook of the event passed.
    for hook in hooks where hook.deletePolicies.contains(.hookSucceeded) {
      try await deleteHook(hook, session, call, deadline: deadline, waitUntilGone: false)
    }
  }

  /// Polls the hook object until it completes or fails.
  private func waitForHook(
    _ hook: ReleaseHook, _ event: HookEvent, _ session: Session, _ call: DriverCall,
    deadline: Date
  ) async throws(DriverError) {
    let key = hook.key
    try await poll(
      call, deadline: deadline, late: "\(event.rawValue) hook \(key) did not complete in time"
    ) { () async throws(DriverError) -> String? in
      let live = try await hookCall(session, hook, event) { () async throws(KubeError) in
        try await session.client.get(
          apiVersion: hook.object["apiVersion"]?.string ?? "", kind: key.kind,
          namespace: key.namespace, name: key.name)
      }
      switch live.map(HookProgress.of) ?? .running("\(key) does not exist") {
      case .done: return nil
      case .failed(let message):
        throw DriverError(.failed, "\(event.rawValue) hook \(key) failed: \(message)")
      case .running(let message): return message
      }
    }
  }

  /// Deletes a hook object; before it is created again, waits until the old one is gone, as a
  /// Job of the same name cannot be recreated while it is still terminating.
  private func deleteHook(
    _ hook: ReleaseHook, _ session: Session, _ call: DriverCall, deadline: Date,
    waitUntilGone: Bool
  ) async throws(DriverError) {
    let key = hook.key
    let apiVersion = hook.object["apiVersion"]?.string ?? ""
    let existed = try await kubeHook(session, key) { () async throws(KubeError) in
      try await session.client.delete(
        apiVersion: apiVersion, kind: key.kind, namespace: key.namespace, name: key.name)
    }
    guard existed, waitUntilGone else { return }
    try await poll(call, deadline: deadline, late: "the previous \(key) was not deleted in time") {
      () async throws(DriverError) -> String? in
      let live = try await kubeHook(session, key) { () async throws(KubeError) in
        try await session.client.get(
          apiVersion: apiVersion, kind: key.kind, namespace: key.namespace, name: key.name)
      }
      return live == nil ? nil : "\(key) is terminating"
    }
  }

  /// Calls `check` until it returns nil, pausing between calls on the call's clock (doubling
  /// from the driver's first poll); at `deadline` fails with `late` and the last message.
  func poll(
    _ call: DriverCall, deadline: Date, late: String,
    _ check: () async throws(DriverError) -> String?
  ) async throws(DriverError) {
    var pause = options.firstPoll
    while let waiting = try await check() {
      let now = call.clock.now()
      if now >= deadline { throw DriverError(.timedOut, "\(late): \(waiting)") }
      let wake = min(deadline, now.addingTimeInterval(DurationText.seconds(pause)))
      guard await call.clock.pause(until: wake, cancellation: call.cancellation) else {
        throw DriverError(.cancelled, "cancelled")
      }
      pause = min(pause * 2, options.maximumPoll)
    }
  }

  /// An API failure while running a hook names the hook and its event.
  private func hookCall<T>(
    _ session: Session, _ hook: ReleaseHook, _ event: HookEvent,
    _ body: () async throws(KubeError) -> T
  ) async throws(DriverError) -> T {
    do {
      return try await body()
    } catch {
      throw DriverError(.failed, "\(event.rawValue) hook \(hook.key) failed: \(error.description)")
    }
  }

  private func kubeHook<T>(
    _ session: Session, _ key: ObjectKey, _ body: () async throws(KubeError) -> T
  ) async throws(DriverError) -> T {
    do {
      return try await body()
    } catch {
      throw DriverError(.failed, "hook \(key): \(error.description)")
    }
  }

  private func checkHookCancelled(_ call: DriverCall) throws(DriverError) {
    if call.cancellation.isCancelled { throw DriverError(.cancelled, "cancelled") }
  }
}

extension KubeDriver {
  /// Splits placed objects into resources and hooks; a bad hook annotation is the chart's error.
  func split(_ placed: [Value]) throws(DriverError) -> ReleaseManifest {
    do {
      return try ReleaseManifest(placed)
    } catch {
      throw DriverError(.setup, "\(release.name): \(error.message)")
    }
  }

  /// Hooks must finish a little before the executor's timeout, so the failure names the hook.
  func hookDeadline(_ session: Session, _ call: DriverCall) -> Date {
    let seconds = DurationText.seconds(call.timeout)
    return session.started.addingTimeInterval(seconds - min(5, seconds / 10))
  }
}
