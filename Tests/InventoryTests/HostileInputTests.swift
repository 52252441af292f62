// Input written to turn Fleetwave against its operator: every template sink, label syntax,
// paths out of the fleet directory, empty selectors. Each test asserts the exact escaped output
// or the exact located error.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import Inventory

/// Label values that break out of a shell, a path, a URL or a PromQL string when pasted raw.
let hostileValues = [
  "x; touch /tmp/PWNED; echo", "$(id)", "`id`", #"it's "quoted""#, #"a"}"#, "../../outside",
  "line\nbreak",
]

private func cluster(_ value: String) -> Cluster {
  Cluster(name: "c", labels: ["v": value], context: "ctx", server: "https://api.example")
}

private func render(_ template: String, _ value: String, _ sink: TemplateSink) throws -> String {
  try ClusterTemplate.render(template, cluster: cluster(value), sink: sink)
}

private func refusal(_ template: String, _ value: String, _ sink: TemplateSink) -> String {
  do throws(Diagnostic) {
    return "rendered: "
      + (try ClusterTemplate.render(template, cluster: cluster(value), sink: sink))
  } catch {
    return error.message
  }
}

@Suite struct HostileInputTests {
  @Test func aShellCommandRefusesAPlaceholderThatIsNotMarked() {
    let source = SourceFile(path: "fleet.yaml", bytes: Array("run: echo {{ .labels.team }}\n".utf8))
    let problems = ClusterTemplate.check(
      "echo {{ .labels.team }}", mark: SourceMark(file: source, line: 1, column: 6), sink: .shell)
    #expect(
      problems.map(\.description) == [
        """
        fleet.yaml:1:11: error: '{{ .labels.team }}' in a shell command: commands receive values \
        as environment variables ("$FLEETWAVE_LABEL_TEAM"); to paste the value as one quoted \
        word write '{{ .labels.team | shellquote }}'
            run: echo {{ .labels.team }}
                      ^
        """
      ])
  }

  /// Each marked value reaches a real shell as exactly one word, byte for byte.
  @Test func shellquoteMakesEveryValueOneWordForARealShell() throws {
    for value in hostileValues {
      let command = try render("printf '%s' {{ .labels.v | shellquote }}", value, .shell)
      let result = try runProcess("/bin/sh", ["-c", command])
      #expect(result.status == 0)
      #expect(result.stdout == value)
    }
    #expect(try render("echo {{ .labels.v | shellquote }}", "it's", .shell) == #"echo 'it'\''s'"#)
    #expect(
      refusal("echo {{ .labels.v | shellquote }}", "a\0b", .shell)
        == #"'{{ .labels.v }}' value 'a\0b' holds NUL, which no shell word can"#)
  }

  @Test func shellquoteIsRefusedOutsideShellCommands() {
    #expect(
      refusal("http://h/{{ .labels.v | shellquote }}", "x", .url)
        == "'shellquote' is only for shell commands; here '{{ .labels.v }}' is escaped for a URL "
        + "already")
    #expect(
      refusal("echo {{ .labels.v | sh }}", "x", .shell)
        == "unknown template function 'sh' in '{{ .labels.v | sh }}'; the only one is "
        + "'shellquote', for shell commands")
  }

  @Test func urlValuesArePercentEncodedAsOneComponent() throws {
    let template = "http://probe.example/{{ .labels.v }}/healthz?team={{ .labels.v }}"
    let rendered = try hostileValues.map { try render(template, $0, .url) }
    #expect(
      rendered == [
        "http://probe.example/x%3B%20touch%20%2Ftmp%2FPWNED%3B%20echo/healthz?team=x%3B%20touch%20%2Ftmp%2FPWNED%3B%20echo",
        "http://probe.example/%24%28id%29/healthz?team=%24%28id%29",
        "http://probe.example/%60id%60/healthz?team=%60id%60",
        "http://probe.example/it%27s%20%22quoted%22/healthz?team=it%27s%20%22quoted%22",
        "http://probe.example/a%22%7D/healthz?team=a%22%7D",
        "http://probe.example/..%2F..%2Foutside/healthz?team=..%2F..%2Foutside",
        "http://probe.example/line%0Abreak/healthz?team=line%0Abreak",
      ])
    #expect(try render("http://h/{{ .labels.v }}/x", "..", .url) == "http://h/%2E%2E/x")
    #expect(try render("http://h/{{ .labels.v }}", "a\0b", .url) == "http://h/a%00b")
  }

  @Test func promQLValuesAreEscapedInsideMatchersAndRefusedElsewhere() throws {
    let query = #"sum(rate(errors{team="{{ .labels.v }}"}[5m]))"#
    let rendered = try hostileValues.map { try render(query, $0, .promql) }
    #expect(
      rendered == [
        #"sum(rate(errors{team="x; touch /tmp/PWNED; echo"}[5m]))"#,
        #"sum(rate(errors{team="$(id)"}[5m]))"#,
        #"sum(rate(errors{team="`id`"}[5m]))"#,
        #"sum(rate(errors{team="it's \"quoted\""}[5m]))"#,
        #"sum(rate(errors{team="a\"}"}[5m]))"#,
        #"sum(rate(errors{team="../../outside"}[5m]))"#,
        #"sum(rate(errors{team="line\nbreak"}[5m]))"#,
      ])
    #expect(
      try render("errors{team='{{ .labels.v }}'}", #"it's \"#, .promql)
        == #"errors{team='it\'s \\'}"#)
    #expect(try render(#"x{a="{{ .labels.v }}"}"#, "a\0b", .promql) == #"x{a="a\x00b"}"#)
    let outside =
      "'{{ .labels.v }}' in a PromQL query must sit inside a quoted label matcher value, as in "
      + #"{cluster="{{ .labels.v }}"}"#
    #expect(refusal("errors > {{ .labels.v }}", "1", .promql) == outside)
    #expect(refusal("errors{team=`{{ .labels.v }}`}", "1", .promql) == outside)
    // A quote the template closes itself ends the string: what follows is outside again.
    #expect(refusal(#"errors{a="\"", b={{ .labels.v }}}"#, "1", .promql) == outside)
  }

  @Test func pathValuesAreOneFileNameAtMost() throws {
    #expect(try render("values/env/{{ .labels.v }}.yaml", "prod", .path) == "values/env/prod.yaml")
    #expect(
      refusal("values/env/{{ .labels.v }}.yaml", "../../outside", .path)
        == "'{{ .labels.v }}' value '../../outside' is not a single file name: paths take no "
        + "'/', '.', '..' or NUL from values")
    #expect(
      refusal("values/{{ .labels.v }}/x.yaml", "..", .path)
        == "'{{ .labels.v }}' value '..' is not a single file name: paths take no '/', '.', '..' "
        + "or NUL from values")
  }

  @Test func contextsAndServersTakeNoControlCharactersAndServersAreURLs() throws {
    #expect(
      refusal("ctx-{{ .labels.v }}", "a\nb", .text)
        == #"'{{ .labels.v }}' value 'a\nb' holds a control character"#)
    #expect(
      try render("https://{{ .labels.v }}.example:6443", "a/b?c", .url)
        == "https://a%2Fb%3Fc.example:6443")
  }

  @Test func hostileLabelsAreRefusedByValidateAllAtOnce() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: """
            - name: a
              labels:
                semi: "x; touch /tmp/PWNED; echo"
                subst: "$(id)"
                tick: "`id`"
                quote: "it's"
                brace: 'a"}'
                dots: "../../outside"
                newline: "a\\nb"
                nul: "a\\0b"
                "bad key!": ok
          """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:8:14: error: label 'semi' value 'x; touch /tmp/PWNED; echo' holds ';'; only letters, digits, '-', '_' and '.' are allowed
                  semi: "x; touch /tmp/PWNED; echo"
                         ^
        FLEET/fleet.yaml:9:15: error: label 'subst' value '$(id)' holds '$'; only letters, digits, '-', '_' and '.' are allowed
                  subst: "$(id)"
                          ^
        FLEET/fleet.yaml:10:14: error: label 'tick' value '`id`' holds '`'; only letters, digits, '-', '_' and '.' are allowed
                  tick: "`id`"
                         ^
        FLEET/fleet.yaml:11:15: error: label 'quote' value 'it's' holds '''; only letters, digits, '-', '_' and '.' are allowed
                  quote: "it's"
                          ^
        FLEET/fleet.yaml:12:15: error: label 'brace' value 'a"}' holds '"'; only letters, digits, '-', '_' and '.' are allowed
                  brace: 'a"}'
                          ^
        FLEET/fleet.yaml:13:14: error: label 'dots' value '../../outside' holds '/'; only letters, digits, '-', '_' and '.' are allowed
                  dots: "../../outside"
                         ^
        FLEET/fleet.yaml:14:17: error: label 'newline' value 'a\\nb' holds '\\n'; only letters, digits, '-', '_' and '.' are allowed
                  newline: "a\\nb"
                            ^
        FLEET/fleet.yaml:15:13: error: label 'nul' value 'a\\0b' holds '\\0'; only letters, digits, '-', '_' and '.' are allowed
                  nul: "a\\0b"
                        ^
        FLEET/fleet.yaml:16:7: error: label key 'bad key!' holds ' '; only letters, digits, '-', '_' and '.' are allowed
                  "bad key!": ok
                  ^
        """)
  }

  @Test func labelKeysAndValuesFollowKubernetesSyntax() {
    #expect(LabelSyntax.problem(key: "app.kubernetes.io/part-of") == nil)
    #expect(LabelSyntax.problem(value: "") == nil)
    #expect(LabelSyntax.problem(value: "eu-west-1") == nil)
    #expect(
      LabelSyntax.problem(key: "Example.com/x")
        == "its prefix 'Example.com' holds 'E'; a DNS subdomain has only 'a-z', '0-9', '-' and '.'")
    #expect(
      LabelSyntax.problem(value: "-lead") == "must start and end with a letter or digit")
    #expect(
      LabelSyntax.problem(value: String(repeating: "a", count: 64))
        == "is longer than 63 characters")
  }

  @Test func valuesPathsMustStayInsideTheFleetDirectory() throws {
    let outside = try TemporaryDirectory("outside")
    defer { outside.remove() }
    try outside.write("secret.yaml", "replicas: 7\n")
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a, labels: {env: prod}}",
        """
        values:
          - values/base.yaml
          - ../up.yaml
          - values/link/secret.yaml
          - \(outside.path)/secret.yaml
        """),
      "values/base.yaml": "replicas: 1\n",
    ])
    defer { fixture.remove() }
    try FileManager.default.createSymbolicLink(
      atPath: fixture.path + "/values/link", withDestinationPath: outside.path)
    let root = FleetPaths.realPath(fixture.path)
    let realOutside = FleetPaths.realPath(outside.path)
    let parent = (root as NSString).deletingLastPathComponent
    // The absolute path is written in the fleet file itself: the author's choice, accepted.
    #expect(
      fixture.problems().replacingOccurrences(of: root, with: "FLEET") == """
        FLEET/fleet.yaml:9:5: error: values file '../up.yaml' resolves to '\(parent)/up.yaml', outside the fleet directory 'FLEET'
              - ../up.yaml
                ^
        FLEET/fleet.yaml:10:5: error: values file 'values/link/secret.yaml' resolves to '\(realOutside)/secret.yaml', outside the fleet directory 'FLEET'
              - values/link/secret.yaml
                ^
        """)
  }

  @Test func clusterFilesMustStayInsideTheFleetDirectory() throws {
    let outside = try TemporaryDirectory("outside-clusters")
    defer { outside.remove() }
    try outside.write("stolen.yaml", "name: stolen\n")
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: "  - {name: a}",
        """
        clustersFrom:
          - clusters/*.yaml
          - ../*-clusters*/stolen.yaml
          - \(outside.path)/stolen.yaml
        """),
      "clusters/b.yaml": "name: b\n",
    ])
    defer { fixture.remove() }
    try FileManager.default.createSymbolicLink(
      atPath: fixture.path + "/clusters/link.yaml",
      withDestinationPath: outside.path + "/stolen.yaml")
    let root = FleetPaths.realPath(fixture.path)
    let realOutside = FleetPaths.realPath(outside.path)
    let relativeOutside = "../" + (outside.path as NSString).lastPathComponent
    // The absolute pattern is written in the fleet file itself: the author's choice, accepted.
    #expect(
      fixture.problems().replacingOccurrences(of: root, with: "FLEET") == """
        FLEET/fleet.yaml:8:5: error: clustersFrom file 'clusters/link.yaml' resolves to '\(realOutside)/stolen.yaml', outside the fleet directory 'FLEET'
              - clusters/*.yaml
                ^
        FLEET/fleet.yaml:9:5: error: clustersFrom file '\(relativeOutside)/stolen.yaml' resolves to '\(realOutside)/stolen.yaml', outside the fleet directory 'FLEET'
              - ../*-clusters*/stolen.yaml
                ^
        """)
  }

  @Test func anEmptySelectorIsAnError() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": fleetFile(
        clusters: sixClusters,
        """
        rollout:
          canary: {selector: ""}
        """)
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:13:23: error: 'selector' is empty, which would select every cluster; name the labels to match
              canary: {selector: ""}
                                  ^
        """)
  }

  /// With the labels fixed, a real rollout: the gate receives each cluster's values through its
  /// environment and through a `shellquote` substitution, and both agree.
  @Test func aRolloutWithSafeLabelsHandsGatesTheIntendedValues() throws {
    let dir = try TemporaryDirectory("hostile-e2e")
    defer { dir.remove() }
    let marks = dir.file("gates.txt")
    try dir.write(
      "fleet/fleet.yaml",
      """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: safe}
      release:
        name: checkout
        namespace: shop
        driver: exec
        version: 1.4.2
        exec: {upgrade: 'true', rollback: 'true'}
      clusters:
        - {name: eu-1, labels: {canary: "true", team: pay.ments_eu-1}}
        - {name: us-1, labels: {team: search}}
      rollout:
        canary: {selector: canary=true}
        waves: [{name: rest}]
        health:
          - command: >-
              echo "$FLEETWAVE_CLUSTER $FLEETWAVE_LABEL_TEAM $FLEETWAVE_RUN"
              {{ .labels.team | shellquote }} >> \(marks)
      """)
    let result = try fleetwave(["rollout", dir.file("fleet"), "--run", "safe-1"])
    #expect(result.status == 0)
    #expect(
      try String(contentsOfFile: marks, encoding: .utf8)
        == "eu-1 pay.ments_eu-1 safe-1 pay.ments_eu-1\nus-1 search safe-1 search\n")
  }
}
