// How the transport connects: TLS material, credentials, proxy, retries.
import Foundation

/// Where a PEM document comes from: a file, or bytes already in memory (kubeconfig's `*-data`).
public enum PEMSource: Sendable, Equatable {
  case file(String)
  case pem([UInt8])

  public static func pem(_ text: String) -> PEMSource { .pem(Array(text.utf8)) }
}

public struct TLSOptions: Sendable, Equatable {
  /// Trusted CAs; nil means the system's bundle.
  public var ca: PEMSource?
  public var clientCertificate: PEMSource?
  public var clientKey: PEMSource?
  /// Skips certificate and hostname verification. Only ever set from explicit configuration.
  public var insecureSkipVerify: Bool
  /// Verify the server's certificate against this name instead of the URL's host
  /// (kubeconfig's `tls-server-name`); also sent as SNI.
  public var serverName: String?

  public init(
    ca: PEMSource? = nil, clientCertificate: PEMSource? = nil, clientKey: PEMSource? = nil,
    insecureSkipVerify: Bool = false, serverName: String? = nil
  ) {
    self.ca = ca
    self.clientCertificate = clientCertificate
    self.clientKey = clientKey
    self.insecureSkipVerify = insecureSkipVerify
    self.serverName = serverName
  }

  public static let system = TLSOptions()
}

public enum Credentials: Sendable, Equatable {
  case none
  case bearer(String)

  /// The secret, for redaction.
  var secret: String? {
    switch self {
    case .none: return nil
    case .bearer(let token): return token
    }
  }
}

/// Which proxy requests go through.
public struct ProxySettings: Sendable, Equatable {
  /// Proxy for `http://` URLs, for `https://` URLs; nil means direct.
  public var http: String?
  public var https: String?
  /// Hosts (and domain suffixes) reached directly, comma-separated as in `no_proxy`; `*` = all.
  public var noProxy: String?

  public init(http: String? = nil, https: String? = nil, noProxy: String? = nil) {
    self.http = http
    self.https = https
    self.noProxy = noProxy
  }

  public static let direct = ProxySettings()

  /// The conventional variables: `http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`, each
  /// lower case first, then upper case (except `HTTP_PROXY`, ignored as curl and Go's CGI rule
  /// do, because CGI servers set it from a client's `Proxy:` header).
  public static func fromEnvironment(_ environment: [String: String]) -> ProxySettings {
    func first(_ names: String...) -> String? {
      for name in names {
        if let value = environment[name], !value.isEmpty { return value }
      }
      return nil
    }
    let all = first("all_proxy", "ALL_PROXY")
    return ProxySettings(
      http: first("http_proxy") ?? all,
      https: first("https_proxy", "HTTPS_PROXY") ?? all,
      noProxy: first("no_proxy", "NO_PROXY"))
  }

  /// The proxy for `url`, or nil to connect directly.
  func proxy(for url: String) -> String? {
    url.lowercased().hasPrefix("https:") ? https : http
  }
}

/// Exponential backoff with jitter for idempotent requests.
public struct RetryPolicy: Sendable, Equatable {
  /// Attempts in total, the first included; 1 means no retry.
  public var maxAttempts: Int
  public var baseDelay: Duration
  public var maxDelay: Duration
  /// Fraction of each delay that is random: 0.5 waits between 50% and 100% of the backoff.
  public var jitter: Double
  /// Statuses that mean "try again later".
  public var retryStatuses: Set<Int>

  public init(
    maxAttempts: Int, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5),
    jitter: Double = 0.5, retryStatuses: Set<Int> = [429, 502, 503, 504]
  ) {
    self.maxAttempts = max(1, maxAttempts)
    self.baseDelay = baseDelay
    self.maxDelay = maxDelay
    self.jitter = min(1, max(0, jitter))
    self.retryStatuses = retryStatuses
  }

  public static let standard = RetryPolicy(maxAttempts: 3)
  public static let none = RetryPolicy(maxAttempts: 1)

  /// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed;
  /// `unitRandom` in [0, 1) picks the point inside the jitter band.
  public func delay(afterAttempt attempt: Int, unitRandom: Double) -> Duration {
    let base = DurationSeconds.of(baseDelay)
    let cap = DurationSeconds.of(maxDelay)
    let backoff = min(cap, base * pow(2, Double(max(0, attempt - 1))))
    let seconds = backoff * (1 - jitter * unitRandom)
    return .milliseconds(Int64((seconds * 1000).rounded()))
  }
}

enum DurationSeconds {
  static func of(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) / 1e18
  }

  static func milliseconds(_ duration: Duration) -> Int {
    Int((of(duration) * 1000).rounded())
  }
}
