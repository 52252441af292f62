// Invalid manifests applied with the real kubectl are refused as a real API server refuses them:
// the same error class and message shape, and nothing is stored.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ValidationTests {
  private func deployment(
    replicas: String = "2", selector: String = "web", image: String = "image: nginx:1.27",
    pullPolicy: String = "IfNotPresent"
  ) -> String {
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: \(replicas)
      selector: {matchLabels: {app: \(selector)}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            \(image)
            imagePullPolicy: \(pullPolicy)

    """
  }

  @Test func invalidDeploymentsAreRefusedWithTheServersMessages() throws {
    let sim = try SimFixture()
    let cases: [(String, String)] = [
      (
        deployment(replicas: "\"two\""),
        "Error from server (BadRequest): error when creating \"FILE\": Deployment in version "
          + "\"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go "
          + "struct field DeploymentSpec.spec.replicas of type int32\n"
      ),
      (
        deployment(pullPolicy: "Sometimes"),
        "The Deployment \"web\" is invalid: spec.template.spec.containers[0].imagePullPolicy: "
          + "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", "
          + "\"Never\"\n"
      ),
      (
        deployment(image: "command: [sleep]"),
        "The Deployment \"web\" is invalid: spec.template.spec.containers[0].image: "
          + "Required value\n"
      ),
      (
        deployment(selector: "api"),
        "The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: "
          + "map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`\n"
      ),
    ]
    for (index, (manifest, expected)) in cases.enumerated() {
      let file = try sim.directory.write("bad-\(index).yaml", manifest)
      let applied = try sim.kubectl(["apply", "-f", file])
      #expect(applied.status == 1)
      #expect(applied.stderr == expected.replacingOccurrences(of: "FILE", with: file))
    }
    let none = try sim.kubectl(["get", "deployments", "-o", "name"])
    #expect(none.stdout == "")
  }

  @Test func theDeploymentSelectorIsImmutable() throws {
    let sim = try SimFixture()
    let file = try sim.directory.write("web.yaml", deployment())
    #expect(try sim.kubectl(["apply", "-f", file]).status == 0)
    let changed = deployment(selector: "web, tier: front").replacingOccurrences(
      of: "labels: {app: web}", with: "labels: {app: web, tier: front}")
    try sim.directory.write("web.yaml", changed)
    let applied = try sim.kubectl(["apply", "-f", file])
    #expect(applied.status == 1)
    #expect(
      applied.stderr
        == "The Deployment \"web\" is invalid: spec.selector: Invalid value: "
        + "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"front\"}, "
        + "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable\n")
  }
}
