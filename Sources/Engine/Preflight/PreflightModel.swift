// What `fleetwave preflight` found on each cluster: one result per check kind, and the
// problems each one names.
import FleetCore

/// The checks, in the order they run and the columns of the table show them.
public enum PreflightCheck: String, Sendable, CaseIterable {
  /// Reachable and authenticated, and as whom (`SelfSubjectReview`).
  case connection
  /// The server's version satisfies the chart's `kubeVersion`.
  case kubeVersion
  /// The release renders for this cluster.
  case render
  /// A `SelfSubjectAccessReview` for everything the kube driver will do.
  case permissions
  /// No other run holds the release Lease; no revision left pending.
  case release
  /// The release's requests, limits, pods and objects fit each ResourceQuota's headroom.
  case quota
  /// Image references that move (`:latest`, no tag).
  case images
}

public enum PreflightSeverity: String, Sendable {
  case error
  /// Reported, but only `--strict` fails on it.
  case warning
}

/// One thing found wrong on one cluster.
public struct PreflightProblem: Sendable, Equatable {
  public var check: PreflightCheck
  public var severity: PreflightSeverity
  /// The sentence after `CLUSTER: `, e.g. `cannot create namespaces (as system:...)`.
  public var message: String
  /// The cluster's API could not be reached at all (refused, reset, timed out): not a fault of
  /// the release, and before a wave the wave's `onUnreachable` policy decides what it means.
  public var unreachable: Bool

  public init(
    _ check: PreflightCheck, _ severity: PreflightSeverity, _ message: String,
    unreachable: Bool = false
  ) {
    self.check = check
    self.severity = severity
    self.message = message
    self.unreachable = unreachable
  }
}

/// How one check went on one cluster.
public enum PreflightOutcome: Sendable, Equatable {
  case passed
  /// It found problems (listed in the cluster's `problems`).
  case found
  /// It could not run because an earlier check failed (no connection, no render).
  case skipped
}

/// Every check of one cluster.
public struct ClusterPreflight: Sendable, Equatable {
  public var cluster: String
  /// The user name the API server authenticated us as, once the identity check passed.
  public var identity: String?
  public var outcomes: [PreflightCheck: PreflightOutcome] = [:]
  public var problems: [PreflightProblem] = []

  public init(cluster: String) { self.cluster = cluster }

  /// Records a check's problems; no problems means it passed.
  mutating func record(_ check: PreflightCheck, _ found: [PreflightProblem]) {
    outcomes[check] = found.isEmpty ? .passed : .found
    problems += found
  }

  /// What the table shows for `check`: `ok`, `-` when it did not run, or the count found.
  public func summary(_ check: PreflightCheck, strict: Bool) -> String {
    switch outcomes[check] ?? .skipped {
    case .passed: return "ok"
    case .skipped: return "-"
    case .found:
      let found = problems.filter { $0.check == check }
      let errors = found.filter { strict || $0.severity == .error }.count
      let warnings = found.count - errors
      var parts: [String] = []
      if errors > 0 { parts.append(errors == 1 ? "1 error" : "\(errors) errors") }
      if warnings > 0 { parts.append(warnings == 1 ? "1 warning" : "\(warnings) warnings") }
      return parts.joined(separator: ", ")
    }
  }

  /// True when the cluster's API could not be reached, so no other check ran.
  public var unreachable: Bool { problems.contains { $0.unreachable } }

  /// True when nothing here fails the preflight (warnings fail it only when `strict`).
  public func passes(strict: Bool) -> Bool {
    !problems.contains { strict || $0.severity == .error }
  }
}

extension ClusterPreflight {
  /// Every problem, one line each, clusters in the order given: `CLUSTER: MESSAGE`, warnings
  /// marked as such unless `strict` makes them errors.
  public static func problemLines(_ results: [ClusterPreflight], strict: Bool) -> [String] {
    results.flatMap { result in
      result.problems.map { problem in
        let warning = problem.severity == .warning && !strict
        return "\(result.cluster): " + (warning ? "warning: " : "") + problem.message
      }
    }
  }
}
