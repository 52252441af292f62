// Run ids two machines cannot both pick, and the identities processes write into leases.
import FleetCore
import Testing

@Suite struct RunInstanceTests {
  @Test func aDefaultRunIDEndsInFourRandomCharacters() {
    let ids = (0..<50).map { _ in RunInstance.runID(fleet: "demo", stamp: "20261128T020053") }
    for id in ids {
      #expect(id.hasPrefix("demo-20261128T020053-"))
      let suffix = id.dropFirst("demo-20261128T020053-".count)
      #expect(suffix.count == 4)
      #expect(suffix.allSatisfy { $0.isNumber || ("a"..."z").contains($0) })
    }
    // Two runs started in the same second: 36^4 suffixes, so 50 ids are all but surely distinct.
    #expect(Set(ids).count >= 49)
  }

  @Test func aProcessSucceedsItsPredecessorsAndTheBareRunIDOnly() {
    let instance = RunInstance(run: "demo-1", token: "c3", predecessors: ["a1", "b2", "c3"])
    #expect(instance.identity == "demo-1/c3")
    #expect(instance.succeeds == ["demo-1/a1", "demo-1/b2", "demo-1"])
    let token = RunInstance.newToken()
    #expect(token.count == 6)
    #expect(RunInstance(run: "demo-1").succeeds == ["demo-1"])
  }
}
