// Protobuf request bodies: kubectl 1.32 sends `create` bodies as protobuf and helm sends
// DeleteOptions as protobuf, so both are driven for real against the emulator.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct ProtobufBodyTests {
  @Test func kubectlCreatesEachKindFromProtobuf() throws {
    let sim = try SimFixture()
    let commands: [([String], String)] = [
      (
        ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080"],
        "deployment.apps/web created\n"
      ),
      (["create", "service", "clusterip", "web", "--tcp=80:8080"], "service/web created\n"),
      (
        ["create", "ingress", "web", "--rule=shop.example/=web:80"],
        "ingress.networking.k8s.io/web created\n"
      ),
      (
        ["create", "pdb", "web", "--selector=app=web", "--min-available=50%"],
        "poddisruptionbudget.policy/web created\n"
      ),
      (
        ["create", "job", "once", "--image=busybox:1.36", "--", "true"], "job.batch/once created\n"
      ),
      (
        ["create", "cronjob", "nightly", "--image=busybox:1.36", "--schedule=0 3 * * *"],
        "cronjob.batch/nightly created\n"
      ),
    ]
    for (arguments, expected) in commands {
      let created = try sim.kubectl(arguments)
      #expect(created.stdout == expected, "\(arguments): \(created.stderr)")
    }
    let deployment = try sim.kubectl([
      "get", "deployment", "web", "-o",
      "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} "
        + "{.spec.template.spec.containers[0].image} "
        + "{.spec.template.spec.containers[0].ports[0].containerPort} "
        + "{.spec.strategy.rollingUpdate.maxSurge}",
    ])
    #expect(deployment.stdout == "2 web nginx:1.27 8080 25%", "\(deployment.stderr)")
    let service = try sim.kubectl([
      "get", "service", "web", "-o",
      "jsonpath={.spec.ports[0].name} {.spec.ports[0].port} {.spec.ports[0].targetPort} "
        + "{.spec.selector.app}",
    ])
    #expect(service.stdout == "80-8080 80 8080 web")
    let ingress = try sim.kubectl([
      "get", "ingress", "web", "-o",
      "jsonpath={.spec.rules[0].host} {.spec.rules[0].http.paths[0].pathType} "
        + "{.spec.rules[0].http.paths[0].backend.service.port.number}",
    ])
    #expect(ingress.stdout == "shop.example Exact 80")
    let budget = try sim.kubectl(["get", "pdb", "web", "-o", "jsonpath={.spec.minAvailable}"])
    #expect(budget.stdout == "50%")
    let job = try sim.kubectl([
      "get", "job", "once", "-o", "jsonpath={.spec.template.spec.containers[0].command}",
    ])
    #expect(job.stdout == "[\"true\"]")
    let cron = try sim.kubectl([
      "get", "cronjob", "nightly", "-o",
      "jsonpath={.spec.schedule}/{.spec.jobTemplate.spec.template.spec.restartPolicy}",
    ])
    #expect(cron.stdout == "0 3 * * */OnFailure")
  }

  @Test func helmUninstallSendsProtobufDeleteOptions() throws {
    let sim = try SimFixture()
    try sim.directory.write(
      "chart/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    try sim.directory.write(
      "chart/templates/config.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo-config}\ndata: {a: \"1\"}\n")
    let installed = try sim.helm([
      "install", "demo", sim.directory.file("chart"), "-n", "default",
    ])
    #expect(installed.status == 0, "\(installed.stderr)")
    let uninstalled = try sim.helm(["uninstall", "demo", "-n", "default"])
    #expect(uninstalled.stdout == "release \"demo\" uninstalled\n", "\(uninstalled.stderr)")
    #expect(uninstalled.status == 0)
    let left = try sim.kubectl(["get", "configmaps,secrets", "-n", "default", "-o", "name"])
    // Only what the namespace had before the release.
    #expect(left.stdout == "configmap/kube-root-ca.crt\n")
  }

  @Test func unknownMediaTypeListsWhatTheVerbAccepts() throws {
    let sim = try SimFixture()
    let posted = try HTTPExchange.send(
      "POST", sim.url("sim-0001", "/api/v1/namespaces/default/configmaps"), body: "a=1",
      contentType: "text/plain")
    #expect(posted.status == 415)
    #expect(
      posted.json?["message"]?.string
        == "the body of the request was in an unknown format - accepted media types include: "
        + "application/json, application/yaml, application/vnd.kubernetes.protobuf")
  }

  @Test func decoderReadsEnvelopedDeleteOptionsAndRejectsUnknownFields() throws {
    // k8s\0, Unknown{typeMeta{apiVersion "v1", kind "DeleteOptions"}, raw{propagationPolicy
    // "Background", gracePeriodSeconds 0}}.
    let raw: [UInt8] = [0x22, 10] + Array("Background".utf8) + [0x08, 0x00]
    let typeMeta: [UInt8] =
      [0x0a, 2] + Array("v1".utf8) + [0x12, 13] + Array("DeleteOptions".utf8)
    let body =
      ProtobufBody.magic + [0x0a, UInt8(typeMeta.count)] + typeMeta + [0x12, UInt8(raw.count)] + raw
    let options = try ProtobufBody.decode(body)
    #expect(
      JSONWriter.string(options, options: .init(sortedKeys: true))
        == #"{"apiVersion":"v1","gracePeriodSeconds":0,"kind":"DeleteOptions","propagationPolicy":"Background"}"#
    )
    let unknown =
      ProtobufBody.magic + [0x0a, UInt8(typeMeta.count)] + typeMeta + [0x12, 2, 0x78, 1]
    #expect(throws: ProtobufBody.Failure.unknownField(message: "DeleteOptions", number: 15)) {
      try ProtobufBody.decode(unknown)
    }
    #expect(throws: ProtobufBody.Failure.notEnveloped) { try ProtobufBody.decode([0x7b]) }
  }
}
