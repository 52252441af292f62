// The transport callers share: a pool of libcurl handles, retries with backoff, statistics.
import FleetCore
import Foundation

/// Sends HTTP requests from many Dispatch worker threads at once.
///
/// Each in-flight request borrows one pooled libcurl handle and gives it back, keeping the
/// connection it used open for the next request to the same host (see docs/http.md for why a
/// pool and not a shared connection cache). One transport holds one TLS identity; make one per
/// cluster, or derive one with `with(tls:)`.
public final class HTTPTransport: @unchecked Sendable {
  public struct Configuration: Sendable {
    public var tls: TLSOptions
    public var credentials: Credentials
    public var proxy: ProxySettings
    public var httpVersion: HTTPVersionPreference
    /// Handles kept for reuse when idle; more may exist while more requests are in flight.
    public var maxIdleHandles: Int
    /// Measures retry backoff, so tests can drive it.
    public var clock: any RolloutClock
    /// Receives libcurl's trace (request and response headers) with secrets redacted.
    public var log: (@Sendable (String) -> Void)?

    public init(
      tls: TLSOptions = .system, credentials: Credentials = .none,
      proxy: ProxySettings = .fromEnvironment(ProcessInfo.processInfo.environment),
      httpVersion: HTTPVersionPreference = .http2, maxIdleHandles: Int = 64,
      clock: any RolloutClock = SystemClock(), log: (@Sendable (String) -> Void)? = nil
    ) {
      self.tls = tls
      self.credentials = credentials
      self.proxy = proxy
      self.httpVersion = httpVersion
      self.maxIdleHandles = maxIdleHandles
      self.clock = clock
      self.log = log
    }
  }

  public let configuration: Configuration
  private let settings: CurlSettings
  // Guards `idle` and the counters; never held while a transfer runs.
  private let lock = NSLock()
  private var idle: [CurlConnection] = []
  private var opened = 0
  private var handles = 0

  public init(_ configuration: Configuration = Configuration()) {
    self.configuration = configuration
    settings = CurlSettings(
      tls: configuration.tls, credentials: configuration.credentials, proxy: configuration.proxy,
      httpVersion: configuration.httpVersion, log: configuration.log)
  }

  /// A transport like this one with other TLS settings (and its own pool).
  public func with(tls: TLSOptions) -> HTTPTransport {
    var copy = configuration
    copy.tls = tls
    return HTTPTransport(copy)
  }

  /// TCP connections opened so far; with keep-alive this stays near the worker count.
  public var connectionsOpened: Int {
    lock.lock()
    defer { lock.unlock() }
    return opened
  }

  /// libcurl handles created so far (each is reused by later requests).
  public var handlesCreated: Int {
    lock.lock()
    defer { lock.unlock() }
    return handles
  }

  /// Sends `request`, blocking the calling thread; retries transient failures of idempotent
  /// requests as `request.retry` says. Returns any status; throws only when no response came.
  public func send(_ request: HTTPRequest, cancellation: Cancellation? = nil) throws(HTTPError)
    -> HTTPResponse
  {
    var attempt = 1
    while true {
      let outcome = once(request, cancellation: cancellation)
      let mayRetry = request.idempotent && attempt < request.retry.maxAttempts
      var delay = request.retry.delay(afterAttempt: attempt, unitRandom: Double.random(in: 0..<1))
      switch outcome {
      case .response(var response):
        if mayRetry && request.retry.retryStatuses.contains(response.status) {
          // A server that says when to come back (429, 503) is believed, up to maxDelay.
          if let seconds = response.header("Retry-After").flatMap(Int.init), seconds > 0 {
            delay = max(delay, min(.seconds(seconds), request.retry.maxDelay))
          }
          break
        }
        response.attempts = attempt
        return response
      case .failure(let reason):
        if mayRetry && reason.isTransient { break }
        throw HTTPError(method: request.method, url: request.url, reason: reason, attempts: attempt)
      }
      guard configuration.clock.wait(for: delay, cancellation: cancellation) else {
        throw HTTPError(
          method: request.method, url: request.url, reason: .cancelled, attempts: attempt)
      }
      attempt += 1
    }
  }

  private func once(_ request: HTTPRequest, cancellation: Cancellation?) -> CurlOutcome {
    guard let connection = checkOut() else {
      return .failure(.other(code: 2, message: "libcurl could not be initialized"))
    }
    let outcome = connection.perform(request, settings: settings, cancellation: cancellation)
    checkIn(connection, outcome: outcome)
    return outcome
  }

  private func checkOut() -> CurlConnection? {
    lock.lock()
    if let connection = idle.popLast() {
      lock.unlock()
      return connection
    }
    handles += 1
    lock.unlock()
    return CurlConnection()
  }

  private func checkIn(_ connection: CurlConnection, outcome: CurlOutcome) {
    lock.lock()
    defer { lock.unlock() }
    if case .response(let response) = outcome { opened += response.connectionsOpened }
    if idle.count < configuration.maxIdleHandles { idle.append(connection) }
  }
}
