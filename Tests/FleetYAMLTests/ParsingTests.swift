import FleetCore
import FleetYAML
import Testing

@Suite struct ScalarResolutionTests {
  /// The table checked against `helm template` printing `toJson .Values` (helm v4.1.4).
  @Test(arguments: [
    ("yes", Value.bool(true)), ("Yes", true), ("YES", true), ("y", true), ("Y", true),
    ("on", true), ("ON", true), ("true", true), ("True", true), ("no", false), ("n", false),
    ("off", false), ("False", false), ("~", nil), ("null", nil), ("Null", nil), ("", nil),
    ("0777", 511), ("0o777", 511), ("0x1F", 31), ("0b101", 5), ("1_000", 1000), ("42", 42),
    ("-17", -17), ("+5", 5), ("1e3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("1.", 1.0),
    ("9007199254740993", .double(9_007_199_254_740_992)),
    ("12345678901234567890", .double(12_345_678_901_234_567_168)),
    ("2001-12-14", "2001-12-14"), ("1:30", "1:30"), ("tRuE", "tRuE"), ("09", 9.0),
    ("eu-west-1", "eu-west-1"), ("-x", "-x"), (".", "."), ("0", 0),
  ])
  func plainScalarsResolveAsHelmDoes(text: String, expected: Value) throws {
    let value = try YAML.parse("k: \(text)\n")
    #expect(value["k"] == expected)
    if case .int = expected.kind { #expect(value["k"]?.int != nil) }
  }

  @Test func quotedScalarsAreAlwaysStrings() throws {
    let value = try YAML.parse("a: \"true\"\nb: '0777'\nc: \"\"\n")
    #expect(value == ["a": "true", "b": "0777", "c": ""])
  }

  @Test func keysBecomeStringsAsInHelm() throws {
    let value = try YAML.parse("on: a\n1: b\n~: c\n1.50: d\nn: e\n")
    #expect(value.mapping?.keys == ["true", "1", "null", "1.5", "false"])
  }

  @Test func infinityAndNaNResolveToNonFiniteNumbers() throws {
    let value = try YAML.parse("a: .inf\nb: -.Inf\nc: .NaN\n")
    #expect(value["a"]?.double == .infinity)
    #expect(value["b"]?.double == -.infinity)
    #expect(value["c"]?.double?.isNaN == true)
  }
}

@Suite struct StructureTests {
  @Test func mappingsKeepDocumentOrderAndMarks() throws {
    let value = try YAML.parse("zeta: 1\nalpha:\n  - x\n  - {b: 2, a: 1}\n", path: "f.yaml")
    #expect(value.mapping?.keys == ["zeta", "alpha"])
    #expect(value["alpha"]?.sequence?[1].mapping?.keys == ["b", "a"])
    #expect(value["alpha"]?.mark?.description == "f.yaml:3:3")
    #expect(value.mapping?.entry("alpha")?.keyMark?.description == "f.yaml:2:1")
    #expect(value["alpha"]?.sequence?[1]["a"]?.mark?.description == "f.yaml:4:15")
  }

  @Test func anchorsAndAliases() throws {
    let value = try YAML.parse("base: &b {x: 1, z: [a, b]}\ncopy: *b\nlist: [*b, *b]\n")
    #expect(value["copy"] == ["x": 1, "z": ["a", "b"]])
    #expect(value["list"]?.sequence?.count == 2)
    // An alias keeps the marks of what it refers to, so origins point at the definition.
    #expect(value["copy"]?["x"]?.mark?.line == 1)
  }

  @Test func mergeKeysExplicitKeysWinAndEarlierSourcesWin() throws {
    let text = """
      a: &a {x: 1, w: 1, shared: a}
      b: &b {w: 2, z: 2, shared: b}
      m:
        k: first
        <<: [*a, *b]
        w: own
      single:
        <<: *b
      """
    let value = try YAML.parse(text)
    #expect(value["m"] == ["k": "first", "x": 1, "w": "own", "shared": "a", "z": 2])
    #expect(value["m"]?.mapping?.keys == ["k", "x", "shared", "z", "w"])
    #expect(value["single"] == ["w": 2, "z": 2, "shared": "b"])
  }

  @Test func quotedMergeKeyIsAnOrdinaryKey() throws {
    let value = try YAML.parse("\"<<\": 1\n")
    #expect(value == ["<<": 1])
  }

  @Test func multiDocumentStreams() throws {
    let docs = try YAML.parseStream(
      SourceFile(path: "s.yaml", text: "a: 1\n---\nb: 2\n---\n---\n- x\n"))
    #expect(docs.count == 4)
    #expect(docs[0] == ["a": 1])
    #expect(docs[1] == ["b": 2])
    #expect(docs[2] == nil)
    #expect(docs[3] == ["x"])
    #expect(docs[1].mark?.line == 3)
  }

  @Test func anchorsDoNotCrossDocuments() {
    #expect {
      try YAML.parseStream(SourceFile(path: "s.yaml", text: "a: &x 1\n---\nb: *x\n"))
    } throws: { error in
      (error as? Diagnostic)?.headline == "s.yaml:3:4: error: alias '*x' refers to an unknown anchor"
    }
  }

  @Test func explicitTags() throws {
    let value = try YAML.parse(
      "a: !!str 123\nb: !!int \"7\"\nc: !!float 1\nd: !!bool yes\ne: !!null ~\nf: !!binary aGk=\n")
    #expect(value == ["a": "123", "b": 7, "c": 1.0, "d": true, "e": nil, "f": "aGk="])
    #expect(value["c"]?.int == 1)
    if case .double = value["c"]?.kind {} else { Issue.record("!!float must give a double") }
  }

  @Test func emptyInputIsNull() throws {
    #expect(try YAML.parse("") == nil)
    #expect(try YAML.parse("# only a comment\n") == nil)
  }
}

@Suite struct ErrorTests {
  func failure(_ text: String, limits: YAML.Limits = .default) -> String? {
    do {
      _ = try YAML.parseStream(SourceFile(path: "values.yaml", text: text), limits: limits)
      return nil
    } catch {
      return error.description
    }
  }

