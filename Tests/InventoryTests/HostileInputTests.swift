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

  /// A fleet with one cluster per attack, named after it, whose own `field` (`context` or
  /// `server`: free text, not labels) holds the hostile value; `extra` is more fleet file.
  private func hostileFleet(
    _ field: String, _ extra: String, files: [String: String] = [:],
    values: [HostileValue] = HostileValue.all
  ) throws -> FleetFixture {
    let clusters = values.map { hostile in
      var quoted = ""
      for scalar in hostile.value.unicodeScalars {
        switch scalar {
        case "\\": quoted += "\\\\"
        case "\"": quoted += "\\\""
        case "\n": quoted += "\\n"
        case "\0": quoted += "\\0"
        default: quoted.unicodeScalars.append(scalar)
        }
      }
      return "  - {name: \(hostile.attack), \(field): \"\(quoted)\"}"
    }.joined(separator: "\n")
    return try FleetFixture(
      files.merging(["fleet.yaml": fleetFile(clusters: clusters, extra)]) { $1 })
  }

  /// The server template is a URL: each value percent-encoded as one component.
  @Test func theServerTemplateEncodesEveryValue() throws {
    let fixture = try hostileFleet(
      "context",
      """
      defaults:
        server: "https://{{ .context }}.example:6443/{{ .context }}"
      """)
    defer { fixture.remove() }
    let servers = try fixture.load().fleet.clusters.map { "\($0.name): \($0.server ?? "none")" }
    #expect(
      servers == [
        "semicolon: https://x%3B%20touch%20%2Ftmp%2FPWNED%3B%20echo.example:6443/x%3B%20touch%20%2Ftmp%2FPWNED%3B%20echo",
        "subst: https://%24%28id%29.example:6443/%24%28id%29",
        "backquote: https://%60id%60.example:6443/%60id%60",
        "quotes: https://it%27s%20%22q%22.example:6443/it%27s%20%22q%22",
        "brace: https://a%22%7D.example:6443/a%22%7D",
        "dots: https://..%2F..%2Foutside.example:6443/..%2F..%2Foutside",
        "newline: https://line%0Abreak.example:6443/line%0Abreak",
        "nul: https://a%00b.example:6443/a%00b",
      ])
  }

  /// The context template is a kubeconfig name, never a shell word or a path: values pass as
  /// they are, but a control character is refused where the template is.
  @Test func theContextTemplateRefusesControlCharacters() throws {
    let fixture = try hostileFleet(
      "server",
      """
      defaults:
        context: "ctx-{{ .server }}"
      """)
    defer { fixture.remove() }
    #expect(
      fixture.problems() == #"""
        FLEET/fleet.yaml:15:17: error: '{{ .server }}' value 'line\nbreak' holds a control character
              context: "ctx-{{ .server }}"
                            ^
        FLEET/fleet.yaml:15:17: error: '{{ .server }}' value 'a\0b' holds a control character
              context: "ctx-{{ .server }}"
                            ^
        """#)
    // The others are kubeconfig context names, used as they are.
    let printable = try hostileFleet(
      "server", "defaults: {context: \"ctx-{{ .server }}\"}",
      values: HostileValue.all.filter { !["newline", "nul"].contains($0.attack) })
    defer { printable.remove() }
    #expect(
      try printable.load().fleet.clusters.map { "\($0.name): \($0.context ?? "none")" } == [
        "semicolon: ctx-x; touch /tmp/PWNED; echo", "subst: ctx-$(id)", "backquote: ctx-`id`",
        #"quotes: ctx-it's "q""#, #"brace: ctx-a"}"#, "dots: ctx-../../outside",
      ])
  }

  /// A values path takes each value as one file name inside the fleet directory: `/`, `..` and
  /// NUL are refused; anything else names a file in the layer's own directory.
  @Test func theValuesPathTakesEachValueAsOneFileName() throws {
    let fixture = try hostileFleet(
      "context",
      """
      values:
        - values/{{ .context }}.yaml
      """,
      files: [
        "values/$(id).yaml": "replicas: 2\n",
        "values/`id`.yaml": "replicas: 3\n",
        #"values/it's "q".yaml"#: "replicas: 4\n",
        #"values/a"}.yaml"#: "replicas: 5\n",
        "values/line\nbreak.yaml": "replicas: 6\n",
      ])
    defer { fixture.remove() }
    // The five legal names found their files (no "does not exist"): nothing was expanded.
    #expect(
      fixture.problems() == #"""
        FLEET/fleet.yaml:15:12: error: '{{ .context }}' value 'x; touch /tmp/PWNED; echo' is not a single file name: paths take no '/', '.', '..' or NUL from values
              - values/{{ .context }}.yaml
                       ^
        FLEET/fleet.yaml:15:12: error: '{{ .context }}' value '../../outside' is not a single file name: paths take no '/', '.', '..' or NUL from values
              - values/{{ .context }}.yaml
                       ^
        FLEET/fleet.yaml:15:12: error: '{{ .context }}' value 'a\0b' is not a single file name: paths take no '/', '.', '..' or NUL from values
              - values/{{ .context }}.yaml
                       ^
        """#)
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

  /// Each field is checked for its own sink at validate, all problems at once: shell commands
  /// (exec driver and command gates) refuse unmarked placeholders, a URL refuses `shellquote`,
  /// a PromQL query refuses a value outside a quoted matcher.
  @Test func everySinkRefusesAtValidateWhatItCannotEscape() throws {
    let fixture = try FleetFixture([
      "fleet.yaml": """
      apiVersion: fleetwave/v1
      kind: Fleet
      metadata: {name: sinks}
      release:
        name: checkout
        driver: exec
        exec:
          upgrade: deploy --team {{ .labels.team }}
          rollback: undo {{ .labels.team | shellquote }}
          revision: echo $(cat /r/{{ .name }})
      defaults:
        context: "ctx-{{ .labels.team }}"
        server: "https://{{ .labels.team }}.example:6443/{{ .name }}"
      values:
        - values/{{ .labels.team }}.yaml
      clusters:
        - {name: a, labels: {team: pay}}
      rollout:
        health:
          - command: check {{ .labels.team }}
          - http: {url: "http://h/{{ .labels.team | shellquote }}"}
          - prometheus: {url: "http://p:9090", query: "errors > {{ .labels.team }}", failIf: "> 1"}
      """,
      "values/pay.yaml": "replicas: 1\n",
    ])
    defer { fixture.remove() }
    #expect(
      fixture.problems() == """
        FLEET/fleet.yaml:8:28: error: '{{ .labels.team }}' in a shell command: commands receive values as environment variables ("$FLEETWAVE_LABEL_TEAM"); to paste the value as one quoted word write '{{ .labels.team | shellquote }}'
                upgrade: deploy --team {{ .labels.team }}
                                       ^
        FLEET/fleet.yaml:10:29: error: '{{ .name }}' in a shell command: commands receive values as environment variables ("$FLEETWAVE_CLUSTER"); to paste the value as one quoted word write '{{ .name | shellquote }}'
                revision: echo $(cat /r/{{ .name }})
                                        ^
        FLEET/fleet.yaml:20:22: error: '{{ .labels.team }}' in a shell command: commands receive values as environment variables ("$FLEETWAVE_LABEL_TEAM"); to paste the value as one quoted word write '{{ .labels.team | shellquote }}'
                - command: check {{ .labels.team }}
                                 ^
        FLEET/fleet.yaml:21:29: error: 'shellquote' is only for shell commands; here '{{ .labels.team }}' is escaped for a URL already
                - http: {url: "http://h/{{ .labels.team | shellquote }}"}
                                        ^
        FLEET/fleet.yaml:22:59: error: '{{ .labels.team }}' in a PromQL query must sit inside a quoted label matcher value, as in {cluster="{{ .labels.team }}"}
                - prometheus: {url: "http://p:9090", query: "errors > {{ .labels.team }}", failIf: "> 1"}
                                                                      ^
        """)
  }

  /// End to end through the real binary: a fleet whose labels try every attack is refused by
  /// `validate`, every problem at once; with the labels fixed, a rollout hands the exec driver,
  /// a command gate (with the run's KUBECONFIG), an HTTP gate and a Prometheus gate exactly
  /// the intended values. The gates' server is a real one on 127.0.0.1 recording each request.
  @Test func hostileLabelsAreRefusedAndSafeOnesReachEveryGateIntact() throws {
    let dir = try TemporaryDirectory("hostile-e2e")
    defer { dir.remove() }
    let deploys = dir.file("deploys.txt")
    let marks = dir.file("gates.txt")
    let requests = dir.file("requests.txt")
    let kubeconfig = try dir.write("kubeconfig", "apiVersion: v1\nkind: Config\n")
    // Tethered, so the server dies with SIGKILL when the test ends or dies: a Process started
    // from a test inherits the test thread's signal mask, in which SIGTERM is blocked, so
    // Process.terminate() never stopped it and waitUntilExit() waited for ever.
    let server = try TetheredProcess(
      "/usr/bin/python3",
      [
        "-c",
        """
        import http.server, os, sys
        class Recorder(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with open(sys.argv[2], "a") as f: f.write(self.path + "\\n")
                body = b"ok"
                if self.path.startswith("/api/v1/query?"):
                    body = b'{"status":"success","data":{"resultType":"scalar","result":[0,"0"]}}'
                self.send_response(200); self.end_headers(); self.wfile.write(body)
            def log_message(self, *args): pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
        with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(server.server_address[1]))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        server.serve_forever()
        """,
        dir.file("port"), requests,
      ])
    defer { server.stop() }
    #expect(eventually { FileManager.default.fileExists(atPath: dir.file("port")) })
    let port = try String(contentsOfFile: dir.file("port"), encoding: .utf8)
    func writeFleet(_ clusters: String) throws {
      try dir.write(
        "fleet/fleet.yaml",
        """
        apiVersion: fleetwave/v1
        kind: Fleet
        metadata: {name: hostile}
        release:
          name: checkout
          namespace: shop
          driver: exec
          version: 1.4.2
          exec:
            upgrade: >-
              echo "$FLEETWAVE_CLUSTER $FLEETWAVE_LABEL_TEAM" {{ .labels.team | shellquote }}
              >> \(deploys)
            rollback: 'true'
        defaults:
          context: "ctx-{{ .labels.team }}"
          server: "https://{{ .labels.team }}.example:6443"
        values:
          - values/{{ .labels.team }}.yaml
        clusters:
        \(clusters)
        rollout:
          canary: {selector: canary=true}
          waves: [{name: rest}]
          health:
            - command: >-
                echo "$FLEETWAVE_CLUSTER $FLEETWAVE_LABEL_TEAM $FLEETWAVE_RUN $KUBECONFIG"
                {{ .labels.team | shellquote }} >> \(marks)
            - http:
                url: "http://127.0.0.1:\(port)/health/{{ .labels.team }}?cluster={{ .name }}&v={{ .version }}"
            - prometheus:
                url: "http://127.0.0.1:\(port)"
                query: 'sum(errors{team="{{ .labels.team }}",cluster="{{ .name }}"})'
                failIf: "> 1"
                count: 1
        """)
    }
    try writeFleet(
      #"""
        - {name: semi, labels: {canary: "true", team: "x; touch /tmp/PWNED; echo"}}
        - {name: subst, labels: {team: "$(id)"}}
        - {name: tick, labels: {team: "`id`"}}
        - {name: quote, labels: {team: "it's \"q\""}}
        - {name: brace, labels: {team: 'a"}'}}
        - {name: dots, labels: {team: "../../outside"}}
        - {name: newline, labels: {team: "a\nb"}}
        - {name: nul, labels: {team: "a\0b"}}
      """#)
    let refused = try fleetwave(["validate", dir.file("fleet")])
    #expect(refused.status == 1)
    #expect(refused.stdout == "")
    #expect(
      refused.stderr.replacingOccurrences(of: dir.path, with: "DIR") == #"""
        DIR/fleet/fleet.yaml:20:50: error: label 'team' value 'x; touch /tmp/PWNED; echo' holds ';'; only letters, digits, '-', '_' and '.' are allowed
              - {name: semi, labels: {canary: "true", team: "x; touch /tmp/PWNED; echo"}}
                                                             ^
        DIR/fleet/fleet.yaml:21:35: error: label 'team' value '$(id)' holds '$'; only letters, digits, '-', '_' and '.' are allowed
              - {name: subst, labels: {team: "$(id)"}}
                                              ^
        DIR/fleet/fleet.yaml:22:34: error: label 'team' value '`id`' holds '`'; only letters, digits, '-', '_' and '.' are allowed
              - {name: tick, labels: {team: "`id`"}}
                                             ^
        DIR/fleet/fleet.yaml:23:35: error: label 'team' value 'it's "q"' holds '''; only letters, digits, '-', '_' and '.' are allowed
              - {name: quote, labels: {team: "it's \"q\""}}
                                              ^
        DIR/fleet/fleet.yaml:24:35: error: label 'team' value 'a"}' holds '"'; only letters, digits, '-', '_' and '.' are allowed
              - {name: brace, labels: {team: 'a"}'}}
                                              ^
        DIR/fleet/fleet.yaml:25:34: error: label 'team' value '../../outside' holds '/'; only letters, digits, '-', '_' and '.' are allowed
              - {name: dots, labels: {team: "../../outside"}}
                                             ^
        DIR/fleet/fleet.yaml:26:37: error: label 'team' value 'a\nb' holds '\n'; only letters, digits, '-', '_' and '.' are allowed
              - {name: newline, labels: {team: "a\nb"}}
                                                ^
        DIR/fleet/fleet.yaml:27:33: error: label 'team' value 'a\0b' holds '\0'; only letters, digits, '-', '_' and '.' are allowed
              - {name: nul, labels: {team: "a\0b"}}
                                            ^
        DIR/fleet: 8 errors

        """#)
    #expect(!FileManager.default.fileExists(atPath: "/tmp/PWNED"))

    try writeFleet(
      """
        - {name: eu-1, labels: {canary: "true", team: pay.ments_eu-1}}
        - {name: us-1, labels: {team: search}}
      """)
    try dir.write("fleet/values/pay.ments_eu-1.yaml", "replicas: 2\n")
    try dir.write("fleet/values/search.yaml", "replicas: 3\n")
    let result = try fleetwave([
      "rollout", dir.file("fleet"), "--run", "safe-1", "--kubeconfig", kubeconfig,
    ])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(
      try String(contentsOfFile: deploys, encoding: .utf8)
        == "eu-1 pay.ments_eu-1 pay.ments_eu-1\nus-1 search search\n")
    #expect(
      try String(contentsOfFile: marks, encoding: .utf8)
        == "eu-1 pay.ments_eu-1 safe-1 \(kubeconfig) pay.ments_eu-1\n"
        + "us-1 search safe-1 \(kubeconfig) search\n")
    // As the servers read them: the query parameter decoded, the path as sent.
    let received = try String(contentsOfFile: requests, encoding: .utf8)
      .split(separator: "\n").map { $0.removingPercentEncoding ?? "undecodable: \($0)" }.sorted()
    #expect(
      received == [
        #"/api/v1/query?query=sum(errors{team="pay.ments_eu-1",cluster="eu-1"})"#,
        #"/api/v1/query?query=sum(errors{team="search",cluster="us-1"})"#,
        "/health/pay.ments_eu-1?cluster=eu-1&v=1.4.2",
        "/health/search?cluster=us-1&v=1.4.2",
      ])
  }
}
