// CustomResourceDefinitions and custom resources through the real kubectl and helm.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

/// The CronTab CRD of the Kubernetes documentation, with printer columns and an enum.
let cronTabDefinition = """
  apiVersion: apiextensions.k8s.io/v1
  kind: CustomResourceDefinition
  metadata:
    name: crontabs.stable.example.com
  spec:
    group: stable.example.com
    scope: Namespaced
    names:
      plural: crontabs
      singular: crontab
      kind: CronTab
      shortNames: [ct]
    versions:
      - name: v1
        served: true
        storage: true
        additionalPrinterColumns:
          - name: Spec
            type: string
            jsonPath: .spec.cronSpec
          - name: Replicas
            type: integer
            jsonPath: .spec.replicas
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [cronSpec]
                properties:
                  cronSpec: {type: string}
                  image: {type: string}
                  replicas: {type: integer, minimum: 1, maximum: 10}
                  policy: {type: string, enum: [Allow, Forbid]}
                  extra:
                    type: object
                    x-kubernetes-preserve-unknown-fields: true

  """

func cronTab(_ name: String, spec: String, labels: String = "") -> String {
  """
  apiVersion: stable.example.com/v1
  kind: CronTab
  metadata:
    name: \(name)\(labels.isEmpty ? "" : "\n  labels: {\(labels)}")
  spec:
  \(spec)

  """
}

