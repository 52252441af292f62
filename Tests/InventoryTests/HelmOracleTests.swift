// The resolver's values against what real `helm template` hands a chart as `.Values`.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Inventory
import Testing

@Suite struct HelmOracleTests {
  static let chartFiles: [String: String] = [
    "charts/plain/Chart.yaml": "apiVersion: v2\nname: plain\nversion: 0.1.0\n",
    "charts/plain/templates/values.txt": "{{ toJson .Values }}\n",
    "charts/defaults/Chart.yaml": "apiVersion: v2\nname: defaults\nversion: 0.1.0\n",
    "charts/defaults/templates/values.txt": "{{ toJson .Values }}\n",
    "charts/defaults/values.yaml": """
    image: {repository: default, pullPolicy: IfNotPresent, extra: keep}
    fromChartDelete: 1
    nested: {deep: {deeper: {y: 10, w: 4}}}
    mapToScalar: {chart: map}
    scalarToMap: chartscalar
    svc: {timeout: 10, port: 80}
    chartOnly: {a: [1, 2]}
    chartNull: null
    list: [7, 8]

    """,
  ]

  static let layerFiles: [String: String] = [
    "values/base.yaml": """
    defaults: &d
      timeout: 30
      retries: 3
    image: {repository: r, tag: "1.0", pullPolicy: Always}
    list: [1, 2, 3]
    nested: {deep: {deeper: {x: 1, y: 2}}}
    mapToScalar: {a: 1}
    scalarToMap: text
    nullLater: {keep: 1, drop: 2}
    svc:
      <<: *d
      retries: 5
    yaml11: [yes, no, on, off, ~, 0777, 0x1F, 1e3, 1_000, "quoted", 2001-12-14, 1:30, 12.50]
    big: 9007199254740993

    """,
    "values/env/prod.yaml": """
    list: [9]
    nested: {deep: {deeper: {y: null, z: 3}}}
    mapToScalar: 5
    scalarToMap: {now: map}
    nullLater: null
    image: {tag: "2.0"}
    svc: {timeout: null}
    fromChartDelete: null
    newKey: null
    emptyMap: {}
    emptyList: []

    """,
    "values/clusters/prod-a.yaml": "nullLater: {again: 1}\nimage: {pullPolicy: null}\n",
  ]

  static let fleetText = """
    apiVersion: fleetwave/v1
    kind: Fleet
    release: {name: oracle, chart: CHART, driver: sim}
    values:
      - values/base.yaml
      - values/env/{{ .labels.env }}.yaml
      - {path: "values/clusters/{{ .name }}.yaml", optional: true}
    clusters:
      - {name: prod-a, labels: {env: prod}}
      - {name: prod-b, labels: {env: prod}}
    """

  struct Scenario: Sendable, CustomStringConvertible {
    var cluster: String
    var sets: [String] = []
    var setStrings: [String] = []
    var description: String { "\(cluster) \(sets) \(setStrings)" }
  }

  static let scenarios: [Scenario] = [
    Scenario(cluster: "prod-a"),
    Scenario(cluster: "prod-b"),
    Scenario(
      cluster: "prod-b",
      sets: [
        "nested.deep.deeper.v=1,image.tag=3.0,list[2]=x,objs[1].name=b,objs[0].name=a",
        #"esc\.dot=1,typed={1,true,null,1.5,007,-3},empty=,other=TRUE"#,
        "big=9223372036854775807,bigger=9223372036854775808,svc.retries=null",
        "image.pullPolicy=null,fromChartDelete=2,deepList[0][1]=q,l2={}",
        "scalarToMap.k=v,chartNull.a=1",
      ],
      setStrings: ["s=true,n=null,z=0", "image.tag=4"]),
  ]

  func helmValues(
    _ helm: String, chart: String, layers: [String], scenario: Scenario, in dir: String
  )
    throws -> Value
  {
    var arguments = ["template", "oracle", chart]
    for layer in layers { arguments += ["-f", layer] }
    for set in scenario.sets { arguments += ["--set", set] }
    for set in scenario.setStrings { arguments += ["--set-string", set] }
    let result = try runProcess(helm, arguments, currentDirectory: dir, timeout: 60)
    #expect(result.status == 0, "helm failed: \(result.stderr)")
    let json = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    return try JSONReader.parse(json)
  }

  @Test(arguments: ["plain", "defaults"])
  func valuesMatchHelmTemplate(chart: String) throws {
    let helm = try #require(BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh")
    var files = Self.chartFiles.merging(Self.layerFiles) { $1 }
    files["fleet.yaml"] = Self.fleetText.replacingOccurrences(of: "CHART", with: "charts/\(chart)")
    let fixture = try FleetFixture(files)
    defer { fixture.remove() }
    let loaded = try fixture.load()
    for scenario in Self.scenarios {
      let cluster = try #require(loaded.fleet.cluster(named: scenario.cluster))
      let layers = try loaded.values.layers(for: cluster).filter(\.exists).map(\.relativePath)
      let expected = try helmValues(
        helm, chart: "charts/\(chart)", layers: layers, scenario: scenario, in: fixture.path)
      let ours = try loaded.values.chartValues(
        for: cluster, sets: scenario.sets, setStrings: scenario.setStrings)
      #expect(ours == expected, "\(chart) \(scenario)")
      if chart == "plain" {
        // A chart without defaults sees exactly what is passed to it.
        #expect(
          try loaded.values.values(
            for: cluster, sets: scenario.sets, setStrings: scenario.setStrings) == expected)
      }
    }
  }
}
