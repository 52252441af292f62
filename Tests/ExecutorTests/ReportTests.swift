// The run reports (JSON, JUnit XML, Markdown) of one small halted run, compared whole.
import Drivers
import Executor
import FleetCore
import Foundation
import Report
import Testing

/// Canary k1 passes; in wave "prod" (two at a time) p2's upgrade fails, which crosses the
/// budget of 0; wave rollback returns p1 and fails for p2; p3 never starts.
func smallHaltedRun() throws -> RunSummary {
  let shapes = [
    WaveShape(name: "canary", clusters: ["k1"], canary: true),
    WaveShape(name: "prod", clusters: ["p1", "p2", "p3"], maxParallel: 2),
  ]
  let run = try SimRun(
    plan(shapes), clusters: clusters(["k1", "p1", "p2", "p3"]),
    faults: SimFaults(upgrade: .init(names: ["p2"]), rollback: .init(names: ["p2"])),
    healthGate: true, policy: FailurePolicy(rollback: .wave))
  return run.run()
}

@Suite struct ReportTests {
  @Test func aRolledBackFirstInstallIsReportedUninstalled() {
    // Drivers answer a rollback with no earlier revision with the word "uninstalled".
    let removed = ClusterRunRecord(
      name: "a", wave: 1, phase: .rolledBack, rollbackRevision: "uninstalled")
    let restored = ClusterRunRecord(name: "b", wave: 1, phase: .rolledBack, rollbackRevision: "3")
    #expect(ReportedState(removed, outcome: .halted) == .uninstalled)
    #expect(ReportedState(restored, outcome: .halted) == .rolledBack)
  }

  @Test func reportJSONIsExact() throws {
    #expect(RunReportJSON.string(try smallHaltedRun()) == expectedJSON)
  }

  @Test func junitXMLIsExact() throws {
    #expect(RunJUnit.string(try smallHaltedRun(), hostname: "ci-runner") == expectedJUnit)
  }

  @Test func markdownIsExact() throws {
    #expect(RunMarkdown.string(try smallHaltedRun()) == expectedMarkdown)
  }
}

