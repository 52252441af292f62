// Requests and responses as the transport's callers see them; no libcurl types here.
import Foundation

public enum HTTPMethod: String, Sendable, Equatable {
  case get = "GET"
  case head = "HEAD"
  case post = "POST"
  case put = "PUT"
  case patch = "PATCH"
  case delete = "DELETE"
  case options = "OPTIONS"

  /// RFC 9110's idempotent methods: repeating them has the effect of sending them once.
  public var isIdempotent: Bool {
    switch self {
    case .get, .head, .put, .delete, .options: return true
    case .post, .patch: return false
    }
  }
}

/// Which HTTP version to speak. HTTP/2 over TLS is negotiated with ALPN and falls back to 1.1.
public enum HTTPVersionPreference: Sendable, Equatable {
  case http1_1
  /// HTTP/2 when the TLS server offers it, else HTTP/1.1; plain `http://` stays on 1.1.
  case http2
  /// HTTP/2 without negotiation (h2c prior knowledge); only for servers known to speak it.
  case http2PriorKnowledge
}

public enum HTTPVersion: String, Sendable, Equatable {
  case http1_0 = "HTTP/1.0"
  case http1_1 = "HTTP/1.1"
  case http2 = "HTTP/2"
  case http3 = "HTTP/3"
  case unknown = "HTTP/?"
}

public struct HTTPRequest: Sendable, CustomStringConvertible {
  public var method: HTTPMethod
  public var url: String
  /// Extra headers in order; `Authorization` comes from `Credentials`, not from here.
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]?
  /// Limit for the TCP connect plus the TLS handshake.
  public var connectTimeout: Duration
  /// Limit for the whole exchange, connect included.
  public var timeout: Duration
  /// Whether a failed attempt may be repeated; defaults to what the method promises.
  public var idempotent: Bool
  public var retry: RetryPolicy

  public init(
    _ method: HTTPMethod = .get, _ url: String, headers: [(name: String, value: String)] = [],
    body: [UInt8]? = nil, connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(30),
    idempotent: Bool? = nil, retry: RetryPolicy = .standard
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.connectTimeout = connectTimeout
    self.timeout = timeout
    self.idempotent = idempotent ?? method.isIdempotent
    self.retry = retry
  }

  /// The request line and headers, with credentials hidden; safe for logs.
  public var description: String {
    var lines = ["\(method.rawValue) \(Redaction.url(url))"]
    for header in headers {
      lines.append("\(header.name): \(Redaction.headerValue(name: header.name, header.value))")
    }
    return lines.joined(separator: "\n")
  }
}

public struct HTTPResponse: Sendable {
  public var status: Int
  public var version: HTTPVersion
  /// Headers of the final response, in order, names as the server sent them.
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]
  /// From sending the request to the last byte of the body, as libcurl measured it.
  public var duration: Duration
  /// New connections this exchange opened (0 when a kept-alive connection was reused).
  public var connectionsOpened: Int
  /// Attempts made, retries included.
  public var attempts: Int

  public init(
    status: Int, version: HTTPVersion = .http1_1, headers: [(name: String, value: String)] = [],
    body: [UInt8] = [], duration: Duration = .zero, connectionsOpened: Int = 0, attempts: Int = 1
  ) {
    self.status = status
    self.version = version
    self.headers = headers
    self.body = body
    self.duration = duration
    self.connectionsOpened = connectionsOpened
    self.attempts = attempts
  }

  /// The first header with this name, compared case-insensitively.
  public func header(_ name: String) -> String? {
    headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
  }

  public var text: String { String(decoding: body, as: UTF8.self) }
}
