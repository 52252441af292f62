// The chart `kubeVersion` constraints preflight checks server versions against, read as helm
// reads them (Masterminds semver v3).
import Engine
import Testing

@Suite struct SemverRangeTests {
  func satisfies(_ constraint: String, _ version: String) throws -> Bool {
    try SemverRange(constraint).isSatisfied(by: try #require(SemverVersion(version)))
  }

  @Test(arguments: [
    (">=1.25.0-0", "v1.32.0-fleet-sim", true),
    (">=1.25.0", "v1.32.0-fleet-sim", false),
    (">=1.25.0", "v1.32.0", true),
    (">=1.33.0-0", "v1.32.0-fleet-sim", false),
    ("^1.28", "v1.32.3", true),
    ("^1.28", "v2.0.0", false),
    ("^1.28", "v1.27.9", false),
    ("^0.2.3", "0.2.9", true),
    ("^0.2.3", "0.3.0", false),
    ("~1.29", "v1.29.7", true),
    ("~1.29", "v1.30.0", false),
    ("~1", "v1.30.0", true),
    ("1.2.x", "1.2.9", true),
    ("1.2.x", "1.3.0", false),
    ("1.2 - 1.4", "1.4.9", true),
    ("1.2 - 1.4", "1.5.0", false),
    ("1.2 - 1.4.5", "1.4.6", false),
    (">= 1.20, < 1.30", "v1.29.2", true),
    (">= 1.20 < 1.30", "v1.30.0", false),
    ("<1.20 || >=1.31", "v1.31.0", true),
    ("<1.20 || >=1.31", "v1.25.0", false),
    (">1.29", "v1.29.9", false),
    (">1.29", "v1.30.0", true),
    ("<=1.29", "v1.29.9", true),
    ("!=1.29.1", "v1.29.1", false),
    ("!=1.29.1", "v1.29.2", true),
    ("=1.29.1", "v1.29.1+k3s1", true),
    ("*", "v1.32.0", true),
  ])
  func constraintsMatchAsHelmDoes(constraint: String, version: String, expected: Bool) throws {
    #expect(try satisfies(constraint, version) == expected, "\(constraint) against \(version)")
  }

  @Test func preReleasesOrderAsSemverSays() throws {
    let order = [
      "1.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2",
      "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
    ]
    let versions = try order.map { try #require(SemverVersion($0)) }
    #expect(versions.sorted().map(\.description) == order)
  }

  @Test func aMalformedConstraintSaysWhy() {
    #expect(throws: SemverError(message: "'>=1.x.3' is not a version")) {
      try SemverRange(">=1.x.3")
    }
    #expect(throws: SemverError(message: "'>=1.25 || ': an empty alternative")) {
      try SemverRange(">=1.25 || ")
    }
    #expect(SemverVersion("1.2.3.4") == nil)
  }
}