let expectedJSON = #"""
  {
    "run": "run-1",
    "fleet": "test",
    "release": "checkout",
    "version": "1.4.2",
    "appVersion": "1.4.2",
    "chartVersion": null,
    "driver": "sim",
    "outcome": "halted",
    "reason": "wave 'prod' has 1 failed of 3 clusters; its budget allows 0; rollback failed for p2",
    "waitingForApproval": null,
    "startedAt": "2027-01-15T08:00:00.000Z",
    "finishedAt": "2027-01-15T08:00:30.000Z",
    "allowedFailuresTotal": null,
    "counts": {
      "succeeded": 1,
      "failed": 1,
      "rolled-back": 1,
      "uninstalled": 0,
      "skipped": 1,
      "not-started": 0,
      "excluded": 0
    },
    "midUpgrade": [],
    "waves": [
      {
        "index": 0,
        "name": "canary",
        "canary": true,
        "state": "promoted",
        "clusters": 1,
        "failures": 0,
        "allowedFailures": 0,
        "startedAt": "2027-01-15T08:00:00.000Z",
        "finishedAt": "2027-01-15T08:00:10.000Z",
        "haltReason": null,
        "gates": []
      },
      {
        "index": 1,
        "name": "prod",
        "canary": false,
        "state": "halted",
        "clusters": 3,
        "failures": 1,
        "allowedFailures": 0,
        "startedAt": "2027-01-15T08:00:10.000Z",
        "finishedAt": "2027-01-15T08:00:20.000Z",
        "haltReason": "wave 'prod' has 1 failed of 3 clusters; its budget allows 0",
        "gates": []
      }
    ],
    "clusters": [
      {
        "name": "k1",
        "wave": "canary",
        "waveIndex": 0,
        "state": "succeeded",
        "phase": "succeeded",
        "fromRevision": "1",
        "toRevision": "2",
        "rollbackRevision": null,
        "startedAt": "2027-01-15T08:00:00.000Z",
        "finishedAt": "2027-01-15T08:00:10.000Z",
        "error": null,
        "rollbackError": null,
        "midUpgrade": false,
        "deferrals": 0,
        "deferralReason": null,
        "measurements": [
          {
            "gate": "sim-health",
            "at": "2027-01-15T08:00:10.000Z",
            "value": 0,
            "outcome": "passed",
            "detail": "error rate 0 \u003c= 0.01",
            "limit": null,
            "query": null
          }
        ]
      },
      {
        "name": "p1",
        "wave": "prod",
        "waveIndex": 1,
        "state": "rolled-back",
        "phase": "rolled-back",
        "fromRevision": "1",
        "toRevision": "2",
        "rollbackRevision": "3",
        "startedAt": "2027-01-15T08:00:10.000Z",
        "finishedAt": "2027-01-15T08:00:20.000Z",
        "error": null,
        "rollbackError": null,
        "midUpgrade": false,
        "deferrals": 0,
        "deferralReason": null,
        "measurements": [
          {
            "gate": "sim-health",
            "at": "2027-01-15T08:00:20.000Z",
            "value": 0,
            "outcome": "passed",
            "detail": "error rate 0 \u003c= 0.01",
            "limit": null,
            "query": null
          }
        ]
      },
      {
        "name": "p2",
        "wave": "prod",
        "waveIndex": 1,
        "state": "failed",
        "phase": "rollback-failed",
        "fromRevision": "1",
        "toRevision": null,
        "rollbackRevision": null,
        "startedAt": "2027-01-15T08:00:10.000Z",
        "finishedAt": "2027-01-15T08:00:20.000Z",
        "error": "simulated upgrade failure",
        "rollbackError": "simulated rollback failure",
        "midUpgrade": false,
        "deferrals": 0,
        "deferralReason": null,
        "measurements": []
      },
      {
        "name": "p3",
        "wave": "prod",
        "waveIndex": 1,
        "state": "skipped",
        "phase": "pending",
        "fromRevision": null,
        "toRevision": null,
        "rollbackRevision": null,
        "startedAt": null,
        "finishedAt": null,
        "error": null,
        "rollbackError": null,
        "midUpgrade": false,
        "deferrals": 0,
        "deferralReason": null,
        "measurements": []
      }
    ]
  }

  """#

let expectedJUnit = #"""
  <?xml version="1.0" encoding="UTF-8"?>
  <testsuites name="fleetwave rollout test" tests="4" failures="1" errors="0" skipped="2"\#
   time="30.000">
    <testsuite name="wave 0 canary" tests="1" failures="0" errors="0" skipped="0" time="10.000"\#
   timestamp="2027-01-15T08:00:00" hostname="ci-runner" id="0" package="test">
      <properties>
        <property name="run" value="run-1"/>
        <property name="release" value="checkout"/>
        <property name="version" value="1.4.2"/>
        <property name="appVersion" value="1.4.2"/>
        <property name="driver" value="sim"/>
        <property name="outcome" value="halted"/>
      </properties>
      <testcase classname="test.canary" name="k1" time="10.000"/>
      <system-out/>
      <system-err/>
    </testsuite>
    <testsuite name="wave 1 prod" tests="3" failures="1" errors="0" skipped="2" time="10.000"\#
   timestamp="2027-01-15T08:00:10" hostname="ci-runner" id="1" package="test">
      <properties>
        <property name="run" value="run-1"/>
        <property name="release" value="checkout"/>
        <property name="version" value="1.4.2"/>
        <property name="appVersion" value="1.4.2"/>
        <property name="driver" value="sim"/>
        <property name="outcome" value="halted"/>
      </properties>
      <testcase classname="test.prod" name="p1" time="10.000">
        <skipped message="rolled back after the rollout halted (revision 3)"/>
      </testcase>
      <testcase classname="test.prod" name="p2" time="10.000">
        <failure message="simulated upgrade failure" type="rollback-failed">phase:\#
   rollback-failed&#10;from revision: 1&#10;rollback failed: simulated rollback\#
   failure&#10;</failure>
      </testcase>
      <testcase classname="test.prod" name="p3" time="0.000">
        <skipped message="not run: wave &apos;prod&apos; has 1 failed of 3 clusters; its budget\#
   allows 0"/>
      </testcase>
      <system-out/>
      <system-err/>
    </testsuite>
  </testsuites>

  """#

let expectedMarkdown = #"""
  ## Fleetwave rollout `run-1`: halted

  Fleet **test**, release **checkout** 1.4.2, driver `sim`, 30s (2027-01-15T08:00:00.000Z to\#
   2027-01-15T08:00:30.000Z).

  > **wave 'prod' has 1 failed of 3 clusters; its budget allows 0; rollback failed for p2**

  | state | clusters |
  |---|---:|
  | succeeded | 1 |
  | failed | 1 |
  | rolled-back | 1 |
  | skipped | 1 |

  ### Waves

  | # | wave | state | clusters | failures (allowed) | note |
  |---:|---|---|---:|---|---|
  | 0 | canary | promoted | 1 | 0 (0) |  |
  | 1 | prod | halted | 3 | 1 (0) | wave 'prod' has 1 failed of 3 clusters; its budget allows 0 |

  ### Failed and rolled-back clusters

  | cluster | wave | state | revision | error |
  |---|---|---|---|---|
  | `p1` | prod | rolled-back | 1 → 2 → 3 |  |
  | `p2` | prod | failed | 1 → - → - | simulated upgrade failure; rollback: simulated rollback\#
   failure |

  """#

@Suite struct RunHTMLTests {
  /// The page for the small halted run: the verdict first, then the failure with its cause,
  /// the waves counted, and every cluster collapsed below under its anchor.
  @Test func theHaltedRunAsAPage() throws {
    let page = RunHTML.string(try smallHaltedRun())
    #expect(page.hasPrefix("<!doctype html>\n<html lang=\"en\">"))
    #expect(page.hasSuffix("</script>\n</body></html>\n"))
    #expect(
      page.contains("<h1>Rollout <code>run-1</code>: <span class=\"halted\">halted</span></h1>"))
    #expect(
      page.contains(
        "<p class=\"verdict bad\"><b>halted</b>: 1 of 4 clusters upgraded, 1 failed, 1 rolled back,"
          + " 1 not run. wave &apos;prod&apos; has 1 failed of 3 clusters; its budget allows 0;"
          + " rollback failed for p2</p>"))
    #expect(
      page.contains(
        "<tr><td><a href=\"#cluster-p2\"><code>p2</code></a></td><td>prod</td>"
          + "<td class=\"failed\">failed</td>"
          + "<td>simulated upgrade failure; rollback: simulated rollback failure</td><td></td></tr>"
      ))
    #expect(
      page.contains(
        "<tr><td>1</td><td>prod</td><td class=\"halted\">halted</td><td class=\"n\">3</td>"
          + "<td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">1</td>"
          + "<td class=\"n\">1</td><td>1 (0)</td>"))
    #expect(
      page.contains(
        "<details id=\"cluster-p3\" data-filter=\"p3 prod skipped\"><summary><code>p3</code>"
          + " <span class=\"skipped\">skipped</span> <small>wave prod</small></summary>"
          + "<div>revisions - → - → -</div></details>"))
    #expect(
      page.contains("<li class=\"succeeded\">sim-health = 0: passed, error rate 0 &lt;= 0.01 ("))
    #expect(
      page.range(of: "id=\"failures\"")!.lowerBound < page.range(of: "id=\"waves\"")!.lowerBound)
    #expect(!page.contains("'prod'"))
  }
}
