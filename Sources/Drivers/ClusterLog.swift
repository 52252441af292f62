// Where a driver keeps one cluster's command output.
import Foundation

public enum ClusterLog {
  /// `DIR/NAME.log`, with anything but letters, digits, `-`, `_` and `.` in the name replaced,
  /// so a cluster name can never climb out of the log directory.
  public static func path(in directory: String, for cluster: String) -> String {
    let safe = String(cluster.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    return (directory as NSString).appendingPathComponent(safe + ".log")
  }
}
