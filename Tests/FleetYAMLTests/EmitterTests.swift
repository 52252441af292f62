import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct EmitterTests {
  let sample: Value = [
    "name": "checkout",
    "replicas": 3,
    "ratio": 0.25,
    "enabled": true,
    "nothing": nil,
    "looksLikeBool": "yes",
    "looksLikeNumber": "0777",
    "looksLikeNull": "~",
    "empty": "",
    "colon": "a: b",
    "dash": "- x",
    "hash": "# not a comment",
    "multi": "line one\nline two\n",
    "unicode": "grüße 😀",
    "merge": "<<",
    "list": [1, "two", ["nested"], [:]],
    "emptyList": [],
    "map": ["on": "quoted key", "1": "numeric key"],
  ]

  @Test func roundTripsThroughOurParser() throws {
    let text = YAML.emit(sample)
    #expect(try YAML.parse(text) == sample)
  }

  @Test func plainWhereSafeQuotedWhereNeeded() {
    let text = YAML.emit(["a": "yes", "b": "plain text", "c": 1, "d": "1"])
    #expect(text == "a: \"yes\"\nb: plain text\nc: 1\nd: \"1\"\n")
  }

  @Test func streamsSeparateDocuments() throws {
    let text = YAML.emit(documents: [["a": 1], ["b": 2]])
    #expect(text == "---\na: 1\n---\nb: 2\n")
  }

  /// The emitted file, given to real helm, yields the same values we hold.
  @Test func helmReadsEmittedValuesIdentically() throws {
    guard let helm = BuiltProducts.helm else {
      Issue.record("helm is not installed; run Scripts/install-helm.sh")
      return
    }
    let dir = try TemporaryDirectory("yaml-helm")
    defer { dir.remove() }
    try dir.write("chart/Chart.yaml", "apiVersion: v2\nname: show\nversion: 0.1.0\n")
    try dir.write("chart/templates/values.yaml", "{{ toJson .Values }}\n")
    var values = sample
    // Helm drops null leaves from the values it renders; compare without them.
    values = Value(.mapping(Mapping(values.mapping!.entries.filter { !$0.value.isNull })))
    let file = try dir.write("values.yaml", YAML.emit(values))
    let result = try runProcess(
      helm, ["template", "x", dir.file("chart"), "-f", file, "--show-only", "templates/values.yaml"],
      environment: ["HELM_CACHE_HOME": dir.file("cache"), "HELM_CONFIG_HOME": dir.file("config")])
    #expect(result.status == 0, "\(result.stderr)")
    let json = result.stdout.components(separatedBy: "\n").first { $0.hasPrefix("{") } ?? ""
    #expect(try JSONReader.parse(json) == values)
  }

  /// Parsing a values file with our rules gives what helm sees, for the whole resolution table.
  @Test func parsedValuesMatchHelm() throws {
    guard let helm = BuiltProducts.helm else {
      Issue.record("helm is not installed; run Scripts/install-helm.sh")
      return
    }
    let dir = try TemporaryDirectory("yaml-helm")
    defer { dir.remove() }
    try dir.write("chart/Chart.yaml", "apiVersion: v2\nname: show\nversion: 0.1.0\n")
    try dir.write("chart/templates/values.yaml", "{{ toJson .Values }}\n")
    let text = """
      a: yes
      b: off
      c: 0777
      d: 0x1F
      e: 1e3
      f: 2001-12-14
      g: 1_000
      h: "on"
      i: !!str 12
      j: 1:30
      k: 9007199254740993
      on: key
      base: &b {x: 1, y: [a]}
      merged:
        <<: *b
        y: [b]
      """
    let file = try dir.write("values.yaml", text)
    let ours = try YAML.parse(text)
    let result = try runProcess(
      helm, ["template", "x", dir.file("chart"), "-f", file, "--show-only", "templates/values.yaml"],
      environment: ["HELM_CACHE_HOME": dir.file("cache"), "HELM_CONFIG_HOME": dir.file("config")])
    #expect(result.status == 0, "\(result.stderr)")
    let json = result.stdout.components(separatedBy: "\n").first { $0.hasPrefix("{") } ?? ""
    #expect(try JSONReader.parse(json) == ours)
  }
}
