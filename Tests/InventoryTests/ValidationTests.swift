// Each validation error's exact text: located, with the source line and a caret.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct ValidationTests {
  func problems(_ files: [String: String]) throws -> String {
    let fixture = try FleetFixture(files)
    defer { fixture.remove() }
    return fixture.problems()
  }

  @Test func unknownKeysSuggestTheClosestKnownKey() throws {
    let text = try problems([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, namespce: shop, driver: sim}
      clusters:
        - {name: a, lables: {env: prod}}
      rollout:
        maxParalel: 3
        failurePolicy: {rollbak: wave}
        zzz: 1
      """
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:3:22: error: unknown key 'namespce' in release; did you mean 'namespace'?
            release: {name: app, namespce: shop, driver: sim}
                                 ^
        FLEET/fleet.yaml:5:15: error: unknown key 'lables' in cluster 'a'; did you mean 'labels'?
              - {name: a, lables: {env: prod}}
                          ^
        FLEET/fleet.yaml:7:3: error: unknown key 'maxParalel' in rollout; did you mean 'maxParallel'?
              maxParalel: 3
              ^
        FLEET/fleet.yaml:8:19: error: unknown key 'rollbak' in rollout.failurePolicy; did you mean 'rollback'?
              failurePolicy: {rollbak: wave}
                              ^
        FLEET/fleet.yaml:9:3: error: unknown key 'zzz' in rollout
              zzz: 1
              ^
        """)
  }

  @Test func aReleaseWithoutADriverIsRefusedNamingTheChoices() throws {
    let text = try problems([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release:
        name: app
        chart: oci://registry.example/app
      clusters:
        - {name: a}
      """
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:4:3: error: release is missing required key 'driver'; expected one of kube, helm, exec, sim
              name: app
              ^
        """)
  }

  @Test func duplicateClusterNamesPointAtTheFirst() throws {
    let text = try problems([
      "fleet.yaml": fleetFile(
        clusters: "  - name: a\n  - name: b\n  - name: a", "clustersFrom: clusters/*.yaml"),
      "clusters/more.yaml": "name: b\n",
    ])
    #expect(
      text == """
        FLEET/clusters/more.yaml:1:1: error: duplicate cluster name 'b'
            name: b
            ^
        FLEET/fleet.yaml:7:5: note: 'b' was first defined here
              - name: b
                ^
        FLEET/fleet.yaml:8:5: error: duplicate cluster name 'a'
              - name: a
                ^
        FLEET/fleet.yaml:6:5: note: 'a' was first defined here
              - name: a
                ^
        """)
  }

  @Test func selectorsThatAreInvalidOrMatchNothing() throws {
    let text = try problems([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        rollout:
          canary: {selector: "env in (prod"}
          waves:
            - {name: qa, selector: env=qa}
            - {name: bad, selector: 'region notin eu'}
            - {name: odd, selector: "env=prod,,region=eu"}
        """)
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:13:35: error: invalid label selector: value set is not closed with ')'
              canary: {selector: "env in (prod"}
                                              ^
        FLEET/fleet.yaml:15:28: error: selector 'env=qa' matches no cluster
                - {name: qa, selector: env=qa}
                                       ^
        FLEET/fleet.yaml:16:43: error: invalid label selector: expected '(' to start a value set
                - {name: bad, selector: 'region notin eu'}
                                                      ^
        FLEET/fleet.yaml:17:39: error: invalid label selector: expected a label key
                - {name: odd, selector: "env=prod,,region=eu"}
                                                  ^
        """)
  }

  @Test func windowsDurationsPercentagesAndTimeZones() throws {
    let text = try problems([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a, windows: [nigths]}\n  - {name: b, windows: [weekend]}",
        """
        rollout:
          bake: 10x
          clusterTimeout: 5 minutes
          waves:
            - {name: w, percent: 150, maxFailures: 120%}
          failurePolicy: {maxFailuresPerWave: ten%}
        windows:
          nights: {days: Mon-Fri, from: "22:00", to: "4:00", timezone: Europe/Berln}
          weekend: {days: Sat-Sundy, from: "24:00", to: "06:00", timezone: Mars/Olympus}
        freeze:
          - {from: 2026-02-30, to: 2026-03-01}
          - {from: 2026-03-02, to: 2026-03-01}
        """)
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:6:25: error: unknown window 'nigths'; did you mean 'nights'?
              - {name: a, windows: [nigths]}
                                    ^
        FLEET/fleet.yaml:9:9: error: invalid duration '10x' for 'bake' (use a number and a unit: 500ms, 30s, 10m, 1h30m, 2d)
              bake: 10x
                    ^
        FLEET/fleet.yaml:10:19: error: invalid duration '5 minutes' for 'clusterTimeout' (use a number and a unit: 500ms, 30s, 10m, 1h30m, 2d)
              clusterTimeout: 5 minutes
                              ^
        FLEET/fleet.yaml:12:26: error: invalid percentage '150' for 'percent' (expected more than 0%, at most 100%)
                - {name: w, percent: 150, maxFailures: 120%}
                                     ^
        FLEET/fleet.yaml:12:44: error: invalid percentage '120%' for 'maxFailures' (expected 0% to 100%)
                - {name: w, percent: 150, maxFailures: 120%}
                                                       ^
        FLEET/fleet.yaml:13:39: error: invalid percentage 'ten%' for 'maxFailuresPerWave' (expected 0% to 100%)
              failurePolicy: {maxFailuresPerWave: ten%}
                                                  ^
        FLEET/fleet.yaml:15:46: error: invalid time '4:00' for 'to' (expected HH:MM from 00:00 to 24:00)
              nights: {days: Mon-Fri, from: "22:00", to: "4:00", timezone: Europe/Berln}
                                                         ^
        FLEET/fleet.yaml:15:64: error: unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?
              nights: {days: Mon-Fri, from: "22:00", to: "4:00", timezone: Europe/Berln}
                                                                           ^
        FLEET/fleet.yaml:16:19: error: invalid days 'Sat-Sundy' (use day names such as Mon, Tue, ... Sun, or a range such as Mon-Fri)
              weekend: {days: Sat-Sundy, from: "24:00", to: "06:00", timezone: Mars/Olympus}
                              ^
        FLEET/fleet.yaml:16:36: error: invalid time '24:00' for 'from' (expected HH:MM from 00:00 to 23:59)
              weekend: {days: Sat-Sundy, from: "24:00", to: "06:00", timezone: Mars/Olympus}
                                               ^
        FLEET/fleet.yaml:16:68: error: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin or UTC)
              weekend: {days: Sat-Sundy, from: "24:00", to: "06:00", timezone: Mars/Olympus}
                                                                               ^
        FLEET/fleet.yaml:18:12: error: invalid date '2026-02-30' for 'from' (expected YYYY-MM-DD, 'YYYY-MM-DD HH:MM' or an RFC 3339 time)
              - {from: 2026-02-30, to: 2026-03-01}
                       ^
        FLEET/fleet.yaml:19:28: error: freeze period ends before it starts
              - {from: 2026-03-02, to: 2026-03-01}
                                       ^
        """)
  }

  @Test func valuesFilesMissingNotAMapOrNonFinite() throws {
    let text = try problems([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        values:
          - values/base.yaml
          - values/env/{{ .labels.env }}.yaml
          - values/region/{{ .labels.region }}.yaml
          - {path: "values/clusters/{{ .name }}.yaml", optional: true}
          - values/tier/{{ .labels.tier }}.yaml
        """),
      "values/base.yaml": "- just\n- a list\n",
      "values/env/dev.yaml": "replicas: 1\n",
      "values/env/prod.yaml": "limits:\n  cpu: .inf\n  ratio: -.Inf\nok: '.inf'\n",
      "values/region/eu.yaml": "a: 1\n",
      "values/region/us.yaml": "a: 1\n",
      "values/clusters/dev-a.yaml": "b: 1\n",
      "values/clusters/retired.yaml": "b: 1\n",
      "values/tier/gold.yaml": "c: 1\n",
      "values/tier/silver.yaml": "c: 1\n",
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:15:5: error: values file 'values/region/ap.yaml' does not exist; cluster 'prod-c' needs it (and 1 other cluster)
              - values/region/{{ .labels.region }}.yaml
                ^
        FLEET/fleet.yaml:17:17: error: cluster 'dev-a' has no label 'tier' (and 3 other clusters)
              - values/tier/{{ .labels.tier }}.yaml
                            ^
        FLEET/values/base.yaml:1:1: error: a values file must hold a mapping at its top, found a list
            - just
            ^
        FLEET/values/clusters/retired.yaml:1:1: warning: no cluster uses this values file
            b: 1
            ^
        FLEET/values/env/prod.yaml:2:8: error: '.inf' is not a finite number; Helm refuses it (quote it to keep the text)
              cpu: .inf
                   ^
        FLEET/values/env/prod.yaml:3:10: error: '-.inf' is not a finite number; Helm refuses it (quote it to keep the text)
              ratio: -.Inf
                     ^
        """)
  }

  @Test func unusedOverlaysWarnWithoutFailing() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        "values:\n  - {path: \"values/clusters/{{ .name }}.yaml\", optional: true}"),
      "values/clusters/dev-a.yaml": "b: 1\n",
      "values/clusters/retired.yaml": "b: 1\n",
    ])
    defer { fixture.remove() }
    let loaded = try fixture.load()
    #expect(
      loaded.warnings.map(\.description)
        == [
          """
          \(fixture.path)/values/clusters/retired.yaml:1:1: warning: no cluster uses this values file
              b: 1
              ^
          """
        ])
  }

  @Test func templatesReleaseAndHealthChecks() throws {
    let text = try problems([
      "fleet.yaml": """
      apiVersion: fleetwave/v2
      kind: Fleet
      release: {name: app, driver: helm}
      values: ["values/{{ .labels.env }}/{{ .nmae }}.yaml"]
      defaults: {server: "https://{{ .labels.host }}:6443"}
      clusters: [{name: a, labels: {host: a.example}}, {name: b}]
      rollout:
        health:
          - http: {url: "http://{{ .labels.ingress }}/healthz", expectStatus: 700}
          - prometheus: {url: "http://127.0.0.1:9090", query: "up", failIf: "about 3"}
          - http: {url: x}
            command: y
        spreadBy: zone
      """
    ])
    #expect(
      text == """
        FLEET/fleet.yaml:1:13: error: unsupported apiVersion 'fleetwave/v2'; expected 'fleetwave/v1'
            apiVersion: fleetwave/v2
                        ^
        FLEET/fleet.yaml:3:30: error: driver 'helm' needs 'chart' in release
            release: {name: app, driver: helm}
                                         ^
        FLEET/fleet.yaml:4:36: error: unknown template field '.nmae'; did you mean '.name'?
            values: ["values/{{ .labels.env }}/{{ .nmae }}.yaml"]
                                               ^
        FLEET/fleet.yaml:5:29: error: cluster 'b' has no label 'host'
            defaults: {server: "https://{{ .labels.host }}:6443"}
                                        ^
        FLEET/fleet.yaml:9:13: error: template 'http://{{ .labels.ingress }}/healthz' cannot be filled for cluster 'a': cluster 'a' has no label 'ingress'
                - http: {url: "http://{{ .labels.ingress }}/healthz", expectStatus: 700}
                        ^
        FLEET/fleet.yaml:6:12: note: cluster 'a' is here
            clusters: [{name: a, labels: {host: a.example}}, {name: b}]
                       ^
        FLEET/fleet.yaml:9:73: error: invalid 'expectStatus' '700' (expected a status such as 200 or a range such as 200-299)
                - http: {url: "http://{{ .labels.ingress }}/healthz", expectStatus: 700}
                                                                                    ^
        FLEET/fleet.yaml:10:71: error: invalid condition 'about 3' for 'failIf' (expected a comparison such as '> 0.01')
                - prometheus: {url: "http://127.0.0.1:9090", query: "up", failIf: "about 3"}
                                                                                  ^
        FLEET/fleet.yaml:11:7: error: a health check needs exactly one of 'http', 'prometheus', 'command', 'helmTest'
                - http: {url: x}
                  ^
        FLEET/fleet.yaml:13:13: error: spreadBy label 'zone' is set on no cluster
              spreadBy: zone
                        ^
        """)
  }
}

@Suite struct ScalarTextTests {
  @Test func numbersThatYAMLRewritesMustBeQuoted() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, version: 1.10, driver: sim}
      clusters:
        - {name: a, labels: {build: 0777, rack: 12, canary: true, ratio: 1.5}}
      """
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:3:31: error: 'version' is written 1.10, which YAML reads as the number 1.1; quote it ("1.10") to keep the text
            release: {name: app, version: 1.10, driver: sim}
                                          ^
        FLEET/fleet.yaml:5:31: error: label 'build' is written 0777, which YAML reads as the number 511; quote it ("0777") to keep the text
              - {name: a, labels: {build: 0777, rack: 12, canary: true, ratio: 1.5}}
                                          ^
        """)
  }

  @Test func plainNumbersAndBooleansAreTakenAsWritten() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, version: 2.5, driver: sim}
      clusters:
        - {name: a, labels: {rack: 12, canary: true, ratio: 1.5}}
      """
    ])
    defer { fixture.remove() }
    let fleet = try fixture.load().fleet
    #expect(fleet.release.version == "2.5")
    #expect(fleet.clusters.first?.labels == ["rack": "12", "canary": "true", "ratio": "1.5"])
  }
}

