// The helm command lines the helm driver runs for one cluster. Values only ever travel in
// files named by `-f`, never as arguments, so no value (or secret) shows up in `ps` or a log.
import FleetCore
import Foundation

/// The chart a release installs.
public enum HelmChart: Sendable, Equatable {
  /// A chart directory or packaged `.tgz` on disk; helm ignores `--version` for these.
  case local(path: String)
  /// A repository chart (`repo/name`) or an `oci://` reference, pinned with `--version`.
  case remote(reference: String, version: String?)

  var argument: String {
    switch self {
    case .local(let path): return path
    case .remote(let reference, _): return reference
    }
  }
}

/// Builds the argument vectors (helm's path first) of every helm call the driver makes.
public struct HelmCommandLine: Sendable, Equatable {
  public var helm: String
  public var release: String
  public var namespace: String
  /// Passed as `--kubeconfig`; nil lets helm read `$KUBECONFIG` or `~/.kube/config`.
  public var kubeconfig: String?
  /// How helm reaches a remote chart (`--repo`, `--plain-http`, `--ca-file`,
  /// `--registry-config`), passed with it to every upgrade.
  public var chartAccess: [String]

  public init(
    helm: String, release: String, namespace: String, kubeconfig: String? = nil,
    chartAccess: [String] = []
  ) {
    self.helm = helm
    self.release = release
    self.namespace = namespace
    self.kubeconfig = kubeconfig
    self.chartAccess = chartAccess
  }

  /// How helm reaches the cluster: its kubeconfig context, or its API server URL (the
  /// kubeconfig's current context then only supplies credentials).
  public func connection(_ cluster: Cluster) -> [String] {
    var arguments: [String] = []
    if let kubeconfig { arguments += ["--kubeconfig", kubeconfig] }
    if let server = cluster.server {
      arguments += ["--kube-apiserver", server]
    } else if let context = cluster.context {
      arguments += ["--kube-context", context]
    }
    return arguments + ["--namespace", namespace]
  }

  public func version() -> [String] { [helm, "version", "--short"] }

  /// `helm upgrade --install`, with the values files in precedence order (lowest first) and
  /// helm's own rollback on failure, so a cluster is never left half-upgraded by helm itself.
  public func upgrade(
    _ cluster: Cluster, chart: HelmChart, valuesFiles: [String], rollbackOnFailureFlag: String,
    wait: Duration
  ) -> [String] {
    var arguments = [helm, "upgrade", "--install", release, chart.argument]
    arguments += connection(cluster) + ["--create-namespace"]
    if case .remote(_, let version) = chart {
      arguments += chartAccess + (version.map { ["--version", $0] } ?? [])
    }
    for file in valuesFiles { arguments += ["-f", file] }
    return arguments + ["--wait", "--timeout", Self.goDuration(wait), rollbackOnFailureFlag]
  }

  public func history(_ cluster: Cluster) -> [String] {
    [helm, "history", release] + connection(cluster) + ["-o", "json"]
  }

  public func rollback(_ cluster: Cluster, to revision: Int, wait: Duration) -> [String] {
    [helm, "rollback", release, String(revision)] + connection(cluster)
      + ["--wait", "--timeout", Self.goDuration(wait)]
  }

  public func uninstall(_ cluster: Cluster, wait: Duration, keepHistory: Bool = false) -> [String] {
    [helm, "uninstall", release] + connection(cluster)
      + ["--wait", "--timeout", Self.goDuration(wait)] + (keepHistory ? ["--keep-history"] : [])
  }

  /// `helm test --logs`: the release's test hooks, their Pods' logs printed after them.
  public func test(_ cluster: Cluster, timeout: Duration) -> [String] {
    [helm, "test", release] + connection(cluster)
      + ["--timeout", Self.goDuration(timeout), "--logs"]
  }

  /// Whole seconds, at least one, in Go's duration syntax.
  static func goDuration(_ duration: Duration) -> String {
    "\(max(1, Int(DurationText.seconds(duration))))s"
  }

  /// The words as one `/bin/sh -c` command that runs exactly them; `exec` so the shell does not
  /// linger between helm and the process-group signals.
  public static func shellCommand(_ words: [String]) -> String {
    "exec " + words.map(shellQuoted).joined(separator: " ")
  }

  /// How a command line is shown to people: quoted only where the shell needs it.
  public static func display(_ words: [String]) -> String {
    words.map { word in
      let plain =
        !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@+,".contains($0) }
      return plain ? word : shellQuoted(word)
    }.joined(separator: " ")
  }

  static func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
