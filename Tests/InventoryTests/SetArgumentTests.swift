// `--set` parsing edge cases, against what Helm's strvals parser produces.
import FleetCore
import Inventory
import Testing

@Suite struct SetArgumentTests {
  func set(_ arguments: String..., kind: SetArgument.Kind = .typed, into base: Value = [:])
    throws -> Value
  {
    var mapping = base.mapping ?? Mapping()
    for argument in arguments { try SetArgument.apply(argument, kind: kind, to: &mapping) }
    return .mapping(mapping)
  }

  func failure(_ argument: String, into base: Value = [:]) -> String {
    do {
      _ = try set(argument, into: base)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func dottedKeysAndSeveralAssignments() throws {
    #expect(try set("a.b.c=1,d=x") == ["a": ["b": ["c": 1]], "d": "x"])
    #expect(try set("a.b=1", "a.c=2") == ["a": ["b": 1, "c": 2]])
    #expect(try set("a=1,", "b=2") == ["a": 1, "b": 2])
  }

  @Test func valuesAreTypedAsHelmTypesThem() throws {
    #expect(
      try set("t=true,T=TRUE,f=False,n=null,N=NULL,z=0,i=42,neg=-7,plus=+5,oct=007,f1=1.5,e=1e3")
        == [
          "t": true, "T": true, "f": false, "n": nil, "N": nil, "z": 0, "i": 42, "neg": -7,
          "plus": 5, "oct": "007", "f1": "1.5", "e": "1e3",
        ])
    #expect(
      try set("max=9223372036854775807,over=9223372036854775808,yes=yes,empty=")
        == ["max": .int(Int64.max), "over": "9223372036854775808", "yes": "yes", "empty": ""])
  }

  @Test func setStringKeepsEverythingText() throws {
    #expect(
      try set("a=true,b=null,c=0,d={1,x}", kind: .string)
        == ["a": "true", "b": "null", "c": "0", "d": ["1", "x"]])
  }

  @Test func listIndexesExtendWithNullsAndNest() throws {
    #expect(try set("l[2]=x") == ["l": [nil, nil, "x"]])
    #expect(try set("l[0].name=a,l[1].name=b") == ["l": [["name": "a"], ["name": "b"]]])
    #expect(try set("l[1][0]=q") == ["l": [nil, ["q"]]])
    #expect(try set("l[1]=b", into: ["l": ["a", "z", "c"]]) == ["l": ["a", "b", "c"]])
    #expect(try set("a.l[0].b.c=1") == ["a": ["l": [["b": ["c": 1]]]]])
    // An index set out of order turns a scalar item into a map, as Helm does.
    #expect(try set("l[0].k=v", into: ["l": ["scalar"]]) == ["l": [["k": "v"]]])
  }

  @Test func escapedDotsCommasAndEquals() throws {
    #expect(try set(#"a\.b=c"#) == ["a.b": "c"])
    #expect(try set(#"ann.kubernetes\.io/name=x"#) == ["ann": ["kubernetes.io/name": "x"]])
    #expect(try set(#"v=a\,b,w=c\=d"#) == ["v": "a,b", "w": "c=d"])
  }

  @Test func braceListsAreTypedItemByItem() throws {
    #expect(try set("l={1,true,x,null}") == ["l": [1, true, "x", nil]])
    #expect(try set("l={a,b},m=1") == ["l": ["a", "b"], "m": 1])
    #expect(try set("l={}") == ["l": [""]])
    #expect(try set("l[0]={x,y}") == ["l": [["x", "y"]]])
  }

  @Test func setsOverwriteAndReachIntoExistingValues() throws {
    let base: Value = ["image": ["repository": "r", "tag": "1"], "list": [1, 2]]
    #expect(
      try set("image.tag=2,list={3}", into: base)
        == ["image": ["repository": "r", "tag": 2], "list": [3]])
    #expect(try set("image=null", into: base) == ["image": nil, "list": [1, 2]])
  }

  @Test func quietCasesHelmAccepts() throws {
    #expect(try set("") == [:])
    #expect(try set("a.") == [:])
    #expect(try set("=x") == [:])
  }

  @Test func errorsPointIntoTheArgument() {
    #expect(
      failure("a.b") == """
        --set:1:3: error: key "b" has no value
            a.b
              ^
        """)
    #expect(
      failure("a=1,b") == """
        --set:1:5: error: key "b" has no value
            a=1,b
                ^
        """)
    #expect(
      failure("a,b=1") == """
        --set:1:1: error: key "a" has no value (cannot end with ,)
            a,b=1
            ^
        """)
    #expect(
      failure("l[x]=1") == """
        --set:1:3: error: error parsing index: 'x' is not a number
            l[x]=1
              ^
        """)
    #expect(
      failure("l[-1]=1") == """
        --set:1:5: error: negative -1 index not allowed
            l[-1]=1
                ^
        """)
    #expect(
      failure("l[65537]=1") == """
        --set:1:9: error: index of 65537 is greater than maximum supported index of 65536
            l[65537]=1
                    ^
        """)
    #expect(
      failure("l={a,b") == """
        --set:1:3: error: list must terminate with '}'
            l={a,b
              ^
        """)
    #expect(
      failure("l[0]x=1") == """
        --set:1:5: error: unexpected data at end of array index: "x"
            l[0]x=1
                ^
        """)
    #expect(
      failure("image.tag=2", into: ["image": "nginx"]) == """
        --set:1:1: error: 'image' is a string, not a map, so it cannot take 'image.…'
            image.tag=2
            ^
        """)
    #expect(
      failure("a[0]=1", into: ["a": ["b": 1]]) == """
        --set:1:1: error: 'a' is a mapping, not a list, so it cannot take an index
            a[0]=1
            ^
        """)
    let deep = Array(repeating: "k", count: 32).joined(separator: ".") + "=1"
    #expect(
      failure(deep).hasPrefix(
        "--set:1:61: error: value name nested level is greater than maximum supported nested"
          + " level of 30"))
  }
}
