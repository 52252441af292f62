// helm's vocabulary on the commands that render or roll out a release: the value flags
// (`-f`, `--set`, `--set-string`, `--set-json`, `--set-file`) and the subset and timeout flags
// of a rollout (`--cluster`, `-l`, `--timeout`).
import ArgumentParser
import FleetCore
import Foundation
import Inventory

/// The value flags, with helm's names and parsing; taken by values, diff, plan, rollout and the
/// commands that continue a run.
struct HelmValueOptions: ParsableArguments {
  @Option(
    name: [.customShort("f"), .customLong("values")],
    help: ArgumentHelp(
      "A values file layered above the fleet's own layers, as helm -f (repeatable).",
      valueName: "file"))
  var valuesFiles: [String] = []

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp(
      "Set a value as helm --set does (a.b=1, a[0].c=x, l={a,b}).", valueName: "k=v"))
  var sets: [String] = []

  @Option(
    name: .customLong("set-string"),
    help: ArgumentHelp("Set a value as a string, as helm --set-string does.", valueName: "k=v"))
  var setStrings: [String] = []

  @Option(
    name: .customLong("set-json"),
    help: ArgumentHelp(
      "Set a JSON value (k=[1,2], or a whole object), as helm --set-json does.",
      valueName: "k=json"))
  var setJSONs: [String] = []

  @Option(
    name: .customLong("set-file"),
    help: ArgumentHelp(
      "Set a value to a file's content, as helm --set-file does.", valueName: "k=path"))
  var setFiles: [String] = []

  var flags: HelmValueFlags {
    HelmValueFlags(
      files: valuesFiles, sets: sets, setStrings: setStrings, setJSONs: setJSONs,
      setFiles: setFiles)
  }

  /// The flags read and checked; a mistake is printed and exits 2 (usage). `values` shows
  /// the argument with a caret under the mistake; the commands whose output lands in CI logs
  /// name only the flag and the key, since a value may be a secret.
  func overrides(showingArguments: Bool = false) throws -> ValueOverrides {
    do {
      return try flags.read()
    } catch {
      for diagnostic in error.diagnostics {
        printError(showingArguments ? diagnostic.description : Self.withoutValues(diagnostic))
      }
      throw ExitCode(2)
    }
  }

  /// `error: --set KEY: message`: the flag and the key of the assignment the mistake is in.
  static func withoutValues(_ diagnostic: Diagnostic) -> String {
    guard let mark = diagnostic.mark, SetArgument.Kind(rawValue: mark.file.path) != nil else {
      return diagnostic.description
    }
    let argument = Array(mark.file.line(1) ?? "")
    let before = argument.prefix(max(0, mark.column - 1))
    let key: String
    if argument.drop(while: \.isWhitespace).first == "{" {
      key = "{…}"
    } else if let equals = before.lastIndex(of: "=") {
      // The assignment the mistake is in: from the comma before its `=`.
      let start = before[..<equals].lastIndex(of: ",").map { $0 + 1 } ?? 0
      key = String(argument[start..<equals])
    } else {
      key = String(argument.prefix { $0 != "=" })
    }
    return "error: \(mark.file.path) \(key): \(diagnostic.message)"
  }
}

/// Which clusters a rollout acts on and how long each may take.
struct RolloutScopeOptions: ParsableArguments {
  @Option(
    name: .customLong("cluster"),
    help: ArgumentHelp(
      "Act on this cluster only (repeatable); the others are recorded as excluded.",
      valueName: "name"))
  var clusters: [String] = []

  @Option(
    name: [.customShort("l"), .customLong("selector")],
    help: ArgumentHelp(
      "Act on the clusters whose labels match (env=prod,region in (eu,us)).",
      valueName: "selector"))
  var selector: String?

  @Option(
    help: ArgumentHelp(
      "How long one cluster may take (overrides rollout.clusterTimeout).",
      valueName: "duration"))
  var timeout: String?

  func validate() throws {
    if let timeout {
      guard let duration = DurationText.parse(timeout), duration > .zero else {
        throw ValidationError("invalid --timeout '\(timeout)': expected a duration such as 10m")
      }
    }
    if let selector {
      do throws(Diagnostic) {
        _ = try LabelSelector.parse(selector)
      } catch {
        throw ValidationError("invalid --selector '\(selector)': \(error.message)")
      }
    }
  }

  var clusterTimeout: Duration? { timeout.flatMap(DurationText.parse) }

  var isEmpty: Bool { clusters.isEmpty && selector == nil }

  /// The clusters of `fleet` this invocation acts on, nil for all; every --cluster must name a
  /// cluster of the fleet ("did you mean" otherwise).
  func subset(of fleet: Fleet) throws -> Set<String>? {
    if isEmpty { return nil }
    for name in clusters { try requireCluster(name, in: fleet) }
    var chosen = Set(clusters)
    if let selector, let parsed = try? LabelSelector.parse(selector) {
      for cluster in fleet.clusters where parsed.matches(cluster.labels) {
        chosen.insert(cluster.name)
      }
    }
    return chosen
  }
}