  @Test func duplicateKeyShowsBothPlaces() {
    #expect(
      failure("image:\n  tag: v1\n  tag: v2\n") == """
        values.yaml:3:3: error: duplicate key 'tag' in mapping
              tag: v2
              ^
        values.yaml:2:3: note: 'tag' was first defined here
              tag: v1
              ^
        """)
  }

  @Test func duplicateKeyInLargeMapping() {
    var text = ""
    for i in 0..<40 { text += "k\(i): \(i)\n" }
    text += "k7: again\n"
    #expect(failure(text)?.hasPrefix("values.yaml:41:1: error: duplicate key 'k7' in mapping") == true)
  }

  @Test func tabsAsIndentation() {
    #expect(
      failure("a:\n\tb: 1\n") == """
        values.yaml:2:1: error: found a tab character where indentation is expected; YAML allows only spaces
            \tb: 1
            ^
        """)
  }

  @Test func syntaxErrorsCarryLibyamlsProblemAndContext() {
    #expect(
      failure("a: 1\nb: [1, 2\nc: 3\n")?.components(separatedBy: "\n").first
        == "values.yaml:3:2: error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 4)"
    )
    #expect(
      failure("a: b: c\n")?.components(separatedBy: "\n").first
        == "values.yaml:1:5: error: mapping values are not allowed in this context")
  }

  @Test func invalidUTF8IsLocated() {
    let bytes: [UInt8] = Array("ok: 1\nbad: ".utf8) + [0xC3, 0x28] + Array("\n".utf8)
    do {
      _ = try YAML.parse(SourceFile(path: "values.yaml", bytes: bytes))
      Issue.record("invalid UTF-8 must fail")
    } catch {
      #expect(
        error.headline
          == "values.yaml:2:7: error: invalid UTF-8: invalid trailing UTF-8 octet (byte 0x28)")
    }
  }

  @Test func unknownAliasAndUnsupportedTag() {
    #expect(
      failure("a: *nope\n")?.components(separatedBy: "\n").first
        == "values.yaml:1:4: error: alias '*nope' refers to an unknown anchor")
    #expect(
      failure("a: !Ref x\n")?.components(separatedBy: "\n").first
        == "values.yaml:1:4: error: unsupported tag '!Ref'")
    #expect(
      failure("a: !!int x\n")?.components(separatedBy: "\n").first
        == "values.yaml:1:4: error: 'x' is not an integer for tag !!int")
  }

  @Test func complexKeysAreRefused() {
    #expect(
      failure("? [a, b]\n: 1\n")?.components(separatedBy: "\n").first
        == "values.yaml:1:3: error: a mapping or sequence cannot be used as a mapping key")
  }

  @Test func singleDocumentExpected() {
    #expect(throws: Diagnostic.self) { try YAML.parse("a: 1\n---\nb: 2\n") }
  }

  @Test func billionLaughsFailsFastWithBoundedWork() {
    var text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in 1...9 {
      let refs = Array(repeating: "*l\(i - 1)", count: 10).joined(separator: ", ")
      text += "l\(i): &l\(i) [\(refs)]\n"
    }
    let message = failure(text)
    #expect(
      message?.components(separatedBy: "\n").first
        == "values.yaml:7:45: error: document expands to more than 10000000 nodes through aliases (limit on alias expansion)"
    )
  }

  @Test func deepNestingIsRefused() {
    let text = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
    #expect(
      failure(text)?.components(separatedBy: "\n").first
        == "values.yaml:1:257: error: nesting deeper than 256 levels")
  }

  @Test func oversizedInputIsRefused() {
    let limits = YAML.Limits(maxBytes: 10)
    #expect(
      failure("a: 123456789\n", limits: limits)?.components(separatedBy: "\n").first
        == "values.yaml:1:1: error: input is 13 bytes, more than the limit of 10")
  }

  @Test func missingFileNamesThePath() {
    #expect {
      try YAML.load(path: "/nonexistent/values.yaml")
    } throws: { error in
      (error as? Diagnostic)?.headline == "error: /nonexistent/values.yaml: no such file"
    }
  }
}