@Suite struct PolicyValidationTests {
  @Test func domainLimitsNeedASpreadLabelAndChartsNeedChartYAML() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, driver: helm, chart: charts/app}
      clusters: [{name: a}]
      rollout:
        maxPerDomain: 2
        waves:
          - {name: w, maxPerDomain: 1}
      """,
      "charts/app/values.yaml": "a: 1\n",
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:3:43: error: chart directory 'charts/app' has no Chart.yaml
            release: {name: app, driver: helm, chart: charts/app}
                                                      ^
        FLEET/fleet.yaml:6:3: error: 'maxPerDomain' needs 'spreadBy' (the label that names a cluster's failure domain)
              maxPerDomain: 2
              ^
        FLEET/fleet.yaml:8:17: error: 'maxPerDomain' in wave 'w' needs rollout.spreadBy (the label that names a cluster's failure domain)
                - {name: w, maxPerDomain: 1}
                            ^
        """)
  }
}

@Suite struct NumberValidationTests {
  @Test func countsMustBeWholeAndInRange() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        rollout:
          maxParallel: 0
          waves:
            - {name: a, count: 3000000000}
            - {name: b, maxParallel: "ten"}
        """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:13:16: error: 'maxParallel' in rollout must be at least 1, found 0
              maxParallel: 0
                           ^
        FLEET/fleet.yaml:15:24: error: 'count' in wave 'a' must be at most 2147483647, found 3000000000
                - {name: a, count: 3000000000}
                                   ^
        FLEET/fleet.yaml:16:30: error: 'maxParallel' in wave 'b' must be an integer, found a string
                - {name: b, maxParallel: "ten"}
                                         ^
        """)
  }
}

