// `fleetwave preflight FLEET`: check every cluster before a rollout (identity, kubeVersion,
// render, permissions, release lock, images), print a table, and exit 1 naming every problem.
import ArgumentParser
import Drivers
import Engine
import FleetCore
import Foundation
import Kube
import Report

extension FleetwaveCommand {
  struct Preflight: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check every cluster before a rollout: what would fail, and why.",
      discussion: """
        For each cluster, in parallel: the API is reachable and accepts our credentials (and \
        as whom, by SelfSubjectReview); its version satisfies the chart's kubeVersion; the \
        release renders; a SelfSubjectAccessReview allows \
        everything the kube driver will do (each rendered kind, revision-record Secrets, the \
        release Lease, creating the namespace when it is missing); no other run holds the \
        release Lease; no image is :latest or untagged. Prints a table (or -o json) and every \
        problem on stderr, one line each. Warnings (a pending revision, a moving image tag) \
        fail only with --strict. Exit codes: 0 passed, 1 a check failed, 2 usage.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
      case table, json, markdown
    }

    @Argument(help: "The fleet directory, or its fleet.yaml.")
    var fleet: String

    @Option(help: "The driver whose work is checked (default: the fleet's release.driver).")
    var driver: String?

    @Option(help: ArgumentHelp("Only these clusters.", valueName: "name"))
    var cluster: [String] = []

    @OptionGroup var valueFlags: HelmValueOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "table, json or markdown.")
    var format: Format = .table

    @Option(
      help: ArgumentHelp(
        "Also write a JUnit XML report, a test case per cluster.", valueName: "file"))
    var junit: String?

    @Flag(help: "Fail on warnings too (a moving image tag, a revision left pending).")
    var strict = false

    @Option(help: "At most this many clusters checked at once.")
    var maxParallel: Int = 64

    @OptionGroup var connection: KubeconfigOptions

    func validate() throws {
      if maxParallel < 1 { throw ValidationError("--max-parallel must be at least 1") }
      if let driver, DriverKind(rawValue: driver) == nil {
        throw ValidationError(
          "unknown driver '\(driver)'; expected one of: "
            + DriverKind.allCases.map(\.rawValue).joined(separator: ", "))
      }
    }

    func run() throws {
      let overrides = try valueFlags.overrides()
      let loaded = try loadFleet(fleet)
      for name in cluster { try requireCluster(name, in: loaded.fleet) }
      let kind = driver.flatMap(DriverKind.init(rawValue:)) ?? loaded.fleet.release.driver
      guard kind == .kube else {
        printError(
          "error: preflight checks what the kube driver does; the \(kind.rawValue) driver "
            + "has no checks yet (try --driver kube)")
        throw ExitCode(1)
      }
      let kubeDriver: KubeDriver
      do {
        kubeDriver = try makeKubeDriver(
          loaded, values: overrides, kubeconfig: connection.kubeconfig,
          options: KubeDriverOptions())
      } catch {
        printError("error: \(error.message)")
        throw ExitCode(error.exitCode)
      }
      let clusters = loaded.fleet.clusters.filter { cluster.isEmpty || cluster.contains($0.name) }
      let action = PreflightAction(driver: kubeDriver, window: maxParallel)
      let results = Blocking.wait { () async -> [ClusterPreflight] in await action.run(clusters) }

      // FLEETWAVE_NOW fixes the reports' time, as it does a rollout's.
      let now = ProcessInfo.processInfo.environment["FLEETWAVE_NOW"].flatMap(Timestamp.parse)
      let report = Self.report(results, fleet: loaded.fleet, strict: strict, at: now ?? Date())
      switch format {
      case .table: print(Self.table(results, strict: strict), terminator: "")
      case .json:
        print(
          JSONWriter.string(
            Self.json(results, fleet: loaded.fleet, strict: strict),
            options: JSONWriter.Options(pretty: true)))
      case .markdown:
        print(PreflightMarkdown.string(report), terminator: "")
      }
      if let junit {
        do {
          try PreflightJUnit.string(report).write(toFile: junit, atomically: true, encoding: .utf8)
        } catch {
          printError("error: cannot write \(junit): \(error.localizedDescription)")
          throw ExitCode(1)
        }
      }
      for line in ClusterPreflight.problemLines(results, strict: strict) { printError(line) }
      let failing = results.filter { !$0.passes(strict: strict) }
      if !failing.isEmpty {
        printError(
          "preflight failed on \(failing.count) of \(results.count) cluster"
            + (results.count == 1 ? "" : "s"))
        throw ExitCode(1)
      }
    }

    /// `CLUSTER  IDENTITY  IDENTITY-CHECK...`: a row per cluster, columns padded to fit.
    static func table(_ results: [ClusterPreflight], strict: Bool) -> String {
      let header =
        ["CLUSTER", "IDENTITY"] + PreflightCheck.allCases.map { $0.rawValue.uppercased() }
      let rows = results.map { result in
        [result.cluster, result.identity ?? "-"]
          + PreflightCheck.allCases.map { result.summary($0, strict: strict) }
      }
      let all = [header] + rows
      let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
      return all.map { row in
        row.indices.map { column in
          column == row.count - 1
            ? row[column]
            : row[column] + String(repeating: " ", count: widths[column] - row[column].count + 2)
        }.joined()
      }.joined(separator: "\n") + "\n"
    }

    /// The results as the Markdown and JUnit reports take them.
    static func report(_ results: [ClusterPreflight], fleet: Fleet, strict: Bool, at: Date)
      -> PreflightReport
    {
      PreflightReport(
        fleet: fleet.name, release: fleet.release.name, namespace: fleet.release.namespace,
        strict: strict, checkedAt: at,
        clusters: results.map { result in
          PreflightReport.ClusterResult(
            name: result.cluster, identity: result.identity,
            checks: PreflightCheck.allCases.map {
              (check: $0.rawValue, summary: result.summary($0, strict: strict))
            },
            problems: ClusterPreflight.problemLines([result], strict: strict).map {
              String($0.dropFirst(result.cluster.count + 2))
            },
            passed: result.passes(strict: strict))
        })
    }

    static func json(_ results: [ClusterPreflight], fleet: Fleet, strict: Bool) -> Value {
      let clusters: [Value] = results.map { result in
        var checks = Mapping()
        for check in PreflightCheck.allCases {
          let outcome: String
          switch result.outcomes[check] ?? .skipped {
          case .passed: outcome = "passed"
          case .found: outcome = "found"
          case .skipped: outcome = "skipped"
          }
          checks[check.rawValue] = .string(outcome)
        }
        let problems: [Value] = result.problems.map { problem in
          [
            "check": .string(problem.check.rawValue),
            "severity": .string(strict ? "error" : problem.severity.rawValue),
            "message": .string(problem.message),
          ]
        }
        return [
          "name": .string(result.cluster), "identity": result.identity.map { .string($0) } ?? .null,
          "passed": .bool(result.passes(strict: strict)), "checks": .mapping(checks),
          "problems": .sequence(problems),
        ]
      }
      return [
        "fleet": .string(fleet.name), "release": .string(fleet.release.name),
        "namespace": .string(fleet.release.namespace), "strict": .bool(strict),
        "passed": .bool(results.allSatisfy { $0.passes(strict: strict) }),
        "clusters": .sequence(clusters),
      ]
    }
  }
}

/// `rollout` and `resume`: the preflight run before each wave (kube driver only).
struct WavePreflightOptions: ParsableArguments {
  @Flag(
    help: """
      kube: do not check a wave's clusters before it starts (the journal records that the \
      preflight was skipped).
      """)
  var skipPreflight = false

  @Flag(
    help: "kube: a preflight warning (a moving image tag, a pending revision) stops the wave too.")
  var strict = false

  /// Gives the run's executor the preflight as each wave's entry gate; the gate, when there is
  /// one, says afterwards whether it stopped the run.
  func attach(to drivers: inout RunDrivers) -> PreflightGate? {
    let (gates, gate) = PreflightGate.entryGates(
      for: drivers, skip: skipPreflight, strict: strict, report: { printError($0) })
    drivers.waveEntryGates = gates
    return gate
  }
}
