// `pods/log`: synthetic container logs, so `kubectl logs` and `helm test --logs` have something
// true to show (when the container started, how it ended), and the kubelet's refusals for
// containers that never started.
import FleetCore
import Foundation

enum PodLogs {
  /// Answers `GET .../pods/NAME/log` (query `container`, `tailLines`) for a stored pod.
  static func answer(_ pod: Value, _ query: [String: String]) throws(APIError) -> APIResult {
    let containers = pod.at("spec", "containers")?.sequence ?? []
    let names = containers.compactMap { $0["name"]?.string }
    let name: String
    if let wanted = query["container"], !wanted.isEmpty {
      guard names.contains(wanted) else {
        throw APIError.badRequest("container \(wanted) is not valid for pod \(pod.name)")
      }
      name = wanted
    } else if names.count == 1, let only = names.first {
      name = only
    } else {
      throw APIError.badRequest(
        "a container name must be specified for pod \(pod.name), choose one of: "
          + "[\(names.joined(separator: " "))]")
    }
    let status = (pod.at("status", "containerStatuses")?.sequence ?? []).first {
      $0["name"]?.string == name
    }
    let image = containers.first { $0["name"]?.string == name }?["image"]?.string ?? ""
    let started = "fleet-sim: container \(name) started from image \(image)"
    var lines: [String]
    if let reason = status?.at("state", "waiting", "reason")?.string {
      // The kubelet has logs only of a container that ran; a crash loop shows the last run's.
      guard reason == "CrashLoopBackOff" else {
        let cause =
          reason == "ContainerCreating" ? reason : "trying and failing to pull image"
        throw APIError.badRequest(
          "container \"\(name)\" in pod \"\(pod.name)\" is waiting to start: \(cause)")
      }
      lines = [started, "fleet-sim: container \(name) exited with code 1"]
    } else if let code = status?.at("state", "terminated", "exitCode")?.int {
      lines = [started, "fleet-sim: container \(name) exited with code \(code)"]
    } else if status?.at("state", "running") != nil {
      lines = [started]
    } else {
      throw APIError.badRequest(
        "container \"\(name)\" in pod \"\(pod.name)\" is waiting to start: ContainerCreating")
    }
    if let tail = query["tailLines"].flatMap(Int.init), tail >= 0 {
      lines = Array(lines.suffix(tail))
    }
    return .text(200, lines.map { $0 + "\n" }.joined())
  }
}
