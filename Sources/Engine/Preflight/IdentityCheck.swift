// Preflight: is the cluster's API reachable with our credentials, and who does it say we are.
import FleetCore
import Kube

enum IdentityCheck {
  enum Answer {
    case user(String)
    case problem(PreflightProblem)
  }

  /// The user name from a `SelfSubjectReview` (authentication.k8s.io/v1), or the problem that
  /// stopped it: every later check needs this connection, so a failure here skips them.
  static func run(_ client: KubeClient) async -> Answer {
    let review: Value = [
      "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": [:],
    ]
    do {
      let answer = try await client.create(review)
      guard let user = answer["status"]?["userInfo"]?["username"]?.string else {
        return .problem(
          PreflightProblem(.connection, .error, "the SelfSubjectReview answer names no user"))
      }
      return .user(user)
    } catch {
      return .problem(
        PreflightProblem(
          .connection, .error, reachability(error), unreachable: error.isUnreachable))
    }
  }

  /// The failure without the client's own `CONTEXT: operation:` prefix, which the problem line
  /// replaces with the cluster's name.
  static func reachability(_ error: KubeError) -> String {
    switch error.reason {
    case .status(401, _, let message):
      return "not authenticated: \(message)"
    case .status(let code, let reason, let message):
      return "cannot ask who we are: \(code) \(reason): \(message)"
    case .transport(let failure):
      return "cannot reach the API: \(failure)"
    case .credentials(let message):
      return "no usable credentials: \(message)"
    case .unknownKind, .invalidResponse:
      let prefix = "\(error.context): \(error.operation): "
      let text = error.description
      return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }
  }
}
