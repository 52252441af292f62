// Loading fleets into the model: clusters, defaults, cluster files, release, policy, calendar.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct LoaderTests {
  @Test func selectorsOfEveryOperatorSelectTheRightClusters() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        rollout:
          canary: {selector: "canary=true", bake: 10m}
          waves:
            - {name: eq, selector: env=prod}
            - {name: eqeq, selector: "env==dev"}
            - {name: ne, selector: env!=dev}
            - {name: in, selector: "region in (eu, us)"}
            - {name: notin, selector: region notin (eu)}
            - {name: exists, selector: tier}
            - {name: absent, selector: "!tier"}
            - {name: and, selector: "env=prod,!canary,region notin (us)"}
            - {name: rest}
        """)
    ])
    defer { fixture.remove() }
    let fleet = try fixture.load().fleet
    func members(_ selector: LabelSelector?) -> [String] {
      fleet.clusters.filter { selector?.matches($0.labels) ?? false }.map(\.name)
    }
    #expect(members(fleet.rollout.canary?.selector) == ["dev-a", "prod-a"])
    var byWave: [String: [String]] = [:]
    for wave in fleet.rollout.waves {
      if case .selector(let selector) = wave.members { byWave[wave.name] = members(selector) }
    }
    #expect(byWave["eq"] == ["prod-a", "prod-b", "prod-c", "prod-d"])
    #expect(byWave["eqeq"] == ["dev-a", "dev-b"])
    #expect(byWave["ne"] == ["prod-a", "prod-b", "prod-c", "prod-d"])
    #expect(byWave["in"] == ["dev-a", "dev-b", "prod-a", "prod-b"])
    #expect(byWave["notin"] == ["dev-b", "prod-b", "prod-c", "prod-d"])
    #expect(byWave["exists"] == ["prod-b", "prod-c"])
    #expect(byWave["absent"] == ["dev-a", "dev-b", "prod-a", "prod-d"])
    #expect(byWave["and"] == ["prod-c", "prod-d"])
    #expect(fleet.rollout.waves.last?.members == .rest)
    #expect(fleet.rollout.waves.count == 9)
  }

  @Test func policyParsesIntoTheModel() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        rollout:
          canary: {selector: canary=true, maxFailures: 0, bake: 10m, approval: true, oneDomainPerWave: true}
          waves:
            - {name: dev, selector: env=dev, maxParallel: 3, bake: 1m}
            - {name: ten, percent: 10, maxFailures: 1}
            - {name: quarter, percent: "25%", maxPerDomain: 1}
            - {name: two, count: 2, maxFailures: 50%}
            - {name: rest, approval: true}
          maxParallel: 20
          spreadBy: region
          maxPerDomain: 2
          priorityLabel: tier
          bake: 5m
          expectedDuration: 90s
          clusterTimeout: 1h30m
          failurePolicy: {maxFailuresPerWave: 10%, maxFailuresTotal: 5, rollback: wave, inFlight: cancel}
          health:
            - http: {url: "http://{{ .name }}.example/healthz", expectStatus: 200, successes: 3,
                     interval: 5s, timeout: 2m, maxLatency: 500ms}
            - http: {url: "https://{{ .labels.region }}.example/", expectStatus: 200-204,
                     jsonField: status.ready, jsonValue: "true", insecureSkipTLSVerify: true}
            - prometheus: {url: "http://127.0.0.1:9090", query: 'rate(errors{cluster="{{ .name }}"}[5m])',
                           failIf: "> 0.01", interval: 30s, count: 5, failureLimit: 1,
                           inconclusive: fail}
            - command: {run: "check {{ .name | shellquote }} {{ .version | shellquote }}", timeout: 45s}
          waveHealth:
            - command: "fleet-check {{ .release | shellquote }}"
          growth: {initial: 2, factor: 3, maxWaveSize: 50}
        """)
    ])
    defer { fixture.remove() }
    let policy = try fixture.load().fleet.rollout
    let canary = try #require(policy.canary)
    #expect(canary.selector?.text == "canary=true")
    #expect(canary.maxFailures == .count(0))
    #expect(canary.bake == .seconds(600))
    #expect(canary.approval)
    #expect(canary.oneDomainPerWave)
    #expect(policy.waves.map(\.name) == ["dev", "ten", "quarter", "two", "rest"])
    #expect(policy.waves[0].maxParallel == 3)
    #expect(policy.waves[0].bake == .seconds(60))
    #expect(policy.waves[1].members == .percent(10))
    #expect(policy.waves[1].maxFailures == .count(1))
    #expect(policy.waves[2].members == .percent(25))
    #expect(policy.waves[2].maxPerDomain == 1)
    #expect(policy.waves[3].members == .count(2))
    #expect(policy.waves[3].maxFailures == .percent(50))
    #expect(policy.waves[4].members == .rest)
    #expect(policy.waves[4].approval)
    #expect(policy.maxParallel == 20)
    #expect(policy.spreadBy == "region")
    #expect(policy.maxPerDomain == 2)
    #expect(policy.priorityLabel == "tier")
    #expect(policy.bake == .seconds(300))
    #expect(policy.expectedDuration == .seconds(90))
    #expect(policy.clusterTimeout == .seconds(5400))
    #expect(
      policy.failurePolicy
        == FailurePolicy(
          maxFailuresPerWave: .percent(10), maxFailuresTotal: .count(5), rollback: .wave,
          inFlight: .cancel))
    #expect(policy.growth == WaveGrowth(initial: 2, factor: 3, maxWaveSize: 50))
    #expect(policy.health.count == 4)
    guard case .http(let probe) = policy.health[0], case .http(let json) = policy.health[1],
      case .prometheus(let analysis) = policy.health[2],
      case .command(let command) = policy.health[3],
      case .command(let waveCheck) = policy.waveHealth.first
    else {
      Issue.record("unexpected health checks: \(policy.health)")
      return
    }
    #expect(probe.url == "http://{{ .name }}.example/healthz")
    #expect(probe.expectStatus == 200...200)
    #expect(probe.successes == 3)
    #expect(probe.interval == .seconds(5))
    #expect(probe.timeout == .seconds(120))
    #expect(probe.maxLatency == .milliseconds(500))
    #expect(json.expectStatus == 200...204)
    #expect(json.jsonField == "status.ready")
    #expect(json.jsonValue == "true")
    #expect(json.insecureSkipTLSVerify)
    #expect(analysis.query == "rate(errors{cluster=\"{{ .name }}\"}[5m])")
    #expect(analysis.verdict == .failIf(MetricCondition(.greater, 0.01)))
    #expect(analysis.count == 5)
    #expect(analysis.failureLimit == 1)
    #expect(analysis.interval == .seconds(30))
    #expect(analysis.inconclusive == .fail)
    #expect(command.command == "check {{ .name | shellquote }} {{ .version | shellquote }}")
    #expect(command.timeout == .seconds(45))
    #expect(waveCheck.command == "fleet-check {{ .release | shellquote }}")
  }

  @Test func defaultsMergeIntoClustersAndTemplatesFillFromThem() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, driver: sim}
      defaults:
        labels: {team: payments, env: dev}
        server: "https://127.0.0.1:6443/clusters/{{ .name }}"
        windows: [nights]
        expectedDuration: 2m
      clusters:
        - {name: a, labels: {env: prod}}
        - {name: b, context: ctx-b, server: https://b.example, windows: [], expectedDuration: 7m}
      windows:
        nights: {days: Mon-Fri, from: "22:00", to: "04:00", timezone: Europe/Berlin}
      """
    ])
    defer { fixture.remove() }
    let fleet = try fixture.load().fleet
    #expect(fleet.name == (fixture.path as NSString).lastPathComponent)
    var release = fleet.release
    release.mark = nil
    #expect(release == Release(name: "app", namespace: "default", driver: .sim))
    let a = try #require(fleet.cluster(named: "a"))
    let b = try #require(fleet.cluster(named: "b"))
    #expect(a.labels == ["team": "payments", "env": "prod"])
    #expect(a.server == "https://127.0.0.1:6443/clusters/a")
    #expect(a.context == nil)
    #expect(a.windows == ["nights"])
    #expect(a.expectedDuration == .seconds(120))
    #expect(b.labels == ["team": "payments", "env": "dev"])
    #expect(b.context == "ctx-b")
    #expect(b.server == "https://b.example")
    #expect(b.windows == [])
    #expect(b.expectedDuration == .seconds(420))
    let window = try #require(fleet.windows["nights"])
    #expect(window.days == [.monday, .tuesday, .wednesday, .thursday, .friday])
    #expect(window.from == TimeOfDay(hour: 22, minute: 0))
    #expect(window.to == TimeOfDay(hour: 4, minute: 0))
    #expect(window.timeZone == "Europe/Berlin")
  }

  @Test func clustersFromReadsFilePerClusterAndListFiles() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, driver: sim}
      clusters:
        - {name: inline-1}
      clustersFrom:
        - clusters/one/*.yaml
        - clusters/lists/*.yaml
      """,
      "clusters/one/b.yaml": "name: single-b\nlabels: {zone: b}\n",
      "clusters/one/a.yaml": "name: single-a\nlabels: {zone: a}\n",
      "clusters/lists/eu.yaml": "- {name: list-1}\n- {name: list-2}\n",
      "clusters/lists/us.yaml": "- {name: list-3}\n",
    ])
    defer { fixture.remove() }
    let fleet = try fixture.load().fleet
    #expect(
      fleet.clusters.map(\.name) == [
        "inline-1", "single-a", "single-b", "list-1", "list-2", "list-3",
      ])
    #expect(fleet.cluster(named: "single-b")?.labels == ["zone": "b"])
    #expect(
      fleet.cluster(named: "list-3")?.mark?.description == fixture.path
        + "/clusters/lists/us.yaml:1:3")
  }

  @Test func releaseDriversAndExecCommands() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release:
        name: app
        namespace: shop
        driver: exec
        version: 2.0.1
        exec: {upgrade: "deploy {{ .name | shellquote }} {{ .version | shellquote }}", rollback: "undo {{ .name | shellquote }}", timeout: 5m}
      clusters: [{name: a}]
      """
    ])
    defer { fixture.remove() }
    let release = try fixture.load().fleet.release
    #expect(release.driver == .exec)
    #expect(release.version == "2.0.1")
    #expect(
      release.exec
        == ExecCommands(
          upgrade: "deploy {{ .name | shellquote }} {{ .version | shellquote }}",
          rollback: "undo {{ .name | shellquote }}",
          timeout: .seconds(300)))
  }

  @Test func freezePeriodsCoverWholeDaysInTheirZone() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        freeze:
          - {from: 2026-12-20, to: 2027-01-05, reason: holiday freeze, timezone: Europe/Berlin}
          - {from: "2026-11-26 18:00", to: "2026-11-27T06:00:00Z"}
        """)
    ])
    defer { fixture.remove() }
    let freezes = try fixture.load().fleet.freezes
    let rfc = ISO8601DateFormatter()
    #expect(freezes.count == 2)
    #expect(freezes[0].from == rfc.date(from: "2026-12-19T23:00:00Z"))
    #expect(freezes[0].to == rfc.date(from: "2027-01-05T23:00:00Z"))
    #expect(freezes[0].reason == "holiday freeze")
    #expect(freezes[1].from == rfc.date(from: "2026-11-26T18:00:00Z"))
    #expect(freezes[1].to == rfc.date(from: "2026-11-27T06:00:00Z"))
    #expect(freezes[1].reason == "freeze")
  }

  @Test func aFleetFileMayBeNamedDirectly() throws {
    let fixture = try FleetFixture(["fleet.yaml": fleetFile(clusters: sixClusters)])
    defer { fixture.remove() }
    let loaded = try FleetLoader.load(directory: fixture.path + "/fleet.yaml")
    #expect(loaded.fleet.directory == fixture.path)
    #expect(loaded.fleet.name == "test")
    #expect(loaded.fleet.clusters.count == 6)
  }

  @Test func demoFleetLoadsCleanly() throws {
    let demo = BuiltProducts.packageRoot.appendingPathComponent("fleets/demo").path
    let loaded = try FleetLoader.load(directory: demo)
    #expect(loaded.warnings.isEmpty)
    let fleet = loaded.fleet
    #expect(fleet.clusters.count == 60)
    #expect(Set(fleet.clusters.compactMap { $0.labels["env"] }) == ["dev", "staging", "prod"])
    #expect(Set(fleet.clusters.compactMap { $0.labels["region"] }).count == 6)
    #expect(fleet.clusters.filter { $0.labels["canary"] == "true" }.count == 3)
    #expect(fleet.release.driver == .sim)
    #expect(fleet.release.chart == "charts/checkout")
    #expect(fleet.windows.count == 1)
    #expect(fleet.freezes.count == 1)
    #expect(fleet.cluster(named: "prod-apne1-a-1")?.windows == ["apne1-maintenance"])
    #expect(fleet.cluster(named: "dev-euw1-a")?.context == "dev-euw1-a")
  }
}
