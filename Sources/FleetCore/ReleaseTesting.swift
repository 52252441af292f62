// The `helmTest` health gate's spec, and what a driver offers to run a release's tests: the
// gate lives with the other gates, the tests with the driver that knows the release.
import Foundation

/// `helmTest`: run the release's test hooks (`helm.sh/hook: test`) on each upgraded cluster,
/// as `helm test` does.
public struct HelmTestSpec: Sendable, Equatable {
  /// How long one cluster's tests may take, every test Pod included; helm test's default.
  public var timeout: Duration
  /// The name the fleet gave (`name:`), or nil for the default (see `HealthCheckSpec.name`).
  public var name: String?
  public var mark: SourceMark?

  public init(timeout: Duration = .seconds(300), mark: SourceMark? = nil, name: String? = nil) {
    self.timeout = timeout
    self.mark = mark
    self.name = name
  }
}

/// How one cluster's release tests went.
public struct ReleaseTestRun: Sendable, Equatable {
  public var passed: Bool
  /// One line: what passed, or which test failed and why.
  public var summary: String
  /// The tests' output (pod logs, or helm's own), bounded and with secrets removed; empty when
  /// there is none.
  public var output: String

  public init(passed: Bool, summary: String, output: String = "") {
    self.passed = passed
    self.summary = summary
    self.output = output
  }
}

/// A driver that can run the deployed release's tests on a cluster (`kube`, `helm`).
public protocol ReleaseTesting: Sendable {
  /// Runs the tests of the release deployed on `cluster`, within `timeout`; returns early,
  /// failed, when cancelled. Holds no thread while it waits.
  func testRelease(
    on cluster: Cluster, run: String, timeout: Duration, clock: any RolloutClock,
    cancellation: Cancellation
  ) async -> ReleaseTestRun
}

/// Keeps test output readable in a report: its last `limit` bytes, whole lines, with values
/// that look like credentials hidden.
public enum TestOutput {
  public static let limit = 4096
  public static let redacted = "<redacted>"

  /// The tail of `text` (at most `limit` bytes, starting at a line), credentials hidden.
  public static func bounded(_ text: String, limit: Int = TestOutput.limit) -> String {
    let scrubbed = text.split(separator: "\n", omittingEmptySubsequences: false)
      .map { scrub(String($0)) }.joined(separator: "\n")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let bytes = Array(scrubbed.utf8)
    guard bytes.count > limit else { return scrubbed }
    var tail = String(decoding: bytes.suffix(limit), as: UTF8.self)
    if let newline = tail.firstIndex(of: "\n") {
      tail = String(tail[tail.index(after: newline)...])
    }
    return "[... \(bytes.count - Array(tail.utf8).count) bytes cut]\n" + tail
  }

  /// Words after which a log line carries a credential: `password=x`, `token: x`,
  /// `Authorization: Bearer x`. A test's output is the chart author's, so fleetwave cannot
  /// know its secrets; it hides what looks like one.
  static let credentialWords = [
    "password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "authorization",
    "credential",
  ]

  static func scrub(_ line: String) -> String {
    let lower = line.lowercased()
    var out = line
    for word in credentialWords {
      guard let found = lower.range(of: word) else { continue }
      let offset = lower.distance(from: lower.startIndex, to: found.upperBound)
      let rest = out.index(out.startIndex, offsetBy: offset)
      // The separator (`=`, `:`, spaces, a quote) after the word, then the value up to the
      // next space or quote; an `Authorization: Bearer` keeps its scheme.
      guard let separator = out[rest...].firstIndex(where: { $0 == "=" || $0 == ":" }),
        out[rest..<separator].allSatisfy({ $0 == " " || $0 == "\"" || $0 == "'" || $0 == "_" })
      else { continue }
      var start = out.index(after: separator)
      while start < out.endIndex, " \"'".contains(out[start]) { start = out.index(after: start) }
      if word == "authorization", let space = out[start...].firstIndex(of: " ") {
        start = out.index(after: space)
      }
      let end = out[start...].firstIndex(where: { " \"',;".contains($0) }) ?? out.endIndex
      guard start < end else { continue }
      out.replaceSubrange(start..<end, with: redacted)
      return out
    }
    return out
  }
}