@Suite struct WaveGateTemplateTests {
  /// `{{ .clusters }}` names every cluster of a wave: a wave gate may use it, a per-cluster gate
  /// may not (it checks one cluster at a time).
  @Test func clustersIsAWaveGateVariableOnly() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, driver: sim}
      clusters:
        - {name: a}
      rollout:
        health:
          - prometheus: {url: "http://127.0.0.1:9090", query: 'up{cluster=~"{{ .clusters }}"}', failIf: "< 1"}
        waveHealth:
          - prometheus: {url: "http://127.0.0.1:9090", query: 'sum(rate(errors{cluster=~"{{ .clusters }}"}[5m]))', failIf: "> 0.01"}
      """
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems().components(separatedBy: "\n").first
        == "FLEET/fleet.yaml:8:71: error: unknown template field '.clusters'; known: .name, .context, .server, .labels.KEY, .namespace, .release, .run, .version"
    )
    try fixture.directory.write(
      "fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      release: {name: app, driver: sim}
      clusters:
        - {name: a}
      rollout:
        waveHealth:
          - prometheus: {url: "http://127.0.0.1:9090", query: 'sum(rate(errors{cluster=~"{{ .clusters }}"}[5m]))', failIf: "> 0.01"}
      """)
    let policy = try fixture.load().fleet.rollout
    guard case .prometheus(let gate)? = policy.waveHealth.first else {
      Issue.record("expected a prometheus wave gate, got \(policy.waveHealth)")
      return
    }
    #expect(gate.query == #"sum(rate(errors{cluster=~"{{ .clusters }}"}[5m]))"#)
  }
}

