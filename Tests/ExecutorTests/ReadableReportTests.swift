// The reports as their readers' tools see them: JUnit through a strict Ant/Jenkins schema
// (xmllint), the run page in headless Chromium.
import Drivers
import Executor
import FleetCore
import FleetwaveTestSupport
import Foundation
import Report
import Testing

/// Sixty clusters in four waves; in the last wave the health gate fails on `w3-07`, whose
/// measurement carries a raw float as Prometheus returns it.
func largeGateFailedRun() throws -> RunSummary {
  let names = (0..<60).map { index -> String in
    switch index {
    case 0..<2: return "canary-\(index)"
    case 2..<12: return "w1-\(String(format: "%02d", index - 2))"
    case 12..<30: return "w2-\(String(format: "%02d", index - 12))"
    default: return "w3-\(String(format: "%02d", index - 30))"
    }
  }
  let shapes = [
    WaveShape(name: "canary", clusters: Array(names[0..<2]), canary: true),
    WaveShape(name: "early", clusters: Array(names[2..<12])),
    WaveShape(name: "main", clusters: Array(names[12..<30])),
    WaveShape(name: "rest", clusters: Array(names[30..<60]), maxParallel: 10),
  ]
  let run = try SimRun(
    plan(shapes), clusters: clusters(names),
    faults: SimFaults(health: .init(names: ["w3-07"])), healthGate: true)
  var summary = run.run()
  for index in summary.clusters.indices where summary.clusters[index].name == "w3-07" {
    summary.clusters[index].measurements.append(
      Measurement(
        gate: "error-rate", at: summary.finishedAt, value: 0.27900000000000003, outcome: .failed,
        detail: "0.27900000000000003 > 0.05", limit: 0.05,
        query: #"sum(rate(http_requests_total{cluster="w3-07",code=~"5.."}[5m]))"#))
  }
  return summary
}

/// The schema kept beside the tests, written from Ant's JUnit format with Jenkins' additions.
let junitSchema = BuiltProducts.packageRoot.appendingPathComponent("Tests/Schemas/junit.xsd").path

func validateJUnit(_ xml: String, in dir: TemporaryDirectory, name: String) throws -> ProcessResult
{
  let file = try dir.write(name, xml)
  return try runProcess("/usr/bin/xmllint", ["--noout", "--schema", junitSchema, file])
}

@Suite struct JUnitSchemaTests {
  @Test func everyReportValidatesAgainstTheStrictSchema() throws {
    let dir = try TemporaryDirectory("junit-schema")
    defer { dir.remove() }
    let halted = try validateJUnit(
      RunJUnit.string(try smallHaltedRun()), in: dir, name: "halted.xml")
    #expect(halted.status == 0)
    #expect(halted.stderr == "\(dir.file("halted.xml")) validates\n")
    let gate = try validateJUnit(
      RunJUnit.string(try largeGateFailedRun()), in: dir, name: "gate.xml")
    #expect(gate.stderr == "\(dir.file("gate.xml")) validates\n")
    let invalid = try validateJUnit(
      RunJUnit.invalidFleet(
        fleet: "demo", diagnostics: ["fleet.yaml:3:7: error: unknown key 'wavez'"],
        at: Date(timeIntervalSince1970: 1_800_000_000)), in: dir, name: "invalid.xml")
    #expect(invalid.stderr == "\(dir.file("invalid.xml")) validates\n")
  }

  /// The schema is strict: the attributes Ant requires cannot be left out.
  @Test func theSchemaRejectsASuiteWithoutHostname() throws {
    let dir = try TemporaryDirectory("junit-schema-strict")
    defer { dir.remove() }
    let xml = RunJUnit.string(try smallHaltedRun(), hostname: "ci-runner")
      .replacingOccurrences(of: " hostname=\"ci-runner\"", with: "")
    let result = try validateJUnit(xml, in: dir, name: "bad.xml")
    #expect(result.status == 3)
    #expect(
      result.stderr.contains(
        "Element 'testsuite': The attribute 'hostname' is required but missing."))
  }

  @Test func aGateFailureIsTypedAndCarriesItsMeasurements() throws {
    let xml = RunJUnit.string(try largeGateFailedRun(), hostname: "ci-runner")
    let failure: String = [
      "<failure message=\"health gate &apos;sim-health&apos; failed: unhealthy: w3-07",
      " (error rate 0.25 &gt; 0.01)\" type=\"health-gate-failed\">phase: rolled-back&#10;",
      "from revision: 1&#10;rolled back to revision: 3&#10;",
      "gate sim-health: unhealthy: w3-07 (error rate 0.25 &gt; 0.01)&#10;",
      "measurement sim-health = 0.25: failed, error rate 0.25 &gt; 0.01",
      " (2027-01-15T08:00:40.000Z)&#10;",
      "measurement error-rate = 0.279: failed, 0.279 &gt; 0.05 (2027-01-15T08:01:00.000Z)&#10;",
      "</failure>",
    ].joined()
    #expect(xml.contains(failure))
    #expect(!xml.contains("0.27900000000000003"))
  }
}

@Suite struct RunPageInChromiumTests {
  /// Loads the page of a large run in headless Chromium at 1280×1000 and reads where the first
  /// failing cluster is laid out; keeps a screenshot under .build/test-artefacts/.
  @Test func aReadingShowsTheQueryAsSentForItsCluster() throws {
    let page = RunHTML.string(try largeGateFailedRun())
    #expect(page.contains("<li class=\"failed\">error-rate = 0.279: failed, 0.279 &gt; 0.05 ("))
    #expect(
      page.contains(
        "<br><code class=\"query\">sum(rate(http_requests_total{cluster=&quot;w3-07&quot;,"
          + "code=~&quot;5..&quot;}[5m]))</code></li>"))
  }

  @Test(.enabled(if: HeadlessChromium.isInstalled))
  func theFirstFailureIsWithinTheFirstScreen() throws {
    let dir = try TemporaryDirectory("run-page")
    defer { dir.remove() }
    let page = RunHTML.string(try largeGateFailedRun())
    #expect(!page.contains("0.27900000000000003"))
    // The probe writes the link's distance from the top of the document into the page's title.
    let probe = """
      <script>
      const first=document.querySelector('#failures ~ table a[href^="#cluster-"]');
      document.title='first-failure '+first.textContent+' '
        +Math.round(first.getBoundingClientRect().top+window.scrollY);
      </script>
      """
    let probed = try dir.write(
      "probed.html", page.replacingOccurrences(of: "</body>", with: probe + "</body>"))
    let dom = try HeadlessChromium.run(probed, ["--dump-dom"], in: dir)
    let title = dom.stdout.firstMatch(of: /<title>first-failure (\S+) (\d+)<\/title>/)
    #expect(title?.1 == "w3-07")
    let top = title.flatMap { Int($0.2) } ?? Int.max
    #expect(top < 1000, "the first failing cluster is laid out at \(top) px")

    let artefacts = BuiltProducts.packageRoot.appendingPathComponent(".build/test-artefacts").path
    try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
    let screenshot = artefacts + "/run-report.png"
    try? FileManager.default.removeItem(atPath: screenshot)
    let page2 = try dir.write("page.html", page)
    try HeadlessChromium.run(page2, ["--screenshot=\(screenshot)"], in: dir)
    #expect(FileManager.default.fileExists(atPath: screenshot))
  }
}
