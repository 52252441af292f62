// What went wrong with an exchange, typed, and said for one URL with secrets removed.
import Foundation

/// A failed exchange. Its text is `METHOD URL: reason`, e.g.
/// `GET http://127.0.0.1:8080/healthz: connection refused`, with ` (after N attempts)` appended
/// when retries were made. URLs have their password replaced by `<redacted>`.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Reason: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case hostNotFound(String)
    case connectionRefused
    case connectFailed(String)
    case connectTimeout(milliseconds: Int)
    case timeout(milliseconds: Int)
    /// The server's chain does not lead to a trusted CA (OpenSSL's verify reason).
    case tlsUntrusted(String)
    /// The certificate is valid but issued for another name.
    case tlsHostnameMismatch(String)
    /// The server refused the handshake because no client certificate was presented.
    case tlsClientCertificateRequired
    /// The server refused the client certificate that was presented.
    case tlsClientCertificateRejected
    case tlsHandshakeFailed(String)
    /// Our own CA bundle, certificate or key could not be loaded.
    case tlsConfiguration(String)
    case emptyResponse
    case incompleteResponse
    case connectionReset
    case malformedResponse(String)
    case proxyFailed(String)
    case cancelled
    case other(code: Int, message: String)

    public var description: String {
      switch self {
      case .invalidURL(let detail): return "invalid URL: \(detail)"
      case .hostNotFound(let host): return "could not resolve host '\(host)'"
      case .connectionRefused: return "connection refused"
      case .connectFailed(let detail): return "could not connect: \(detail)"
      case .connectTimeout(let ms): return "connect timed out after \(ms) ms"
      case .timeout(let ms): return "timed out after \(ms) ms"
      case .tlsUntrusted(let reason): return "TLS certificate not trusted: \(reason)"
      case .tlsHostnameMismatch(let host):
        return "TLS certificate does not match host '\(host)'"
      case .tlsClientCertificateRequired:
        return "TLS handshake refused: the server requires a client certificate"
      case .tlsClientCertificateRejected:
        return "TLS handshake refused: the server rejected the client certificate"
      case .tlsHandshakeFailed(let detail): return "TLS handshake failed: \(detail)"
      case .tlsConfiguration(let detail): return "TLS setup failed: \(detail)"
      case .emptyResponse: return "server closed the connection without a response"
      case .incompleteResponse: return "server closed the connection in the middle of the response"
      case .connectionReset: return "connection reset by the server"
      case .malformedResponse(let detail): return "malformed response: \(detail)"
      case .proxyFailed(let detail): return "proxy failed: \(detail)"
      case .cancelled: return "cancelled"
      case .other(let code, let message): return "libcurl error \(code): \(message)"
      }
    }

    /// The server could not be reached or dropped the exchange: refused, reset, timed out, a
    /// failed handshake, a proxy that failed. A host that does not resolve is left out (a
    /// typo in a URL more often than an outage), and so are certificate problems (they do
    /// not go away by waiting).
    public var isUnreachable: Bool {
      switch self {
      case .connectionRefused, .connectFailed, .connectTimeout, .timeout, .tlsHandshakeFailed,
        .emptyResponse, .incompleteResponse, .connectionReset, .proxyFailed:
        return true
      case .invalidURL, .hostNotFound, .tlsUntrusted, .tlsHostnameMismatch,
        .tlsClientCertificateRequired, .tlsClientCertificateRejected, .tlsConfiguration,
        .malformedResponse, .cancelled, .other:
        return false
      }
    }

    /// Failures a repeat of an idempotent request may cure.
    public var isTransient: Bool {
      switch self {
      case .hostNotFound, .connectionRefused, .connectFailed, .connectTimeout, .timeout,
        .emptyResponse, .incompleteResponse, .connectionReset:
        return true
      case .invalidURL, .tlsUntrusted, .tlsHostnameMismatch, .tlsClientCertificateRequired,
        .tlsClientCertificateRejected, .tlsHandshakeFailed, .tlsConfiguration, .malformedResponse,
        .proxyFailed, .cancelled, .other:
        return false
      }
    }
  }

  public var method: HTTPMethod
  /// The URL with any password removed.
  public var url: String
  public var reason: Reason
  public var attempts: Int

  public init(method: HTTPMethod, url: String, reason: Reason, attempts: Int = 1) {
    self.method = method
    self.url = Redaction.url(url)
    self.reason = reason
    self.attempts = attempts
  }

  public var description: String {
    let suffix = attempts > 1 ? " (after \(attempts) attempts)" : ""
    return "\(method.rawValue) \(url): \(reason)\(suffix)"
  }
}
