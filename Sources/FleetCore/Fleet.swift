// The fleet as loaded from fleets/NAME/: clusters, the release, values layers, windows, freezes.
import Foundation

/// One Kubernetes cluster of the fleet.
public struct Cluster: Sendable, Equatable {
  public var name: String
  /// Labels in file order; selectors, templates and failure domains read them.
  public var labels: [String: String]
  /// Kubeconfig context, when the cluster is reached through a kubeconfig.
  public var context: String?
  /// API server URL, when the cluster is reached directly (e.g. the fleet emulator).
  public var server: String?
  /// Names of maintenance windows (defined at the fleet level) the cluster may be changed in.
  public var windows: [String]
  /// How long an upgrade of this cluster is expected to take; overrides the policy default.
  public var expectedDuration: Duration?
  /// Where the cluster was declared.
  public var mark: SourceMark?

  public init(
    name: String, labels: [String: String] = [:], context: String? = nil, server: String? = nil,
    windows: [String] = [], expectedDuration: Duration? = nil, mark: SourceMark? = nil
  ) {
    self.name = name
    self.labels = labels
    self.context = context
    self.server = server
    self.windows = windows
    self.expectedDuration = expectedDuration
    self.mark = mark
  }

  /// The value of a failure-domain label, or "-" for clusters without it.
  public func domain(_ label: String?) -> String {
    guard let label else { return "-" }
    return labels[label] ?? "-"
  }
}

public enum DriverKind: String, Sendable, CaseIterable {
  case kube, helm, exec, sim
}

/// Commands the `exec` driver runs per cluster; templated from the cluster's fields.
public struct ExecCommands: Sendable, Equatable {
  public var upgrade: String
  public var rollback: String?
  /// Prints the cluster's current revision on stdout; optional.
  public var revision: String?
  public var timeout: Duration?

  public init(
    upgrade: String, rollback: String? = nil, revision: String? = nil, timeout: Duration? = nil
  ) {
    self.upgrade = upgrade
    self.rollback = rollback
    self.revision = revision
    self.timeout = timeout
  }
}

/// What is being rolled out.
public struct Release: Sendable, Equatable {
  public var name: String
  public var namespace: String
  public var driver: DriverKind
  /// A chart directory or `.tgz` in the fleet, a chart name in `repo`, or `oci://HOST/PATH/NAME`.
  public var chart: String?
  public var manifests: String?
  public var exec: ExecCommands?
  /// The application version deployed (`release.appVersion`, or its old name `release.version`):
  /// what plans and reports show and what `{{ .version }}` is.
  public var version: String?
  public var mark: SourceMark?
  /// The chart version to fetch, exact or a constraint in helm's rules (`^1.2`, `>=1.0 <2`).
  public var chartVersion: String?
  /// The Helm repository (`https://...`) that serves `chart` by name.
  public var repo: String?
  /// Where a chart is fetched from and with which credentials.
  public var access = ChartAccess()
  /// Where each release field was written, for errors that point at the fleet file.
  public var fieldMarks: [String: SourceMark] = [:]

  public init(
    name: String, namespace: String = "default", driver: DriverKind = .sim, chart: String? = nil,
    manifests: String? = nil, exec: ExecCommands? = nil, version: String? = nil,
    mark: SourceMark? = nil
  ) {
    self.name = name
    self.namespace = namespace
    self.driver = driver
    self.chart = chart
    self.manifests = manifests
    self.exec = exec
    self.version = version
    self.mark = mark
  }

  /// The application version; `version` under its newer name.
  public var appVersion: String? { version }

  /// Equal releases roll out the same thing; where each field was written (`fieldMarks`, for
  /// error messages) is not part of that.
  public static func == (a: Release, b: Release) -> Bool {
    a.name == b.name && a.namespace == b.namespace && a.driver == b.driver && a.chart == b.chart
      && a.manifests == b.manifests && a.exec == b.exec && a.version == b.version
      && a.mark == b.mark && a.chartVersion == b.chartVersion && a.repo == b.repo
      && a.access == b.access
  }
}

