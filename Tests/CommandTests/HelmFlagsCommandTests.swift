// helm's vocabulary on rollout and resume, on the built binary: a subset of clusters with the
// rest recorded `excluded` and never touched, value flags that reach the driver and bind a
// resumed run, --timeout recorded with the run, and unknown clusters named with a suggestion.
import FleetwaveTestSupport
import Foundation
import Testing

/// A canary, a wave `europe` of two clusters and a wave `rest` needing approval. The exec
/// commands count each cluster's upgrades in `marks/CLUSTER.runs` and keep the values file
/// they were given in `marks/CLUSTER.values`.
private func writeSubsetFleet(_ dir: TemporaryDirectory) throws {
  let marks = dir.file("marks")
  try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
  try dir.write("fleet/values/base.yaml", "image: {tag: \"1.0\"}\n")
  try dir.write("tag.txt", "from-file")
  try dir.write(
    "fleet/fleet.yaml",
    """
    apiVersion: fleetwave/v1
    kind: Fleet
    metadata: {name: subset}
    release:
      name: checkout
      namespace: shop
      driver: exec
      version: 2.0.0
      exec:
        upgrade: 'echo x >> \(marks)/$FLEETWAVE_CLUSTER.runs; cp "$FLEETWAVE_VALUES_FILE" \(marks)/$FLEETWAVE_CLUSTER.values; echo 2.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
        rollback: 'echo 1.0.0 > \(marks)/$FLEETWAVE_CLUSTER.rev'
        revision: 'cat \(marks)/$FLEETWAVE_CLUSTER.rev 2>/dev/null || echo 1.0.0'
    values: [values/base.yaml]
    clusters:
      - {name: can-1, labels: {canary: "true"}}
      - {name: eu-1, labels: {w: eu}}
      - {name: eu-2, labels: {w: eu}}
      - {name: us-1, labels: {w: us}}
    rollout:
      canary: {selector: canary=true}
      waves:
        - {name: europe, selector: w=eu}
        - {name: rest, approval: true}
    """)
}

private func upgrades(_ dir: TemporaryDirectory) -> [String: Int] {
  var counts: [String: Int] = [:]
  for name in ["can-1", "eu-1", "eu-2", "us-1"] {
    let text = (try? String(contentsOfFile: dir.file("marks/\(name).runs"), encoding: .utf8)) ?? ""
    counts[name] = text.split(separator: "\n").count
  }
  return counts
}

private func valuesGiven(_ dir: TemporaryDirectory, _ cluster: String) -> String {
  (try? String(contentsOfFile: dir.file("marks/\(cluster).values"), encoding: .utf8)) ?? "-"
}

/// Each cluster's state in a JSON report, in report order, as "name=state".
private func states(_ json: String) throws -> [String] {
  let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
  let clusters = object?["clusters"] as? [[String: Any]] ?? []
  return clusters.map { "\($0["name"] ?? "?")=\($0["state"] ?? "?")" }
}

