import FleetwaveTestSupport
import Testing

@Suite struct RootCommandTests {
  @Test func versionPrintsTheVersion() throws {
    let result = try fleetwave(["--version"])
    #expect(result.status == 0)
    #expect(result.stdout == "0.1.0 (development build)\n")
  }

  @Test func helpDescribesTheTool() throws {
    let result = try fleetwave(["--help"])
    #expect(result.status == 0)
    #expect(
      result.stdout.hasPrefix(
        "OVERVIEW: Roll one release out across a fleet of Kubernetes clusters, in waves."))
  }

  @Test func unknownVerbIsAUsageError() throws {
    let result = try fleetwave(["deploy-everything"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("Error: Unexpected argument 'deploy-everything'"))
  }
}
