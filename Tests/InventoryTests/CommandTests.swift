// `fleetwave validate` and `fleetwave values` run as a user runs them: output and exit code.
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct InventoryCommandTests {
  static let root = BuiltProducts.packageRoot.path

  /// A copy of fleets/demo in a temporary directory, as `WORK/demo`.
  func demoCopy() throws -> TemporaryDirectory {
    let work = try TemporaryDirectory("demo-copy")
    try FileManager.default.copyItem(atPath: Self.root + "/fleets/demo", toPath: work.file("demo"))
    return work
  }

  func edit(_ path: String, _ old: String, _ new: String) throws {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.components(separatedBy: old).count == 2, "'\(old)' must occur once in \(path)")
    try text.replacingOccurrences(of: old, with: new).write(
      toFile: path, atomically: true, encoding: .utf8)
  }

  @Test func demoFleetValidates() throws {
    let result = try fleetwave(["validate", "fleets/demo"], currentDirectory: Self.root)
    #expect(result.stderr == "")
    #expect(result.stdout == "fleets/demo: valid, 60 clusters\n")
    #expect(result.status == 0)
  }

  @Test func demoFleetRendersForEveryCluster() throws {
    let result = try fleetwave(
      ["validate", "fleets/demo", "--render"], currentDirectory: Self.root)
    #expect(result.stderr == "")
    #expect(result.stdout == "fleets/demo: valid, 60 clusters, rendered for each\n")
    #expect(result.status == 0)
  }

  /// A value of the wrong type for the chart (a string where its templates read a map) passes
  /// the fleet's own checks and fails only when helm renders: `--render` finds it before any
  /// cluster is touched, naming the clusters whose values carry it.
  @Test func renderFindsAValuesTypeErrorAndNamesItsClusters() throws {
    let work = try demoCopy()
    defer { work.remove() }
    let region = work.file("demo/values/region/eu-west-1.yaml")
    let text = try String(contentsOfFile: region, encoding: .utf8)
    try (text + "image: nginx\n").write(toFile: region, atomically: true, encoding: .utf8)
    #expect(try fleetwave(["validate", "demo"], currentDirectory: work.path).status == 0)

    let result = try fleetwave(["validate", "demo", "--render"], currentDirectory: work.path)
    #expect(result.stdout == "")
    #expect(
      result.stderr == """
        dev-euw1-a, dev-euw1-b, prod-euw1-a-2, prod-euw1-b-1, prod-euw1-b-2 (+4 more): \
        helm template failed (exit 1): Error: checkout/templates/service.yaml:6:8
          executing "checkout/templates/service.yaml" at <include "checkout.labels" .>:
            error calling include:
        checkout/templates/_helpers.tpl:5:37
          executing "checkout.labels" at <.Values.image.tag>:
            can't evaluate field tag in type interface {}

        Use --debug flag to render out invalid YAML
        demo: the release does not render for 9 of 60 clusters

        """)
    #expect(result.status == 1)
  }

  @Test func brokenDemoReportsFiveLocatedErrors() throws {
    let work = try demoCopy()
    defer { work.remove() }
    let demo = work.file("demo")
    try edit(demo + "/fleet.yaml", "  maxParallel: 8\n", "  maxParalel: 8\n")
    try edit(demo + "/fleet.yaml", "\n  bake: 5m\n", "\n  bake: 5x\n")
    try edit(demo + "/fleet.yaml", "timezone: Asia/Tokyo", "timezone: Asia/Tokio")
    try edit(demo + "/clusters/prod.yaml", "name: prod-euw1-a-2", "name: prod-euw1-a-1")
    try FileManager.default.removeItem(atPath: demo + "/values/region/us-west-2.yaml")
    let result = try fleetwave(["validate", "demo"], currentDirectory: work.path)
    #expect(result.stdout == "")
    #expect(
      result.stderr == """
        demo/clusters/prod.yaml:4:3: error: duplicate cluster name 'prod-euw1-a-1'
            - name: prod-euw1-a-1
              ^
        demo/clusters/prod.yaml:2:3: note: 'prod-euw1-a-1' was first defined here
            - name: prod-euw1-a-1
              ^
        demo/fleet.yaml:20:5: error: values file 'values/region/us-west-2.yaml' does not exist; cluster 'dev-usw2-a' needs it (and 9 other clusters)
              - values/region/{{ .labels.region }}.yaml
                ^
        demo/fleet.yaml:52:3: error: unknown key 'maxParalel' in rollout; did you mean 'maxParallel'?
              maxParalel: 8
              ^
        demo/fleet.yaml:55:9: error: invalid duration '5x' for 'bake' (use a number and a unit: 500ms, 30s, 10m, 1h30m, 2d)
              bake: 5x
                    ^
        demo/fleet.yaml:75:15: error: unknown time zone 'Asia/Tokio'; did you mean 'Asia/Tokyo'?
                timezone: Asia/Tokio
                          ^
        demo: 5 errors

        """)
    #expect(result.status == 1)
  }

  @Test func validateWarnsButPassesOnAnUnusedOverlay() throws {
    let work = try demoCopy()
    defer { work.remove() }
    try work.write("demo/values/clusters/prod-retired-1.yaml", "replicaCount: 0\n")
    let result = try fleetwave(["validate", "demo"], currentDirectory: work.path)
    #expect(
      result.stderr == """
        demo/values/clusters/prod-retired-1.yaml:1:1: warning: no cluster uses this values file
            replicaCount: 0
            ^

        """)
    #expect(result.stdout == "demo: valid, 60 clusters, 1 warning\n")
    #expect(result.status == 0)
  }

  @Test func valuesPrintsMergedYAML() throws {
    let result = try fleetwave(
      ["values", "fleets/demo", "--cluster", "prod-use1-b-2", "--set", "image.tag=1.4.3"],
      currentDirectory: Self.root)
    #expect(result.stderr == "")
    #expect(
      result.stdout == """
        image:
          repository: registry.example.com/shop/checkout
          tag: 1.4.3
          pullPolicy: IfNotPresent
        replicaCount: 10
        service:
          type: ClusterIP
          port: 8080
        resources:
          limits:
            memory: 512Mi
            cpu: "1"
          requests:
            cpu: 250m
            memory: 256Mi
        config:
          logLevel: warn
          paymentsUrl: https://payments.us.shop.example
          currency: USD
          featureFlags:
            newCart: false
            expressCheckout: false
          region: us-east-1
        extraArgs: []
        nodeSelector:
          topology.kubernetes.io/region: us-east-1
        podDisruptionBudget:
          minAvailable: 4

        """)
    #expect(result.status == 0)
  }

  @Test func valuesShowOriginInYAML() throws {
    let result = try fleetwave(
      ["values", "fleets/demo", "--cluster", "dev-usw2-b", "--show-origin", "--overlays-only"],
      currentDirectory: Self.root)
    #expect(result.stderr == "")
    #expect(
      result.stdout == """
        image:
          repository: registry.example.com/shop/checkout  # values/base.yaml:3
          tag: 1.4.2-debug  # values/clusters/dev-usw2-b.yaml:3
        replicaCount: 1  # values/env/dev.yaml:2
        service:
          port: 8080  # values/base.yaml:7
        resources:
          requests:
            cpu: 100m  # values/base.yaml:9
            memory: 128Mi  # values/base.yaml:9
          limits: null  # values/env/dev.yaml:4
        config:
          logLevel: debug  # values/env/dev.yaml:6
          paymentsUrl: https://payments.us.shop.example  # values/region/us-west-2.yaml:5
          currency: USD  # values/region/us-west-2.yaml:4
          featureFlags:
            newCart: true  # values/env/dev.yaml:8
            expressCheckout: true  # values/env/dev.yaml:9
          region: us-west-2  # values/region/us-west-2.yaml:3
        nodeSelector:
          topology.kubernetes.io/region: us-west-2  # values/region/us-west-2.yaml:7
        extraArgs:
          - --profile  # values/clusters/dev-usw2-b.yaml:4
          - --trace-sample-rate=0.5  # values/clusters/dev-usw2-b.yaml:4

        """)
    #expect(result.status == 0)
  }

  @Test func valuesShowOriginInJSON() throws {
    let result = try fleetwave(
      [
        "values", "fleets/demo", "--cluster", "staging-apne1-a", "-o", "json", "--show-origin",
        "--overlays-only", "--set-string", "replicaCount=3",
      ],
      currentDirectory: Self.root)
    #expect(result.stderr == "")
    #expect(
      result.stdout == """
        {
          "values": {
            "image": {
              "repository": "registry.example.com/shop/checkout",
              "tag": "1.4.2"
            },
            "replicaCount": "3",
            "service": {
              "port": 8080
            },
            "resources": {
              "requests": {
                "cpu": "100m",
                "memory": "128Mi"
              },
              "limits": {
                "cpu": "500m",
                "memory": "256Mi"
              }
            },
            "config": {
              "logLevel": "info",
              "paymentsUrl": "https://sandbox.payments.ap.shop.example",
              "currency": "JPY",
              "featureFlags": {
                "newCart": true,
                "expressCheckout": false
              },
              "region": "ap-northeast-1"
            },
            "nodeSelector": {
              "topology.kubernetes.io/region": "ap-northeast-1"
            }
          },
          "origins": {
            "image": {
              "repository": "values/base.yaml:3",
              "tag": "values/base.yaml:4"
            },
            "replicaCount": "--set-string replicaCount=3",
            "service": {
              "port": "values/base.yaml:7"
            },
            "resources": {
              "requests": {
                "cpu": "values/base.yaml:9",
                "memory": "values/base.yaml:9"
              },
              "limits": {
                "cpu": "values/base.yaml:10",
                "memory": "values/base.yaml:10"
              }
            },
            "config": {
              "logLevel": "values/base.yaml:12",
              "paymentsUrl": "values/clusters/staging-apne1-a.yaml:3",
              "currency": "values/region/ap-northeast-1.yaml:4",
              "featureFlags": {
                "newCart": "values/env/staging.yaml:5",
                "expressCheckout": "values/base.yaml:17"
              },
              "region": "values/region/ap-northeast-1.yaml:3"
            },
            "nodeSelector": {
              "topology.kubernetes.io/region": "values/region/ap-northeast-1.yaml:7"
            }
          }
        }

        """)
    #expect(result.status == 0)
  }

  @Test func valuesUsageErrorsExitTwo() throws {
    let unknown = try fleetwave(
      ["values", "fleets/demo", "--cluster", "prod-euw1-a-3"], currentDirectory: Self.root)
    #expect(unknown.stdout == "")
    #expect(
      unknown.stderr == """
        error: no cluster named 'prod-euw1-a-3' in fleet 'demo'; did you mean 'prod-euw1-a-1'?

        """)
    #expect(unknown.status == 2)
    let badSet = try fleetwave(
      ["values", "fleets/demo", "--cluster", "dev-euw1-a", "--set", "image.tag"],
      currentDirectory: Self.root)
    #expect(badSet.stdout == "")
    #expect(
      badSet.stderr == """
        --set:1:7: error: key "tag" has no value
            image.tag
                  ^

        """)
    #expect(badSet.status == 2)
    let missing = try fleetwave(["values", "fleets/demo"], currentDirectory: Self.root)
    #expect(missing.stdout == "")
    #expect(missing.stderr.hasPrefix("Error: Missing expected argument '--cluster <cluster>'\n"))
    #expect(missing.status == 2)
  }

  @Test func validateOfAMissingDirectory() throws {
    let result = try fleetwave(["validate", "fleets/nope"], currentDirectory: Self.root)
    #expect(result.stdout == "")
    #expect(
      result.stderr
        == "error: fleets/nope: no such fleet directory or fleet file\nfleets/nope: 1 error\n")
    #expect(result.status == 1)
  }
}