/// How helm reaches a chart's registry or repository: the same settings helm has.
public struct ChartAccess: Sendable, Equatable {
  /// helm's registry config (`helm registry login` writes it); helm's default when nil.
  public var registryConfig: String?
  /// A CA bundle that signs the registry's or repository's certificate.
  public var caFile: String?
  /// Plain HTTP to an OCI registry (a test registry on loopback).
  public var plainHTTP: Bool

  public init(registryConfig: String? = nil, caFile: String? = nil, plainHTTP: Bool = false) {
    self.registryConfig = registryConfig
    self.caFile = caFile
    self.plainHTTP = plainHTTP
  }
}

/// One values overlay; `path` may hold `{{ .name }}` and `{{ .labels.KEY }}` placeholders.
public struct ValuesLayer: Sendable, Equatable {
  public var path: String
  public var optional: Bool
  public var mark: SourceMark?

  public init(path: String, optional: Bool = false, mark: SourceMark? = nil) {
    self.path = path
    self.optional = optional
    self.mark = mark
  }
}

public enum Weekday: Int, Sendable, CaseIterable, Comparable {
  case monday = 1
  case tuesday, wednesday, thursday, friday, saturday, sunday

  public static func < (a: Weekday, b: Weekday) -> Bool { a.rawValue < b.rawValue }
}

/// Minutes after local midnight, 0...1440 (1440 means the end of the day).
public struct TimeOfDay: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var minutes: Int

  public init(hour: Int, minute: Int) { minutes = hour * 60 + minute }

  public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutes < b.minutes }

  public var description: String {
    let h = minutes / 60
    let m = minutes % 60
    return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
  }
}

/// A recurring maintenance window: on these days, from..to local time in an IANA time zone.
/// A window whose `to` is before `from` runs past midnight into the next day.
public struct MaintenanceWindow: Sendable, Equatable {
  public var name: String
  public var days: Set<Weekday>
  public var from: TimeOfDay
  public var to: TimeOfDay
  public var timeZone: String
  public var mark: SourceMark?

  public init(
    name: String, days: Set<Weekday>, from: TimeOfDay, to: TimeOfDay, timeZone: String,
    mark: SourceMark? = nil
  ) {
    self.name = name
    self.days = days
    self.from = from
    self.to = to
    self.timeZone = timeZone
    self.mark = mark
  }
}

/// A period in which nothing new may start, e.g. a holiday freeze. `to` is exclusive.
public struct FreezePeriod: Sendable, Equatable {
  public var from: Date
  public var to: Date
  public var reason: String
  public var mark: SourceMark?

  public init(from: Date, to: Date, reason: String, mark: SourceMark? = nil) {
    self.from = from
    self.to = to
    self.reason = reason
    self.mark = mark
  }
}

/// A loaded, validated fleet.
public struct Fleet: Sendable {
  public var name: String
  /// The fleet directory; relative paths in the fleet resolve against it.
  public var directory: String
  public var release: Release
  public var values: [ValuesLayer]
  public var clusters: [Cluster]
  public var rollout: RolloutPolicy
  public var windows: [String: MaintenanceWindow]
  public var freezes: [FreezePeriod]
  /// The home cluster `state:` names for the fleet's runs; nil: the local directory.
  public var state: FleetStateHome? = nil

  public init(
    name: String, directory: String, release: Release, values: [ValuesLayer] = [],
    clusters: [Cluster], rollout: RolloutPolicy = RolloutPolicy(),
    windows: [String: MaintenanceWindow] = [:], freezes: [FreezePeriod] = []
  ) {
    self.name = name
    self.directory = directory
    self.release = release
    self.values = values
    self.clusters = clusters
    self.rollout = rollout
    self.windows = windows
    self.freezes = freezes
  }

  public func cluster(named name: String) -> Cluster? {
    clusters.first { $0.name == name }
  }
}