@Suite struct GateNameTests {
  func fleet(_ health: String) -> String {
    fleetFile(
      clusters: "  - name: a",
      """
      rollout:
        health:
      \(health)
      """)
  }

  @Test func namesAreKeptAndDefaultsFilledIn() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleet(
        """
            - name: error-rate
              prometheus: {url: "http://prom:9090", query: "sum(rate(errors_total[5m]))", failIf: "> 0.05"}
            - http: {url: "https://{{ .name }}.example.com/healthz"}
            - {name: pods, command: "kubectl get pods"}
        """)
    ])
    defer { fixture.remove() }
    let fleet = try fixture.load()
    #expect(
      fleet.fleet.rollout.health.map(\.name) == ["error-rate", "*.example.com/healthz", "pods"])
    #expect(fleet.fleet.rollout.health.map(\.givenName) == ["error-rate", nil, "pods"])
  }

  @Test func badAndDuplicateNamesAreLocated() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleet(
        """
            - {name: error-rate, command: "true"}
            - {name: "error rate!", command: "true"}
            - {name: error-rate, command: "true"}
            - {name: "", command: "true"}
        """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:10:14: error: invalid health check name 'error rate!': it holds ' '; only letters, digits, '-', '_' and '.' are allowed
                - {name: "error rate!", command: "true"}
                         ^
        FLEET/fleet.yaml:11:14: error: duplicate health check name 'error-rate'
                - {name: error-rate, command: "true"}
                         ^
        FLEET/fleet.yaml:9:14: note: 'error-rate' was first defined here
                - {name: error-rate, command: "true"}
                         ^
        FLEET/fleet.yaml:12:14: error: a health check's 'name' is empty
                - {name: "", command: "true"}
                         ^
        """)
  }
}
