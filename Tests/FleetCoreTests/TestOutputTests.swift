// How a release test's output is kept for reports: its tail, whole lines, credentials hidden.
import FleetCore
import Testing

@Suite struct TestOutputTests {
  @Test func credentialsAreHiddenAndTheSchemeOfAnAuthorizationKept() {
    let log = """
      connecting to db as shop password=hunter2 sslmode=require
      DB_PASSWORD: "s3cret"
      Authorization: Bearer eyJhbGciOi.x.y
      api_key='k-123', retry=3
      all 3 checks passed
      """
    #expect(
      TestOutput.bounded(log) == """
        connecting to db as shop password=<redacted> sslmode=require
        DB_PASSWORD: "<redacted>"
        Authorization: Bearer <redacted>
        api_key='<redacted>', retry=3
        all 3 checks passed
        """)
  }

  @Test func longOutputKeepsItsLastWholeLinesAndSaysHowMuchWasCut() {
    let log = (1...20).map { "line \($0) of the smoke test" }.joined(separator: "\n")
    #expect(
      TestOutput.bounded(log, limit: 60) == """
        [... 459 bytes cut]
        line 19 of the smoke test
        line 20 of the smoke test
        """)
  }
}
