// `fleetwave values` with helm's value flags against real `helm template` given the same flags:
// a chart that prints `.Values` into a ConfigMap, both outputs read as YAML and compared as trees.
import FleetCore
import FleetYAML
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct ValueFlagsOracleTests {
  static let files: [String: String] = [
    "fleet.yaml": """
    apiVersion: fleetwave/v1
    kind: Fleet
    release: {name: oracle, chart: charts/printer, driver: sim}
    values:
      - values/base.yaml
    clusters:
      - {name: prod-a, labels: {env: prod}}
    """,
    "values/base.yaml": """
    image: {repository: r, tag: "1.0"}
    list: [1, 2, 3]
    objs: [{name: x, port: 1}]
    layered: {fromFleet: 1}

    """,
    "charts/printer/Chart.yaml": "apiVersion: v2\nname: printer\nversion: 0.1.0\n",
    "charts/printer/values.yaml": """
    chartKey: default
    chartMap: {a: 1, b: 2}
    image: {pullPolicy: IfNotPresent}

    """,
    "charts/printer/templates/values.yaml": """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: values}
    data:
      values.yaml: |
    {{ toYaml .Values | indent 4 }}

    """,
    "user/one.yaml": "layered: {fromOne: 1, fromFleet: one}\nimage: {tag: \"1.1\"}\nlist: [a]\n",
    "user/two.yaml": "layered: {fromTwo: 2}\nchartKey: null\nimage: {tag: \"1.2\"}\n",
    "user/empty.yaml": "",
    "files/cert.pem": "-----BEGIN CERT-----\nabc\n-----END CERT-----\n",
    "files/a.txt": "alpha",
    "files/b.txt": "beta\n",
    "files/tag.txt": "from-file",
  ]

  /// Each case: the value flags, given verbatim to both `helm template` and `fleetwave values`.
  static let cases: [[String]] = [
    ["--set", "a.b.c=1,d=true,e=NULL,f=007,g=1.5,h=-3,i=0"],
    ["--set", "list[1]=x,objs[0].name=a,objs[2].port=8080,l={a,b,3,null},deep[0][1]=q"],
    ["--set", #"ann.kubernetes\.io/name=x,v=a\,b,w=c\=d,empty="#],
    ["--set", "image=null,chartMap.a=null,chartKey=null"],
    ["--set-string", "n=null,t=true,z=0,i=42,l={1,true}"],
    [
      "--set-json",
      #"obj={"a":[1,2.5,{"b":null}],"s":"x"},arr=[1,"two",true],n=null,e=,f=1.0,s="q,r""#,
    ],
    ["--set-json", #"{"top":{"k":1},"layered":{"fromJSON":true},"chartMap":null}"#],
    ["--set-json", #"list[0]={"x":1},objs[0].port=2,chartMap.b=null"#],
    ["--set-file", "cert=files/cert.pem,l={files/a.txt,files/b.txt},image.tag=files/tag.txt"],
    ["-f", "user/one.yaml", "-f", "user/two.yaml", "--values", "user/empty.yaml"],
    // Precedence: -f files in order, then --set-json, --set, --set-string, --set-file,
    // whatever the order on the command line; a later flag of one kind wins over an earlier.
    [
      "--set-file", "image.tag=files/tag.txt", "--set-string", "image.tag=str", "--set",
      "image.tag=set", "--set-json", #"image.tag="json""#, "-f", "user/two.yaml",
    ],
    [
      "--set", "image.tag=set", "--set-json", "image.tag=9", "--set-string", "a=1",
      "--set", "a=2", "-f", "user/one.yaml",
    ],
    ["--set-json", "image.tag=9", "--set", "a=1", "--set", "a=2,b=1", "--set", "b=3"],
  ]

  /// `.Values` as the chart printed it.
  func helmValues(_ helm: String, _ flags: [String], in directory: String) throws -> Value {
    let result = try runProcess(
      helm, ["template", "oracle", "charts/printer", "-f", "values/base.yaml"] + flags,
      currentDirectory: directory, timeout: 60)
    try #require(result.status == 0, "helm \(flags): \(result.stderr)")
    let manifest = try YAML.parse(result.stdout, path: "helm")
    let text = try #require(manifest["data"]?["values.yaml"]?.string, "\(result.stdout)")
    return try YAML.parse(text, path: "helm values")
  }

  @Test func valueFlagsMatchHelmTemplate() throws {
    let helm = try #require(BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh")
    let directory = try TemporaryDirectory("value-flags")
    defer { directory.remove() }
    for (path, text) in Self.files { try directory.write(path, text) }
    for flags in Self.cases {
      let expected = try helmValues(helm, flags, in: directory.path)
      let ours = try fleetwave(
        ["values", ".", "--cluster", "prod-a"] + flags, currentDirectory: directory.path)
      try #require(ours.status == 0, "fleetwave \(flags): \(ours.stderr)")
      #expect(try YAML.parse(ours.stdout, path: "fleetwave") == expected, "\(flags)")
    }
  }

  @Test func showOriginNamesTheFlagFileAndLine() throws {
    let directory = try TemporaryDirectory("value-flags")
    defer { directory.remove() }
    for (path, text) in Self.files { try directory.write(path, text) }
    let result = try fleetwave(
      [
        "values", ".", "--cluster", "prod-a", "--overlays-only", "--show-origin", "-f",
        "user/two.yaml", "--set-json", "j=[1]", "--set-file", "c=files/a.txt",
      ], currentDirectory: directory.path)
    #expect(result.stderr == "")
    #expect(
      result.stdout == """
        image:
          repository: r  # values/base.yaml:1
          tag: "1.2"  # user/two.yaml:3
        list:
          - 1  # values/base.yaml:2
          - 2  # values/base.yaml:2
          - 3  # values/base.yaml:2
        objs:
          - name: x  # values/base.yaml:3
            port: 1  # values/base.yaml:3
        layered:
          fromFleet: 1  # values/base.yaml:4
          fromTwo: 2  # user/two.yaml:1
        chartKey: null  # user/two.yaml:2
        j:
          - 1  # --set-json j=[1]
        c: alpha  # --set-file c=files/a.txt

        """)
  }

  @Test(arguments: [
    (
      ["--set-json", "a={"],
      """
      --set-json:1:4: error: expected a string key in JSON object
          a={
             ^
      """
    ),
    (
      ["--set", "ok=1", "--set", "a[x]=1"],
      """
      --set:1:3: error: error parsing index: 'x' is not a number
          a[x]=1
            ^
      """
    ),
    (
      ["--set-file", "cert=files/missing.pem"],
      """
      --set-file:1:6: error: cannot read file 'files/missing.pem'
          cert=files/missing.pem
               ^
      """
    ),
    (["-f", "user/missing.yaml"], "error: -f user/missing.yaml: no such values file"),
    (
      ["--set-json", #"{"a":1"#],
      """
      --set-json:1:7: error: unterminated JSON object
          {"a":1
                ^
      """
    ),
  ])
  func badFlagsAreLocatedUsageErrors(flags: [String], message: String) throws {
    let directory = try TemporaryDirectory("value-flags")
    defer { directory.remove() }
    for (path, text) in Self.files { try directory.write(path, text) }
    let result = try fleetwave(
      ["values", ".", "--cluster", "prod-a"] + flags, currentDirectory: directory.path)
    #expect(result.status == 2)
    #expect(result.stdout == "")
    #expect(result.stderr == message + "\n")
  }
}
