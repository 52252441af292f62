// A parsed HTTP request and the answer the emulator gives, independent of SwiftNIO.
import FleetCore

/// An HTTP request as the emulator's routes see it.
public struct APIRequest: Sendable {
  public var method: String
  /// The path without the query, percent-decoded.
  public var path: String
  public var query: [String: String]
  public var headers: [(String, String)]
  public var body: [UInt8]

  public init(method: String, uri: String, headers: [(String, String)], body: [UInt8]) {
    self.method = method
    self.headers = headers
    self.body = body
    let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    path = String(parts.first ?? "").removingPercentEncoding ?? String(parts.first ?? "")
    var query: [String: String] = [:]
    if parts.count > 1 {
      for pair in parts[1].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key =
          String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
        let value =
          kv.count > 1
          ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "")
          : ""
        query[key] = value
      }
    }
    self.query = query
  }

  public func header(_ name: String) -> String? {
    headers.first { $0.0.lowercased() == name.lowercased() }?.1
  }

  /// The media type of the body without parameters (`application/json`).
  var contentType: String {
    let raw = header("Content-Type") ?? ""
    return raw.split(separator: ";").first.map {
      $0.trimmingCharacters(in: .whitespaces).lowercased()
    } ?? ""
  }

  /// The field manager a write is recorded under: `?fieldManager=`, else the user agent's program.
  var fieldManager: String? { query["fieldManager"].flatMap { $0.isEmpty ? nil : $0 } }

  var defaultManager: String {
    let agent = header("User-Agent") ?? "unknown"
    return String(agent.split(separator: "/").first ?? "unknown")
  }

  var isDryRun: Bool { query["dryRun"] == "All" }
}

/// What a route answers: a complete response, or a watch stream the server keeps open.
public enum APIResult: Sendable {
  case response(status: Int, headers: [(String, String)], body: [UInt8])
  case watch(WatchPlan)
  /// Drop the connection without an answer (an unreachable cluster).
  case closeConnection
  /// Hold the request unanswered until the client gives up (a timing-out cluster).
  case hang

  static func json(_ status: Int, _ value: Value, headers: [(String, String)] = []) -> APIResult {
    .response(
      status: status, headers: [("Content-Type", "application/json")] + headers,
      body: JSONWriter.bytes(value))
  }

  static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8")
    -> APIResult
  {
    .response(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
  }

  static func error(_ error: APIError) -> APIResult {
    .json(error.code, error.status, headers: error.headers)
  }

  var status: Int {
    switch self {
    case .response(let status, _, _): return status
    case .watch: return 200
    case .closeConnection, .hang: return 0
    }
  }
}

/// A watch the server should stream: where from, what to send first, and when to end it.
public struct WatchPlan: Sendable {
  var store: ClusterStore
  var filter: WatchFilter
  var since: Int64?
  /// Objects to send as ADDED before live events (an initial-state watch).
  var initial: [Value]
  /// After the initial objects, a BOOKMARK marking their end (`sendInitialEvents=true`).
  var initialEventsEndBookmark: Bool
  var timeoutSeconds: Int64
  /// What each ADDED, MODIFIED or DELETED event carries instead of the object: a one-row Table
  /// when the client asked for `as=Table` (as `kubectl get -w` does); nil sends the object.
  var render: (@Sendable (Value) -> Value)? = nil
}
