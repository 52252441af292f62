// The transport callers share: requests on the process's HTTP loop, retries with backoff on
// timers, statistics.
import FleetCore
import Foundation

/// Sends HTTP requests without a thread per request.
///
/// Every transfer runs on one `HTTPLoop` (the process's, unless the configuration names
/// another), which keeps kept-alive connections for the next request to the same server with
/// the same TLS identity. A transport holds one TLS identity and one set of credentials; it
/// holds no handles or connections of its own, so making one per cluster costs nothing that
/// outlives its requests (see docs/http.md).
public final class HTTPTransport: @unchecked Sendable {
  public struct Configuration: Sendable {
    public var tls: TLSOptions
    public var credentials: Credentials
    public var proxy: ProxySettings
    public var httpVersion: HTTPVersionPreference
    /// The loop transfers run on.
    public var loop: HTTPLoop
    /// Measures retry backoff, so tests can drive it.
    public var clock: any RolloutClock
    /// Receives libcurl's trace (request and response headers) with secrets redacted.
    public var log: (@Sendable (String) -> Void)?

    public init(
      tls: TLSOptions = .system, credentials: Credentials = .none,
      proxy: ProxySettings = .fromEnvironment(ProcessInfo.processInfo.environment),
      httpVersion: HTTPVersionPreference = .http2, loop: HTTPLoop = .shared,
      clock: any RolloutClock = SystemClock(), log: (@Sendable (String) -> Void)? = nil
    ) {
      self.tls = tls
      self.credentials = credentials
      self.proxy = proxy
      self.httpVersion = httpVersion
      self.loop = loop
      self.clock = clock
      self.log = log
    }
  }

  public let configuration: Configuration
  private let settings: CurlSettings
  // Guards the counters.
  private let lock = NSLock()
  private var opened = 0
  private var handles = 0

  public init(_ configuration: Configuration = Configuration()) {
    self.configuration = configuration
    settings = CurlSettings(
      tls: configuration.tls, credentials: configuration.credentials, proxy: configuration.proxy,
      httpVersion: configuration.httpVersion, log: configuration.log)
  }

  /// A transport like this one with other TLS settings.
  public func with(tls: TLSOptions) -> HTTPTransport {
    var copy = configuration
    copy.tls = tls
    return HTTPTransport(copy)
  }

  /// TCP connections this transport's requests opened; with keep-alive this stays near the
  /// number of requests in flight at once.
  public var connectionsOpened: Int { lock.withLock { opened } }

  /// Easy handles the loop had to create for this transport's requests (idle ones are reused).
  public var handlesCreated: Int { lock.withLock { handles } }

  /// Sends `request` and calls `completion` once with the response or the error, on the loop's
  /// thread (so it must return quickly). Retries transient failures of idempotent requests as
  /// `request.retry` says, waiting on the configured clock's timers, not on a thread.
  /// Cancelling aborts the transfer or the backoff at once.
  public func send(
    _ request: HTTPRequest, cancellation: Cancellation? = nil,
    completion: @escaping @Sendable (Result<HTTPResponse, HTTPError>) -> Void
  ) {
    attempt(1, request, cancellation: cancellation, completion: OnceCompletion(completion))
  }

  /// Sends `request`, suspending the task; cancelling the task or `cancellation` aborts it.
  public func send(_ request: HTTPRequest, cancellation: Cancellation? = nil)
    async throws(HTTPError) -> HTTPResponse
  {
    let aborted = Cancellation()
    cancellation?.onCancel { aborted.cancel() }
    let result = await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        send(request, cancellation: aborted) { continuation.resume(returning: $0) }
      }
    } onCancel: {
      aborted.cancel()
    }
    return try result.get()
  }

  /// Sends `request`, blocking the calling thread (commands that do one thing at a time).
  public func send(_ request: HTTPRequest, cancellation: Cancellation? = nil) throws(HTTPError)
    -> HTTPResponse
  {
    let done = DispatchSemaphore(value: 0)
    let box = OutcomeBox()
    send(request, cancellation: cancellation) { result in
      box.result = result
      done.signal()
    }
    done.wait()
    guard let result = box.result else {
      throw HTTPError(method: request.method, url: request.url, reason: .cancelled, attempts: 1)
    }
    return try result.get()
  }

  private func attempt(
    _ number: Int, _ request: HTTPRequest, cancellation: Cancellation?,
    completion: OnceCompletion
  ) {
    if cancellation?.isCancelled == true {
      completion.call(
        .failure(
          HTTPError(
            method: request.method, url: request.url, reason: .cancelled, attempts: number)))
      return
    }
    let fresh = configuration.loop.start(request, settings: settings, cancellation: cancellation) {
      [self] outcome in
      settle(number, request, outcome, cancellation: cancellation, completion: completion)
    }
    if fresh { lock.withLock { handles += 1 } }
  }

  private func settle(
    _ number: Int, _ request: HTTPRequest, _ outcome: CurlOutcome, cancellation: Cancellation?,
    completion: OnceCompletion
  ) {
    let mayRetry = request.idempotent && number < request.retry.maxAttempts
    var delay = request.retry.delay(afterAttempt: number, unitRandom: Double.random(in: 0..<1))
    switch outcome {
    case .response(var response):
      lock.withLock { opened += response.connectionsOpened }
      if mayRetry && request.retry.retryStatuses.contains(response.status) {
        // A server that says when to come back (429, 503) is believed, up to maxDelay.
        if let seconds = response.header("Retry-After").flatMap(Int.init), seconds > 0 {
          delay = max(delay, min(.seconds(seconds), request.retry.maxDelay))
        }
        break
      }
      response.attempts = number
      completion.call(.success(response))
      return
    case .failure(let reason):
      if mayRetry && reason.isTransient && cancellation?.isCancelled != true { break }
      completion.call(
        .failure(
          HTTPError(method: request.method, url: request.url, reason: reason, attempts: number)))
      return
    }
    let clock = configuration.clock
    let timer = clock.schedule(
      at: clock.now().addingTimeInterval(DurationSeconds.of(delay)),
      on: configuration.loop.timers
    ) { [self] in
      attempt(number + 1, request, cancellation: cancellation, completion: completion)
    }
    cancellation?.onCancel {
      timer.cancel()
      completion.call(
        .failure(
          HTTPError(
            method: request.method, url: request.url, reason: .cancelled, attempts: number)))
    }
  }
}

/// A completion that runs once however many paths (answer, cancellation) reach it.
private final class OnceCompletion: @unchecked Sendable {
  private let lock = NSLock()
  private var body: (@Sendable (Result<HTTPResponse, HTTPError>) -> Void)?

  init(_ body: @escaping @Sendable (Result<HTTPResponse, HTTPError>) -> Void) { self.body = body }

  func call(_ result: Result<HTTPResponse, HTTPError>) {
    let taken = lock.withLock {
      defer { body = nil }
      return body
    }
    taken?(result)
  }
}

private final class OutcomeBox: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Result<HTTPResponse, HTTPError>?
  var result: Result<HTTPResponse, HTTPError>? {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}
