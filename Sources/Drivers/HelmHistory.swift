// A release's revisions as `helm history -o json` prints them, and what they say about where
// the release stands: its deployed revision, or a helm operation that never finished.
import FleetCore
import Foundation

/// One line of `helm history`.
public struct HelmRevision: Sendable, Equatable {
  public var revision: Int
  /// `deployed`, `superseded`, `failed`, `pending-upgrade`, ... as helm names them.
  public var status: String
  public var description: String

  public init(revision: Int, status: String, description: String) {
    self.revision = revision
    self.status = status
    self.description = description
  }

  public var isPending: Bool { status.hasPrefix("pending-") }
}

public struct HelmHistory: Sendable, Equatable {
  /// Oldest first.
  public var revisions: [HelmRevision]

  public init(revisions: [HelmRevision]) {
    self.revisions = revisions.sorted { $0.revision < $1.revision }
  }

  /// Parses `helm history RELEASE -o json`.
  public static func parse(_ json: String) throws(DriverError) -> HelmHistory {
    let document: Value
    do {
      document = try JSONReader.parse(json, path: "helm history")
    } catch {
      throw DriverError(.failed, "cannot read helm history: \(error.message)")
    }
    guard let entries = document.sequence else {
      throw DriverError(.failed, "cannot read helm history: expected a JSON array")
    }
    var revisions: [HelmRevision] = []
    for entry in entries {
      guard let revision = entry["revision"]?.int, let status = entry["status"]?.string else {
        throw DriverError(.failed, "cannot read helm history: an entry lacks revision or status")
      }
      revisions.append(
        HelmRevision(
          revision: Int(revision), status: status,
          description: entry["description"]?.string ?? ""))
    }
    return HelmHistory(revisions: revisions)
  }

  /// The revision running now; helm keeps exactly one `deployed`.
  public var deployed: HelmRevision? { revisions.last { $0.status == "deployed" } }

  /// The newest revision, when helm never finished it (it was killed, or lost its connection):
  /// helm then refuses every further upgrade with "another operation is in progress".
  public var stuck: HelmRevision? {
    guard let latest = revisions.last, latest.isPending else { return nil }
    return latest
  }

  /// The revision to go back to from a stuck one: the newest earlier one that was running.
  public var lastGood: HelmRevision? {
    guard let stuck else { return deployed }
    return revisions.last {
      $0.revision < stuck.revision && ($0.status == "deployed" || $0.status == "superseded")
    }
  }

  /// Whether the deployed revision already runs `target`'s content: it is `target`, or helm
  /// made it by rolling back to `target` (as `--rollback-on-failure` does after a failed
  /// upgrade, describing it "Rollback to N").
  public func restores(_ target: Int) -> Bool {
    guard let deployed else { return false }
    return deployed.revision == target || deployed.description == "Rollback to \(target)"
  }

  /// Why no upgrade can start, and the command that gets the release going again; nil when
  /// the release is not stuck. `recovery` turns helm arguments into the command line to show.
  public func stuckMessage(release: String, recovery: (StuckRecovery) -> String) -> String? {
    guard let stuck else { return nil }
    let way: StuckRecovery
    if stuck.status == "pending-install" {
      way = .uninstall
    } else if let good = lastGood {
      way = .rollback(good.revision)
    } else {
      way = .uninstall
    }
    return
      "release '\(release)' is stuck in \(stuck.status) at revision \(stuck.revision): an "
      + "earlier helm run was interrupted; recover with '\(recovery(way))' and roll out again"
  }
}

/// The way out of a stuck release.
public enum StuckRecovery: Sendable, Equatable {
  /// `helm rollback RELEASE N`, back to the revision that last ran.
  case rollback(Int)
  /// `helm uninstall RELEASE`, for a first install that never finished.
  case uninstall
}