@Suite struct CustomResourceTests {
  @Test func kubectlAppliesACRDAndItsResources() throws {
    let sim = try SimFixture()
    let crd = try sim.directory.write("crd.yaml", cronTabDefinition)
    let applied = try sim.kubectl(["apply", "-f", crd])
    #expect(
      applied.stdout == "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com "
        + "created\n", "\(applied.stderr)")
    let waited = try sim.kubectl([
      "wait", "--for", "condition=established", "--timeout=30s",
      "crd/crontabs.stable.example.com",
    ])
    #expect(
      waited.stdout
        == "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met\n",
      "\(waited.stderr)")
    let conditions = try sim.kubectl([
      "get", "crd", "crontabs.stable.example.com", "-o",
      "jsonpath={range .status.conditions[*]}{.type}={.status}/{.reason} {end}",
    ])
    #expect(
      conditions.stdout == "NamesAccepted=True/NoConflicts Established=True/InitialNamesAccepted ")

    // Unknown fields: refused under kubectl's default strict validation, pruned otherwise;
    // fields under x-kubernetes-preserve-unknown-fields kept.
    let cron = try sim.directory.write(
      "cron.yaml",
      cronTab(
        "nightly",
        spec: "  cronSpec: \"0 2 * * *\"\n  replicas: 2\n  extra: {anything: 1}\n  colour: red",
        labels: "tier: batch"))
    let strict = try sim.kubectl(["apply", "-f", cron])
    #expect(strict.status == 1)
    #expect(
      strict.stderr
        == "Error from server (BadRequest): error when creating \"\(cron)\": CronTab in version "
        + "\"v1\" cannot be handled as a CronTab: strict decoding error: unknown field "
        + "\"spec.colour\"\n")
    let pruned = try sim.kubectl(["apply", "--validate=false", "-f", cron])
    #expect(pruned.stdout == "crontab.stable.example.com/nightly created\n", "\(pruned.stderr)")
    let stored = try #require(
      try JSONReader.parse(try sim.kubectl(["get", "ct", "nightly", "-o", "json"]).stdout))
    #expect(stored.at("spec", "colour") == nil)
    #expect(stored.at("spec", "extra", "anything") == 1)

    let other = try sim.directory.write(
      "other.yaml", cronTab("hourly", spec: "  cronSpec: \"0 * * * *\"\n  replicas: 1"))
    #expect(try sim.kubectl(["apply", "-f", other]).status == 0)
    let table = try sim.kubectl(["get", "crontabs"])
    #expect(
      table.stdout
        == "NAME      SPEC        REPLICAS\nhourly    0 * * * *   1\nnightly   0 2 * * *   2\n",
      "\(table.stderr)")
    let selected = try sim.kubectl(["get", "crontabs", "-l", "tier=batch", "-o", "name"])
    #expect(selected.stdout == "crontab.stable.example.com/nightly\n")

    // Invalid instances: the API server's 422 with one line per field error.
    let invalid = try sim.directory.write(
      "invalid.yaml", cronTab("broken", spec: "  cronSpec: 5\n  replicas: 11\n  policy: Sometimes"))
    let rejected = try sim.kubectl(["apply", "-f", invalid])
    #expect(rejected.status == 1)
    #expect(
      rejected.stderr
        == "The CronTab \"broken\" is invalid: \n"
        + "* spec.cronSpec: Invalid value: \"integer\": spec.cronSpec in body must be of type "
        + "string: \"integer\"\n"
        + "* spec.policy: Unsupported value: \"Sometimes\": supported values: \"Allow\", "
        + "\"Forbid\"\n"
        + "* spec.replicas: Invalid value: 11: spec.replicas in body should be less than or "
        + "equal to 10\n", "\(rejected.stderr)")
    let missing = try sim.directory.write("missing.yaml", cronTab("empty", spec: "  image: x"))
    let required = try sim.kubectl(["apply", "-f", missing])
    #expect(
      required.stderr
        == "The CronTab \"empty\" is invalid: spec.cronSpec: Required value\n")

    // Server-side apply owns custom resources' fields like any other object's.
    try sim.directory.write(
      "other.yaml", cronTab("hourly", spec: "  cronSpec: \"0 * * * *\"\n  replicas: 3"))
    let serverSide = try sim.kubectl([
      "apply", "--server-side", "--force-conflicts", "-f", other,
    ])
    #expect(serverSide.stdout == "crontab.stable.example.com/hourly serverside-applied\n")
    #expect(
      try sim.kubectl(["get", "ct", "hourly", "-o", "jsonpath={.spec.replicas}"]).stdout == "3")

    // Deleting the CRD deletes its resources and stops serving the type.
    let deleted = try sim.kubectl(["delete", "crd", "crontabs.stable.example.com"])
    #expect(
      deleted.stdout
        == "customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted\n"
    )
    #expect(
      try sim.server.cluster("sim-0001").map {
        $0.store.all(
          try #require(
            CustomResources.type(
              try YAMLBody.parse(Array(cronTabDefinition.utf8)),
              ["name": "v1", "served": true, "storage": true])))
      } == [])
    let gone = try sim.kubectl(["get", "crontabs"])
    #expect(
      gone.stderr
        == "Error from server (NotFound): Unable to list \"stable.example.com/v1, "
        + "Resource=crontabs\": the server could not find the requested resource\n",
      "\(gone.stderr)")
  }

  @Test func aConflictingKindIsNotAccepted() throws {
    let sim = try SimFixture()
    try sim.kubectl(["apply", "-f", try sim.directory.write("crd.yaml", cronTabDefinition)])
    let twin = cronTabDefinition.replacingOccurrences(of: "crontabs", with: "crontasks")
      .replacingOccurrences(of: "crontab\n", with: "crontask\n")
      .replacingOccurrences(of: "[ct]", with: "[ctk]")
    let applied = try sim.kubectl(["apply", "-f", try sim.directory.write("twin.yaml", twin)])
    #expect(applied.status == 0, "\(applied.stderr)")
    let conditions = try sim.kubectl([
      "get", "crd", "crontasks.stable.example.com", "-o",
      "jsonpath={range .status.conditions[*]}{.type}={.status}/{.reason}/{.message};{end}",
    ])
    #expect(
      conditions.stdout
        == "NamesAccepted=False/ListKindConflict/\"CronTabList\" is already in use;"
        + "Established=False/NotAccepted/not all names are accepted;")
    let raw = try sim.kubectl(["get", "--raw", "/clusters/sim-0001/apis/stable.example.com/v1"])
    let group = try #require(try? JSONReader.parse(raw.stdout), "\(raw.stderr)")
    #expect(group["resources"]?.sequence?.compactMap { $0["name"]?.string } == ["crontabs"])
  }

  @Test func helmInstallsTheCRDsOfAChart() throws {
    let sim = try SimFixture()
    let chart = sim.directory.file("cron-chart")
    try FileManager.default.createDirectory(
      atPath: chart + "/crds", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      atPath: chart + "/templates", withIntermediateDirectories: true)
    try "apiVersion: v2\nname: cron-chart\nversion: 0.1.0\n".write(
      toFile: chart + "/Chart.yaml", atomically: true, encoding: .utf8)
    try cronTabDefinition.write(
      toFile: chart + "/crds/crontab.yaml", atomically: true, encoding: .utf8)
    try cronTab("{{ .Release.Name }}", spec: "  cronSpec: \"*/5 * * * *\"").write(
      toFile: chart + "/templates/crontab.yaml", atomically: true, encoding: .utf8)
    let installed = try sim.helm(["install", "jobs", chart, "--wait", "--timeout", "60s"])
    #expect(installed.status == 0, "\(installed.stderr)")
    let got = try sim.kubectl(["get", "crontab", "jobs", "-o", "jsonpath={.spec.cronSpec}"])
    #expect(got.stdout == "*/5 * * * *", "\(got.stderr)")
    let uninstalled = try sim.helm(["uninstall", "jobs", "--wait"])
    #expect(uninstalled.status == 0, "\(uninstalled.stderr)")
    // helm never deletes a chart's CRDs.
    #expect(
      try sim.kubectl(["get", "crd", "-o", "name"]).stdout
        == "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com\n")
    #expect(try sim.kubectl(["get", "crontabs", "-o", "name"]).stdout == "")
  }
}
