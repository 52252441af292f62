// Helm's merge rules with plain expected values: -f layering, chart defaults, and the resolver.
import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct MergeTests {
  func map(_ yaml: String) throws -> Mapping {
    try #require(try YAML.parse(yaml).mapping)
  }

  func layered(_ layers: String...) throws -> Value {
    var merged = Mapping()
    for layer in layers { merged = HelmMerge.layer(try map(layer), over: merged) }
    return Value.mapping(merged)
  }

  @Test func mapsMergeDeeplyAndLaterScalarsWin() throws {
    let merged = try layered(
      "a: {b: {c: 1, d: 2}, e: 3}\nkeep: 1", "a: {b: {c: 10, f: 4}}\nnew: x")
    #expect(merged == ["a": ["b": ["c": 10, "d": 2, "f": 4], "e": 3], "keep": 1, "new": "x"])
  }

  @Test func listsAreReplacedNotMerged() throws {
    let merged = try layered("l: [1, 2, 3]\nm: [{a: 1}]", "l: [9]\nm: [{b: 2}]")
    #expect(merged == ["l": [9], "m": [["b": 2]]])
  }

  @Test func aMapReplacesAScalarAndAScalarReplacesAMap() throws {
    let merged = try layered("s: text\nm: {a: 1}\nl: [1]", "s: {now: map}\nm: 5\nl: {x: 1}")
    #expect(merged == ["s": ["now": "map"], "m": 5, "l": ["x": 1]])
  }

  @Test func nullBetweenLayersKeepsTheKeyAsNullAtAnyDepth() throws {
    let merged = try layered(
      "top: {a: 1}\nd: {e: {f: {g: 1, h: 2}}}", "top: null\nd: {e: {f: {g: null}}}\nfresh: null")
    #expect(merged == ["top": nil, "d": ["e": ["f": ["g": nil, "h": 2]]], "fresh": nil])
    // A later map over that null is a plain replacement.
    let again = try layered("a: {b: 1}", "a: null", "a: {c: 2}")
    #expect(again == ["a": ["c": 2]])
  }

  @Test func nullAgainstChartDefaultsDeletesTheDefault() throws {
    let defaults = try map(
      "a: {b: 1, c: 2, n: {x: 1}}\ngone: 2\nkeep: 1\ns: str\nm: {k: 1}\ndn: null\nlst: [1, 2]")
    let user = try map(
      "a: {b: 5, c: null, n: null}\ngone: null\nnewnull: null\ns: {now: map}\nm: scalar\nlst: [3]")
    let result = Value.mapping(HelmMerge.coalesce(user, withDefaults: defaults))
    #expect(
      result == [
        "a": ["b": 5], "keep": 1, "s": ["now": "map"], "m": "scalar", "dn": nil, "lst": [3],
        "newnull": nil,
      ])
    // Keys come in the chart's order, then the user's additions.
    #expect(result.mapping?.keys == ["a", "keep", "s", "m", "dn", "lst", "newnull"])
  }

  @Test func nullsUnderAUserMapUnknownToTheChartStay() throws {
    let defaults = try map("x: {a: 1}")
    let user = try map("x: {b: null}\nw: {c: null}")
    #expect(
      Value.mapping(HelmMerge.coalesce(user, withDefaults: defaults))
        == ["x": ["a": 1, "b": nil], "w": ["c": nil]])
  }

  @Test func mergeKeysInsideValuesFilesAreResolvedBeforeLayering() throws {
    let merged = try layered(
      "base: &b {timeout: 30, retries: 3}\nsvc:\n  <<: *b\n  retries: 5", "svc: {timeout: 10}")
    #expect(
      merged == ["base": ["timeout": 30, "retries": 3], "svc": ["timeout": 10, "retries": 5]])
  }

  @Test func resolverLayersTemplatedPathsSetsAndOrigins() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: eu-1, labels: {env: prod, region: eu}}\n"
          + "  - {name: us-1, labels: {env: prod, region: us}}",
        """
        values:
          - values/base.yaml
          - values/{{ .labels.env }}/{{ .labels.region }}.yaml
          - {path: "values/clusters/{{ .name }}.yaml", optional: true}
        """),
      "values/base.yaml": "image: {repository: r, tag: \"1.0\"}\nreplicas: 1\n",
      "values/prod/eu.yaml": "replicas: 3\nregion: eu\n",
      "values/prod/us.yaml": "replicas: 4\nregion: us\n",
      "values/clusters/eu-1.yaml": "image:\n  tag: \"2.0\"\n",
    ])
    defer { fixture.remove() }
    let loaded = try fixture.load()
    let eu = try #require(loaded.fleet.cluster(named: "eu-1"))
    let us = try #require(loaded.fleet.cluster(named: "us-1"))
    let layers = try loaded.values.layers(for: eu)
    #expect(
      layers.map(\.relativePath) == [
        "values/base.yaml", "values/prod/eu.yaml", "values/clusters/eu-1.yaml",
      ])
    #expect(layers.map(\.exists) == [true, true, true])
    #expect(try loaded.values.layers(for: us).map(\.exists) == [true, true, false])
    let values = try loaded.values.values(
      for: eu, sets: ["replicas=5,extra.on=true"], setStrings: ["image.tag=3"])
    #expect(
      values == [
        "image": ["repository": "r", "tag": "3"], "replicas": 5, "region": "eu",
        "extra": ["on": true],
      ])
    #expect(
      ValueOrigins.tree(values, relativeTo: fixture.path)
        == [
          "image": ["repository": "values/base.yaml:1", "tag": "--set-string image.tag=3"],
          "replicas": "--set replicas=5,extra.on=true", "region": "values/prod/eu.yaml:2",
          "extra": ["on": "--set replicas=5,extra.on=true"],
        ])
    #expect(
      try loaded.values.values(for: us)
        == ["image": ["repository": "r", "tag": "1.0"], "replicas": 4, "region": "us"])
    // Without a local chart, .Values is exactly what is passed.
    #expect(try loaded.values.chartValues(for: us) == loaded.values.values(for: us))
  }

  @Test func valuesFilesSharedByClustersAreParsedOnce() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(clusters: sixClusters, "values: [values/base.yaml]"),
      "values/base.yaml": "a: 1\n",
    ])
    defer { fixture.remove() }
    let loaded = try fixture.load()
    // Replacing the file after loading changes nothing: its parse is cached by path.
    try fixture.directory.write("values/base.yaml", "a: 2\n")
    for cluster in loaded.fleet.clusters {
      #expect(try loaded.values.values(for: cluster) == ["a": 1])
    }
  }

  @Test func annotatedYAMLPutsTheOriginOfEveryLeafInAComment() throws {
    let source = SourceFile(
      path: "fleet/values/base.yaml",
      text: "a:\n  b: 1\n  l: [x, {k: v}]\nempty: {}\ns: \"yes\"\nm: \"two\\nlines\"\n")
    let value = try YAML.parse(source)
    #expect(
      ValueOrigins.annotatedYAML(value, relativeTo: "fleet") == """
        a:
          b: 1  # values/base.yaml:2
          l:
            - x  # values/base.yaml:3
            - k: v  # values/base.yaml:3
        empty: {}  # values/base.yaml:4
        s: "yes"  # values/base.yaml:5
        m: "two\\nlines"  # values/base.yaml:6

        """)
  }
}
