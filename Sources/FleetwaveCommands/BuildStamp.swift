// Which commit a binary was built from. Scripts/release.sh rewrites `commit` for the release
// build and restores this file afterwards (keeping its timestamp, so debug builds stay valid).

/// The source commit of this build; nil for a development build from a working tree.
enum BuildStamp {
  static let commit: String? = nil

  /// `0.1.0 (commit 1a2b3c4d5e6f)` for a release, `0.1.0 (development build)` otherwise.
  static func versionText(release: String) -> String {
    guard let commit else { return "\(release) (development build)" }
    return "\(release) (commit \(commit))"
  }
}
