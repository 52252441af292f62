// HorizontalPodAutoscalers through the real kubectl: `kubectl autoscale` writes autoscaling/v1,
// the store keeps autoscaling/v2, and each version reads the same object converted.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct AutoscalingTests {
  /// `-o json` output of one object, parsed, with the parts a test can compare exactly.
  private func object(_ result: ProcessResult) throws -> Value {
    try JSONReader.parse(result.stdout, path: "kubectl output")
  }

  /// The table with the AGE cells (always the last column) cut off, so rows compare exactly.
  private func withoutAge(_ table: String) -> String {
    table.split(separator: "\n").map { line in
      guard let range = line.range(of: " +\\S+$", options: .regularExpression) else {
        return String(line)
      }
      return String(line[..<range.lowerBound])
    }.joined(separator: "\n")
  }

  /// The v1 spec of an HPA scaling a Deployment on CPU.
  private func v1Spec(deployment: String, min: Int64, max: Int64, cpu: Int64) -> Value {
    [
      "maxReplicas": .int(max), "minReplicas": .int(min),
      "scaleTargetRef": [
        "apiVersion": "apps/v1", "kind": "Deployment", "name": .string(deployment),
      ],
      "targetCPUUtilizationPercentage": .int(cpu),
    ]
  }

  @Test func kubectlAutoscaleWritesV1AndEachVersionReadsItConverted() throws {
    let sim = try SimFixture()
    let created = try sim.kubectl(["create", "deployment", "web", "--image=web:1"])
    #expect(created.stdout == "deployment.apps/web created\n", "\(created.stderr)")
    let scaled = try sim.kubectl([
      "autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=80",
    ])
    #expect(scaled.stdout == "horizontalpodautoscaler.autoscaling/web autoscaled\n")
    #expect(scaled.stderr == "")

    let table = try sim.kubectl(["get", "hpa"])
    #expect(
      withoutAge(table.stdout) == """
        NAME   REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS
        web    Deployment/web   cpu: <unknown>/80%   2         5         0
        """, "\(table.stderr)")

    let v1 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json"]))
    #expect(v1["apiVersion"] == "autoscaling/v1")
    #expect(v1.at("metadata", "annotations") == nil)
    #expect(v1["spec"] == v1Spec(deployment: "web", min: 2, max: 5, cpu: 80))
    #expect(v1["status"] == ["currentReplicas": 0, "desiredReplicas": 0])

    let v2 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"]))
    #expect(v2["apiVersion"] == "autoscaling/v2")
    #expect(
      v2.at("spec", "metrics")
        == [
          [
            "resource": [
              "name": "cpu", "target": ["averageUtilization": 80, "type": "Utilization"],
            ],
            "type": "Resource",
          ]
        ])
    #expect(v2["status"] == ["currentMetrics": .null, "desiredReplicas": 0])
    #expect(v1.at("metadata", "uid") == v2.at("metadata", "uid"))
  }

  @Test func aV2AutoscalerReadsAsV1WithWhatV1CannotSayInAnAnnotation() throws {
    let sim = try SimFixture()
    // A hand-written v2 manifest: the CPU target and two metrics v1 has no field for.
    let manifest = """
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata: {name: api}
      spec:
        scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
        maxReplicas: 10
        metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
        - type: Resource
          resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}
        - type: Pods
          pods:
            metric: {name: requests_per_second}
            target: {type: AverageValue, averageValue: "100"}

      """
    let file = try sim.directory.write("hpa-v2.yaml", manifest)
    let created = try sim.kubectl(["create", "-f", file])
    #expect(
      created.stdout == "horizontalpodautoscaler.autoscaling/api created\n", "\(created.stderr)")

    // HorizontalPodAutoscalers are in the `all` category, as the API server lists them.
    let all = try sim.kubectl(["get", "all", "-o", "name"])
    #expect(all.stdout == "horizontalpodautoscaler.autoscaling/api\n", "\(all.stderr)")
    let table = try sim.kubectl(["get", "hpa", "api"])
    #expect(
      withoutAge(table.stdout) == """
        NAME   REFERENCE        TARGETS                                                   MINPODS   MAXPODS   REPLICAS
        api    Deployment/api   cpu: <unknown>/60%, memory: <unknown>/500Mi + 1 more...   1         10        0
        """, "\(table.stderr)")

    let v1 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v1.autoscaling", "api", "-o", "json"]))
    #expect(v1["spec"] == v1Spec(deployment: "api", min: 1, max: 10, cpu: 60))
    let annotation = try #require(
      v1.at("metadata", "annotations", HorizontalPodAutoscalers.metricsAnnotation)?.string)
    #expect(
      annotation
        == #"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}},"#
        + #"{"type":"Pods","pods":{"metricName":"requests_per_second","targetAverageValue":"100"}}]"#
    )

    // Written back through v1 unchanged, the annotation restores the metrics v1 cannot hold.
    let replaced = try sim.kubectl(
      ["replace", "-f", "-"],
      input: sim.kubectl(["get", "horizontalpodautoscalers.v1.autoscaling", "api", "-o", "json"])
        .stdout)
    #expect(
      replaced.stdout == "horizontalpodautoscaler.autoscaling/api replaced\n", "\(replaced.stderr)")
    let v2 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v2.autoscaling", "api", "-o", "json"]))
    #expect(v2.at("metadata", "annotations") == nil)
    let metrics = v2.at("spec", "metrics")?.sequence ?? []
    #expect(metrics.map { $0["type"]?.string ?? "" } == ["Resource", "Resource", "Pods"])
    #expect(
      metrics.dropFirst().first
        == [
          "type": "Resource",
          "resource": [
            "name": "memory", "target": ["type": "AverageValue", "averageValue": "500Mi"],
          ],
        ])
  }

  @Test func aV1AutoscalerWithoutATargetGetsTheDefaultCPUTarget() throws {
    let sim = try SimFixture()
    try sim.kubectl(["create", "deployment", "web", "--image=web:1"])
    let scaled = try sim.kubectl(["autoscale", "deployment", "web", "--max=3"])
    #expect(
      scaled.stdout == "horizontalpodautoscaler.autoscaling/web autoscaled\n", "\(scaled.stderr)")
    let v1 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json"]))
    #expect(v1.at("spec", "targetCPUUtilizationPercentage") == 80)
    #expect(v1.at("spec", "minReplicas") == 1)
  }

  @Test func v1PatchesListsWatchesAndDiscoveryGoThroughTheConversion() throws {
    let sim = try SimFixture()
    try sim.kubectl(["create", "deployment", "web", "--image=web:1"])
    try sim.kubectl(["autoscale", "deployment", "web", "--max=4", "--cpu-percent=70"])
    let patched = try sim.kubectl([
      "patch", "horizontalpodautoscalers.v1.autoscaling", "web", "-p",
      #"{"spec":{"targetCPUUtilizationPercentage":50}}"#,
    ])
    #expect(
      patched.stdout == "horizontalpodautoscaler.autoscaling/web patched\n", "\(patched.stderr)")
    let v2 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"]))
    #expect(
      v2.at("spec", "metrics")
        == [
          [
            "type": "Resource",
            "resource": [
              "name": "cpu", "target": ["type": "Utilization", "averageUtilization": 50],
            ],
          ]
        ])
    #expect(v2.at("metadata", "generation") == 2)

    let collection = sim.url(
      "sim-0001", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers")
    let list = try #require(HTTPExchange.send("GET", collection).json)
    #expect(list["kind"] == "HorizontalPodAutoscalerList")
    #expect(list["apiVersion"] == "autoscaling/v1")
    #expect(list.at("items")?.sequence?.first?.at("spec", "targetCPUUtilizationPercentage") == 50)

    let watched = try HTTPExchange.send("GET", collection + "?watch=true&timeoutSeconds=1")
    let events = watched.body.split(separator: "\n").compactMap {
      try? JSONReader.parse(String($0))
    }
    #expect(events.map { $0["type"]?.string ?? "" } == ["ADDED"], "\(watched.body)")
    #expect(events.first?.at("object", "apiVersion") == "autoscaling/v1")
    #expect(events.first?.at("object", "spec", "targetCPUUtilizationPercentage") == 50)

    let group = try #require(
      HTTPExchange.send("GET", sim.url("sim-0001", "/apis/autoscaling")).json)
    #expect(
      group["versions"]
        == [
          ["groupVersion": "autoscaling/v2", "version": "v2"],
          ["groupVersion": "autoscaling/v1", "version": "v1"],
        ])
    #expect(group["preferredVersion"] == ["groupVersion": "autoscaling/v2", "version": "v2"])
    let resources = try #require(
      HTTPExchange.send("GET", sim.url("sim-0001", "/apis/autoscaling/v1")).json?["resources"]?
        .sequence)
    #expect(
      resources.map { $0["name"]?.string ?? "" }
        == ["horizontalpodautoscalers", "horizontalpodautoscalers/status"])
    #expect(resources.first?["shortNames"] == ["hpa"])
    let openAPI = try #require(HTTPExchange.send("GET", sim.url("sim-0001", "/openapi/v3")).json)
    #expect(openAPI.at("paths", "apis/autoscaling/v1") != nil)
  }

  @Test func aStatusWrittenThroughV1IsPrintedAndKeptInBothVersions() throws {
    let sim = try SimFixture()
    try sim.kubectl(["create", "deployment", "web", "--image=web:1"])
    try sim.kubectl(["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=80"])
    let patched = try sim.kubectl([
      "patch", "horizontalpodautoscalers.v1.autoscaling", "web", "--subresource=status",
      "--type=merge", "-p",
      #"{"status":{"currentCPUUtilizationPercentage":42,"currentReplicas":3,"desiredReplicas":3}}"#,
    ])
    #expect(
      patched.stdout == "horizontalpodautoscaler.autoscaling/web patched\n", "\(patched.stderr)")
    let table = try sim.kubectl(["get", "hpa"])
    #expect(
      withoutAge(table.stdout) == """
        NAME   REFERENCE        TARGETS        MINPODS   MAXPODS   REPLICAS
        web    Deployment/web   cpu: 42%/80%   2         5         3
        """, "\(table.stderr)")
    let v2 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"]))
    #expect(
      v2["status"]
        == [
          "currentReplicas": 3, "desiredReplicas": 3,
          "currentMetrics": [
            [
              "type": "Resource",
              "resource": ["name": "cpu", "current": ["averageUtilization": 42]],
            ]
          ],
        ])
    // v1 keeps the whole current metric in an annotation, as the server's conversion does.
    let v1 = try object(
      sim.kubectl(["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json"]))
    #expect(
      v1["status"]
        == ["currentCPUUtilizationPercentage": 42, "currentReplicas": 3, "desiredReplicas": 3])
    #expect(
      v1.at("metadata", "annotations", HorizontalPodAutoscalers.currentMetricsAnnotation)
        == .string(
          #"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":42,"#
            + #""currentAverageValue":"0"}}]"#))
  }

  @Test func behaviorAndConditionsRoundTripThroughV1Annotations() throws {
    var stored = HorizontalPodAutoscalers.defaulted([
      "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
      "metadata": ["name": "web", "namespace": "default", "annotations": ["team": "shop"]],
      "spec": [
        "scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "web"],
        "maxReplicas": 4,
        "behavior": ["scaleDown": ["stabilizationWindowSeconds": 60]],
      ],
    ])
    stored.set(
      ["status", "conditions"],
      [["type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"]])
    let v1 = HorizontalPodAutoscalers.toV1(stored)
    #expect(
      v1.at("metadata", "annotations")
        == [
          "team": "shop",
          "autoscaling.alpha.kubernetes.io/behavior": .string(
            #"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":["#
              + #"{"Type":"Pods","Value":4,"PeriodSeconds":15},"#
              + #"{"Type":"Percent","Value":100,"PeriodSeconds":15}]},"#
              + #""ScaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":"Max","Policies":["#
              + #"{"Type":"Percent","Value":100,"PeriodSeconds":15}]}}"#),
          "autoscaling.alpha.kubernetes.io/conditions": .string(
            #"[{"type":"AbleToScale","status":"True","reason":"SucceededGetScale"}]"#),
        ])
    #expect(v1.at("spec", "targetCPUUtilizationPercentage") == 80)
    // Back in v2 the annotations are gone and everything they carried is in place.
    let back = try HorizontalPodAutoscalers.fromV1(v1)
    #expect(back["spec"] == stored["spec"])
    #expect(back.at("status", "conditions") == stored.at("status", "conditions"))
    #expect(back.at("metadata", "annotations") == ["team": "shop"])
    #expect(back["apiVersion"] == "autoscaling/v2")
  }

  @Test func v1BodiesNamingAnotherVersionOrCarryingBadAnnotationsAreRefused() throws {
    let sim = try SimFixture()
    let collection = sim.url(
      "sim-0001", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers")
    func create(_ apiVersion: String, annotations: String = "{}") throws -> HTTPExchange {
      try HTTPExchange.send(
        "POST", collection,
        body: #"{"apiVersion":"\#(apiVersion)","kind":"HorizontalPodAutoscaler","#
          + #""metadata":{"name":"web","annotations":\#(annotations)},"#
          + #""spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":3}}"#,
        contentType: "application/json")
    }
    let v2Body = try create("autoscaling/v2")
    #expect(v2Body.status == 400)
    #expect(
      v2Body.json?["message"]?.string
        == "the API version in the data (autoscaling/v2) does not match the expected API "
        + "version (autoscaling/v1)")
    let broken = try create(
      "autoscaling/v1", annotations: #"{"autoscaling.alpha.kubernetes.io/metrics":"[{"}"#)
    #expect(broken.status == 400)
    let message = broken.json?["message"]?.string ?? ""
    #expect(
      message.hasPrefix(
        "HorizontalPodAutoscaler in version \"v1\" cannot be handled as a "
          + "HorizontalPodAutoscaler: annotation autoscaling.alpha.kubernetes.io/metrics: "),
      "\(broken.body)")
    let created = try create("autoscaling/v1")
    #expect(created.status == 201, "\(created.body)")
    #expect(created.json?["apiVersion"] == "autoscaling/v1")
    #expect(created.json?.at("spec", "targetCPUUtilizationPercentage") == 80)
  }

  @Test func aV1ManifestAppliesClientAndServerSide() throws {
    let sim = try SimFixture()
    func manifest(cpu: Int) -> String {
      """
      apiVersion: autoscaling/v1
      kind: HorizontalPodAutoscaler
      metadata: {name: web}
      spec:
        scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
        minReplicas: 2
        maxReplicas: 6
        targetCPUUtilizationPercentage: \(cpu)

      """
    }
    let steps: [([String], Int, String)] = [
      (["apply"], 70, "horizontalpodautoscaler.autoscaling/web created\n"),
      // A strategic merge patch computed by kubectl against the v1 view.
      (["apply"], 65, "horizontalpodautoscaler.autoscaling/web configured\n"),
      (
        ["apply", "--server-side", "--force-conflicts"], 55,
        "horizontalpodautoscaler.autoscaling/web serverside-applied\n"
      ),
    ]
    for (index, (verb, cpu, expected)) in steps.enumerated() {
      let file = try sim.directory.write("hpa-\(index).yaml", manifest(cpu: cpu))
      let applied = try sim.kubectl(verb + ["-f", file])
      #expect(applied.stdout == expected, "\(applied.stderr)")
      let targets = try sim.kubectl([
        "get", "hpa", "web", "-o", "jsonpath={.spec.metrics[*].resource.target.averageUtilization}",
      ])
      #expect(targets.stdout == "\(cpu)", "\(verb)")
    }
  }

  @Test func invalidReplicaBoundsAreRefusedWithTheServersMessages() throws {
    let sim = try SimFixture()
    func manifest(_ version: String, min: Int, max: Int, kind: String = "Deployment") -> String {
      """
      apiVersion: autoscaling/\(version)
      kind: HorizontalPodAutoscaler
      metadata: {name: web}
      spec:
        scaleTargetRef: {apiVersion: apps/v1, kind: "\(kind)", name: web}
        minReplicas: \(min)
        maxReplicas: \(max)

      """
    }
    let cases: [(String, String)] = [
      (
        manifest("v1", min: 0, max: 3),
        "The HorizontalPodAutoscaler \"web\" is invalid: spec.minReplicas: Invalid value: 0: "
          + "must be greater than or equal to 1\n"
      ),
      (
        manifest("v1", min: 4, max: 2),
        "The HorizontalPodAutoscaler \"web\" is invalid: spec.maxReplicas: Invalid value: 2: "
          + "must be greater than or equal to `minReplicas`\n"
      ),
      (
        manifest("v2", min: 1, max: 0, kind: ""),
        "The HorizontalPodAutoscaler \"web\" is invalid: \n"
          + "* spec.maxReplicas: Invalid value: 0: must be greater than 0\n"
          + "* spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`\n"
          + "* spec.scaleTargetRef.kind: Required value\n"
      ),
    ]
    for (index, (text, expected)) in cases.enumerated() {
      let file = try sim.directory.write("bad-\(index).yaml", text)
      let result = try sim.kubectl(["create", "-f", file])
      #expect(result.stderr == expected)
      #expect(result.status == 1)
    }
    let none = try sim.kubectl(["get", "hpa"])
    #expect(none.stdout + none.stderr == "No resources found in default namespace.\n")
  }
}
