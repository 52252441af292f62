// Finding the helm binary, and the name its version gives the rollback-on-failure flag.
import Foundation

/// Where the helm driver's binary comes from.
public enum HelmBinary {
  /// `$FLEETWAVE_HELM`, else `helm` beside the fleetwave binary (an installed release ships
  /// them together), else `helm` on `$PATH`, else `<package root>/.tools/helm/helm` (where
  /// Scripts/install-helm.sh puts it for a development checkout); nil when none is executable.
  /// The user's own helm on `PATH` wins over the checkout's cache, which only serves when
  /// nothing else is installed.
  ///
  /// A `FLEETWAVE_HELM` that is set but not executable is not skipped: the user asked for that
  /// binary, so falling back to another helm would hide the mistake.
  public static func locate(
    environment: [String: String], executableDirectory: String? = nil, packageRoot: String?
  ) -> String? {
    let files = FileManager.default
    if let chosen = environment["FLEETWAVE_HELM"], !chosen.isEmpty {
      return files.isExecutableFile(atPath: chosen) ? chosen : nil
    }
    if let executableDirectory {
      let beside = (executableDirectory as NSString).appendingPathComponent("helm")
      if files.isExecutableFile(atPath: beside) { return beside }
    }
    for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.isEmpty {
      let candidate = String(directory) + "/helm"
      if files.isExecutableFile(atPath: candidate) { return candidate }
    }
    if let packageRoot {
      let cached = (packageRoot as NSString).appendingPathComponent(".tools/helm/helm")
      if files.isExecutableFile(atPath: cached) { return cached }
    }
    return nil
  }

  /// The package checkout an executable was built in (`.build/debug/fleetwave` lives three
  /// levels below it): the nearest ancestor directory holding a Package.swift.
  public static func packageRoot(ofExecutable executable: String) -> String? {
    var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
      .deletingLastPathComponent()
    while directory.path != "/" {
      if FileManager.default.fileExists(
        atPath: directory.appendingPathComponent("Package.swift").path)
      {
        return directory.path
      }
      directory.deleteLastPathComponent()
    }
    return nil
  }

  /// The flag that makes a failed upgrade roll itself back: helm 4 renamed helm 3's `--atomic`
  /// to `--rollback-on-failure`, so the flag follows the major version
  /// `helm version --short` prints (`v4.1.4+g05fa379`). Nil for output that is no version.
  public static func rollbackOnFailureFlag(versionOutput: String) -> String? {
    let text = versionOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix("v"), let major = Int(text.dropFirst().prefix { $0.isNumber }) else {
      return nil
    }
    return major >= 4 ? "--rollback-on-failure" : "--atomic"
  }
}
