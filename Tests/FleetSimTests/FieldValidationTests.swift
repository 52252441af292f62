// Unknown fields and bad label syntax in manifests of the built-in kinds, sent with the real
// kubectl, get what a real API server answers for each `fieldValidation` (`--validate`): the
// strict decoder's 400, a warning with the fields dropped, silence; server-side apply's typed
// conversion error; 422 Invalid for labels.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct FieldValidationTests {
  /// A Deployment with two unknown fields, one in a list item of the pod template.
  private let typos = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: default}
    spec:
      replicass: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.27
            imagee: nginx:1.28
            securityContext: {seccompProfile: {type: RuntimeDefault}}

    """

  /// The keys of the stored Deployment's `spec` and of its container.
  private func storedKeys(_ sim: SimFixture) throws -> (spec: [String], container: [String]) {
    let got = try sim.kubectl(["get", "deployment", "web", "-o", "json"])
    let object = try JSONReader.parse(got.stdout)
    let spec = try #require(object["spec"]?.mapping)
    let container = try #require(
      object.at("spec", "template", "spec", "containers")?.sequence?.first?.mapping)
    // kubectl prints keys sorted.
    return (spec.map(\.key), container.map(\.key))
  }

  @Test func strictValidationRefusesUnknownFieldsWithTheDecodersMessage() throws {
    let sim = try SimFixture()
    let file = try sim.directory.write("typos.yaml", typos)
    let applied = try sim.kubectl(["apply", "-f", file])
    #expect(applied.status == 1)
    #expect(
      applied.stderr
        == "Error from server (BadRequest): error when creating \"\(file)\": Deployment in "
        + "version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown "
        + "field \"spec.replicass\", unknown field \"spec.template.spec.containers[0].imagee\"\n")
    #expect(try sim.kubectl(["get", "deployments", "-o", "name"]).stdout == "")
  }

  @Test func warnValidationStoresTheObjectWithoutTheFieldsAndSaysWhich() throws {
    let sim = try SimFixture()
    let file = try sim.directory.write("typos.yaml", typos)
    let applied = try sim.kubectl(["apply", "--validate=warn", "-f", file])
    #expect(applied.status == 0)
    #expect(
      applied.stderr
        == "Warning: unknown field \"spec.replicass\"\n"
        + "Warning: unknown field \"spec.template.spec.containers[0].imagee\"\n")
    #expect(applied.stdout == "deployment.apps/web created\n")
    let keys = try storedKeys(sim)
    #expect(
      keys.spec == [
        "progressDeadlineSeconds", "replicas", "revisionHistoryLimit", "selector", "strategy",
        "template",
      ])
    #expect(keys.container == ["image", "name", "securityContext"])
  }

  @Test func ignoreValidationDropsTheFieldsSilently() throws {
    let sim = try SimFixture()
    let file = try sim.directory.write("typos.yaml", typos)
    let applied = try sim.kubectl(["apply", "--validate=false", "-f", file])
    #expect(applied.status == 0)
    #expect(applied.stderr == "")
    #expect(try storedKeys(sim).container == ["image", "name", "securityContext"])
  }

  @Test func aPatchGetsTheServersDefaultWarningAndAReplaceIsRefused() throws {
    let sim = try SimFixture()
    let file = try sim.directory.write("typos.yaml", typos)
    #expect(try sim.kubectl(["apply", "--validate=false", "-f", file]).status == 0)
    // kubectl patch sends no fieldValidation: the server's default, Warn, applies.
    let patched = try sim.kubectl([
      "patch", "deployment", "web", "--type=merge", "-p", #"{"spec":{"paused":true,"pausd":1}}"#,
    ])
    #expect(patched.status == 0)
    #expect(patched.stderr == "Warning: unknown field \"spec.pausd\"\n")
    #expect(patched.stdout == "deployment.apps/web patched\n")
    let paused = try sim.kubectl(["get", "deployment", "web", "-o", "jsonpath={.spec.paused}"])
    #expect(paused.stdout == "true")
    #expect(try storedKeys(sim).spec.contains("pausd") == false)
    let replaced = try sim.kubectl(["replace", "-f", file])
    #expect(replaced.status == 1)
    #expect(
      replaced.stderr
        == "Error from server (BadRequest): error when replacing \"\(file)\": Deployment in "
        + "version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown "
        + "field \"spec.replicass\", unknown field \"spec.template.spec.containers[0].imagee\"\n")
  }

  @Test func serverSideApplyFailsTheTypedConversionWhateverTheValidation() throws {
    let sim = try SimFixture()
    // Each object's first unknown field only: the conversion stops visiting an object there.
    let file = try sim.directory.write(
      "typos.yaml",
      typos.replacingOccurrences(
        of: "namespace: default}", with: "namespace: default, colour: red}"))
    for validate in ["--validate=strict", "--validate=false"] {
      let applied = try sim.kubectl(["apply", "--server-side", validate, "-f", file])
      #expect(applied.status == 1)
      #expect(
        applied.stderr
          == "Error from server: failed to create typed patch object (default/web; apps/v1, "
          + "Kind=Deployment): errors:\n  .metadata.colour: field not declared in schema\n"
          + "  .spec.replicass: field not declared in schema\n")
    }
    // A list item is named by its merge key.
    try sim.directory.write(
      "typos.yaml", typos.replacingOccurrences(of: "replicass", with: "replicas"))
    let applied = try sim.kubectl(["apply", "--server-side", "-f", file])
    #expect(
      applied.stderr
        == "Error from server: failed to create typed patch object (default/web; apps/v1, "
        + "Kind=Deployment): .spec.template.spec.containers[name=\"web\"].imagee: field not "
        + "declared in schema\n")
    #expect(try sim.kubectl(["get", "deployments", "-o", "name"]).stdout == "")
  }

  @Test func aQuantityThatDoesNotParseFailsTheDecoding() throws {
    let sim = try SimFixture()
    let cases = [
      (
        "cpu: 1x",
        "quantities must match the regular expression "
          + "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
      ),
      ("memory: 512Gu", "unable to parse quantity's suffix"),
    ]
    for (limit, problem) in cases {
      let manifest = typos.replacingOccurrences(of: "replicass", with: "replicas")
        .replacingOccurrences(of: "imagee: nginx:1.28", with: "resources: {limits: {\(limit)}}")
      let file = try sim.directory.write("quantity.yaml", manifest)
      // Whatever the validation asked for: the decoding itself fails.
      let applied = try sim.kubectl(["apply", "--validate=false", "-f", file])
      #expect(applied.status == 1)
      #expect(
        applied.stderr
          == "Error from server (BadRequest): error when creating \"\(file)\": Deployment in "
          + "version \"v1\" cannot be handled as a Deployment: \(problem)\n")
    }
    let fine = typos.replacingOccurrences(of: "replicass", with: "replicas")
      .replacingOccurrences(
        of: "imagee: nginx:1.28",
        with: "resources: {limits: {cpu: 500m, memory: 1Gi, ephemeral-storage: 2e3}}")
    let file = try sim.directory.write("quantity.yaml", fine)
    #expect(try sim.kubectl(["apply", "-f", file]).status == 0)
  }

  @Test func theWarningHeaderQuotesEachUnknownField() throws {
    let sim = try SimFixture()
    let created = try HTTPExchange.send(
      "POST", sim.url("sim-0001", "/api/v1/namespaces/default/configmaps"),
      body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","colour":"red"},"#
        + #""data":{"a":"b"}}"#,
      contentType: "application/json")
    #expect(created.status == 201)
    #expect(created.headers["warning"] == #"299 - "unknown field \"metadata.colour\"""#)
    #expect(created.json?["metadata"]?["colour"] == nil)
  }

  @Test func badLabelsAreRefusedWithApimachinerysMessages() throws {
    let sim = try SimFixture()
    let labels = #"{"app": "x; touch", "bad key/x": "ok", "example.com/": "v"}"#
    let file = try sim.directory.write(
      "labels.yaml",
      """
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: web, labels: \(labels)}

      """)
    let applied = try sim.kubectl(["apply", "-f", file])
    #expect(applied.status == 1)
    let labelValue =
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
      + "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
      + "'my_value',  or '12345', regex used for validation is "
      + "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    let subdomain =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
      + "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
      + "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    let qualifiedName =
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
      + "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
      + "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    #expect(
      applied.stderr
        == "The ConfigMap \"web\" is invalid: \n"
        + "* metadata.labels: Invalid value: \"x; touch\": \(labelValue)\n"
        + "* metadata.labels: Invalid value: \"bad key/x\": prefix part \(subdomain)\n"
        + "* metadata.labels: Invalid value: \"example.com/\": name part must be non-empty\n"
        + "* metadata.labels: Invalid value: \"example.com/\": name part \(qualifiedName)\n")
    #expect(try sim.kubectl(["get", "configmaps", "web"]).status == 1)
  }
}