@Suite struct HelmFlagsCommandTests {
  @Test func aSubsetRunLeavesTheRestExcludedAndUntouched() throws {
    let dir = try TemporaryDirectory("helmflags-subset")
    defer { dir.remove() }
    try writeSubsetFleet(dir)
    let rollout = try fleetwave(
      [
        "rollout", "fleet", "--run", "r1", "--cluster", "eu-1", "-l", "canary=true",
        "--set-json", #"image={"tag":"2.0"}"#, "--report-json", "run.json",
      ], currentDirectory: dir.path)
    #expect(rollout.status == 0, "\(rollout.stdout)\(rollout.stderr)")
    #expect(rollout.stdout.contains("rollout r1: succeeded (2 succeeded, 2 excluded)"))
    // The wave left wholly outside the subset asks for no approval: it changes nothing.
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 1, "eu-2": 0, "us-1": 0])
    #expect(valuesGiven(dir, "eu-1") == "image:\n  tag: \"2.0\"\n")

    let report = try String(contentsOfFile: dir.file("run.json"), encoding: .utf8)
    #expect(
      try states(report) == ["can-1=succeeded", "eu-1=succeeded", "eu-2=excluded", "us-1=excluded"])
    #expect(report.contains("\"excluded\": 2"))

    let status = try fleetwave(
      ["status", "r1", "--fleet", "fleet", "-o", "json"], currentDirectory: dir.path)
    #expect(status.status == 0, "\(status.stderr)")
    #expect(
      try states(status.stdout)
        == ["can-1=succeeded", "eu-1=succeeded", "eu-2=excluded", "us-1=excluded"])
    let text = try fleetwave(["status", "r1", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(text.stdout.contains("wave 1 europe: promoted; 1 excluded, 1 succeeded;"))
    #expect(text.stdout.contains("wave 2 rest: promoted; 1 excluded;"))

    let journal = try String(
      contentsOfFile: dir.file("fleet/.fleetwave/runs/r1/journal.log"), encoding: .utf8)
    #expect(journal.split(separator: "\n").filter { $0.contains("\"excluded\"") }.count == 2)
  }

  @Test func aResumedRunNeedsTheValueFlagsItStartedWith() throws {
    let dir = try TemporaryDirectory("helmflags-resume")
    defer { dir.remove() }
    try writeSubsetFleet(dir)
    let rollout = try fleetwave(
      [
        "rollout", "fleet", "--run", "r2", "--cluster", "can-1", "--cluster", "us-1",
        "--set-file", "image.tag=tag.txt", "--timeout", "7m",
      ], currentDirectory: dir.path)
    #expect(rollout.status == 3, "\(rollout.stdout)\(rollout.stderr)")
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 0, "eu-2": 0, "us-1": 0])
    let journal = try String(
      contentsOfFile: dir.file("fleet/.fleetwave/runs/r2/journal.log"), encoding: .utf8)
    let header = String(journal.prefix { $0 != "\n" })
    #expect(header.contains(#""clusterTimeout":"7m""#), "\(header)")
    #expect(header.contains(#""valueDigest":"sha256:"#), "\(header)")
    #expect(!journal.contains("from-file"))

    // Continuing the run keeps its subset: another one is refused, not silently ignored.
    let widened = try fleetwave(
      ["rollout", "fleet", "--approve", "rest", "--cluster", "eu-1"], currentDirectory: dir.path)
    #expect(widened.status == 2)
    #expect(
      widened.stderr.hasPrefix(
        "Error: --cluster and --selector choose the clusters of a new run; run r2 goes on with "
          + "the clusters it started with\n"), "\(widened.stderr)")
    let approve = try fleetwave(
      ["approve", "r2", "--wave", "rest", "--fleet", "fleet", "--by", "lead"],
      currentDirectory: dir.path)
    #expect(approve.status == 0, "\(approve.stderr)")
    let bare = try fleetwave(["resume", "r2", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(bare.status == 1)
    #expect(
      bare.stderr.contains(
        "error: run r2 was started with other -f/--set-string/--set-json/--set-file values; "
          + "pass exactly the value flags it started with (and the same files)"), "\(bare.stderr)")
    #expect(upgrades(dir)["us-1"] == 0)

    let resumed = try fleetwave(
      ["resume", "r2", "--fleet", "fleet", "--set-file", "image.tag=tag.txt"],
      currentDirectory: dir.path)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("rollout r2: succeeded (2 succeeded, 2 excluded)"))
    #expect(upgrades(dir) == ["can-1": 1, "eu-1": 0, "eu-2": 0, "us-1": 1])
    #expect(valuesGiven(dir, "us-1") == "image:\n  tag: from-file\n")
  }

  @Test func unknownClustersAndBadScopesAreUsageErrors() throws {
    let dir = try TemporaryDirectory("helmflags-usage")
    defer { dir.remove() }
    try writeSubsetFleet(dir)
    for verb in ["rollout", "plan"] {
      let typo = try fleetwave([verb, "fleet", "--cluster", "us-2"], currentDirectory: dir.path)
      #expect(typo.status == 2)
      #expect(
        typo.stderr.hasPrefix(
          "Error: no cluster named 'us-2' in fleet 'subset'; did you mean 'us-1'?\n"),
        "\(typo.stderr)")
    }
    let far = try fleetwave(
      ["rollout", "fleet", "--cluster", "somewhere-else"], currentDirectory: dir.path)
    #expect(far.stderr.hasPrefix("Error: no cluster named 'somewhere-else' in fleet 'subset'\n"))
    let timeout = try fleetwave(
      ["rollout", "fleet", "--timeout", "soon"], currentDirectory: dir.path)
    #expect(timeout.status == 2)
    #expect(
      timeout.stderr.hasPrefix(
        "Error: invalid --timeout 'soon': expected a duration such as 10m\n"))
    // A bad value flag names the flag and the key, never the value: it may be a secret.
    for (flag, argument, message) in [
      (
        "--set-json", #"a=1,token={"x":hunter2}"#,
        "error: --set-json token: unexpected character 'h' in JSON\n"
      ),
      ("--set-json", #"{"token":"hunter2""#, "error: --set-json {…}: unterminated JSON object\n"),
      (
        "--set", "token[x]=hunter2",
        "error: --set token[x]: error parsing index: 'x' is not a number\n"
      ),
      (
        "--set-file", "a=tag.txt,cert=missing.pem",
        "error: --set-file cert: cannot read file 'missing.pem'\n"
      ),
    ] {
      let bad = try fleetwave(["rollout", "fleet", flag, argument], currentDirectory: dir.path)
      #expect(bad.status == 2)
      #expect(bad.stderr == message)
    }
    #expect(upgrades(dir) == ["can-1": 0, "eu-1": 0, "eu-2": 0, "us-1": 0])
  }

  @Test func planShowsTheSubsetAndTheTimeout() throws {
    let dir = try TemporaryDirectory("helmflags-plan")
    defer { dir.remove() }
    try writeSubsetFleet(dir)
    let plan = try fleetwave(
      ["plan", "fleet", "-l", "w=eu", "--timeout", "90s"], currentDirectory: dir.path)
    #expect(plan.status == 0, "\(plan.stderr)")
    #expect(
      plan.stdout.hasSuffix(
        "excluded (--cluster/--selector): 2 of 4: can-1, us-1\n"
          + "clusterTimeout: 1m30s (--timeout; the fleet says 30m)\n"), "\(plan.stdout)")
  }

  @Test func timeoutOverridesTheFleetsClusterTimeout() throws {
    let dir = try TemporaryDirectory("helmflags-timeout")
    defer { dir.remove() }
    // Simulated upgrades take 5m of virtual time; the fleet allows each cluster 1m.
    try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: slow}
      release: {name: checkout, namespace: shop, driver: sim}
      clusters:
        - {name: a-1, labels: {w: a}}
        - {name: b-1, labels: {w: b}}
      rollout:
        expectedDuration: 5m
        clusterTimeout: 1m
        waves:
          - {name: first, selector: w=a}
          - {name: rest, approval: true}
      """)
    let short = try fleetwave(
      ["rollout", "fleet", "--run", "t1", "--report-json", "t1.json"], currentDirectory: dir.path)
    #expect(short.status == 1)
    let failed = try String(contentsOfFile: dir.file("t1.json"), encoding: .utf8)
    #expect(failed.contains("timed out after 1m while upgrading"), "\(failed)")

    let long = try fleetwave(
      ["rollout", "fleet", "--run", "t2", "--timeout", "10m", "--new-run"],
      currentDirectory: dir.path)
    #expect(long.status == 3, "\(long.stdout)\(long.stderr)")
    #expect(long.stdout.contains("rollout t2: interrupted (1 succeeded, 1 not-started)"))
    // Resumed, the run keeps the timeout it started with: the fleet's 1m would fail b-1.
    let approve = try fleetwave(
      ["approve", "t2", "--wave", "rest", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(approve.status == 0, "\(approve.stderr)")
    let resumed = try fleetwave(["resume", "t2", "--fleet", "fleet"], currentDirectory: dir.path)
    #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
    #expect(resumed.stdout.contains("rollout t2: succeeded (2 succeeded)"))
  }
}
