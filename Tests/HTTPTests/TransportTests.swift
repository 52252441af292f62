// The transport against scripted loopback servers: answers, failures with exact text, retries,
// cancellation, proxies, redaction, concurrency and connection reuse.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Testing

/// Runs `body` on another thread and returns a way to wait for its result, so the test thread
/// can drive a ManualClock meanwhile.
func inBackground<T: Sendable>(_ body: @escaping @Sendable () -> T) -> @Sendable () -> T {
  let done = DispatchSemaphore(value: 0)
  let box = ResultBox<T>()
  DispatchQueue.global().async {
    box.value = body()
    done.signal()
  }
  return {
    done.wait()
    return box.value!
  }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: T?
  var value: T? {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}

func send(_ transport: HTTPTransport, _ request: HTTPRequest, cancellation: Cancellation? = nil)
  -> Result<HTTPResponse, HTTPError>
{
  do {
    return .success(try transport.send(request, cancellation: cancellation))
  } catch {
    return .failure(error)
  }
}

func errorText(_ result: Result<HTTPResponse, HTTPError>) -> String {
  switch result {
  case .success(let response): return "unexpected success: HTTP \(response.status)"
  case .failure(let error): return error.description
  }
}

// A loop of the suite's own, so timeouts measured here are not spent waiting behind another
// suite's connections in the shared loop.
let direct = HTTPTransport.Configuration(proxy: .direct, loop: HTTPLoop())

@Suite struct TransportTests {
  @Test func getReturnsStatusHeadersAndBody() throws {
    let server = try LoopbackServer { request in
      .respond(status: 201, body: "hello \(request.uri)", headers: [("X-Wave", "canary")])
    }
    defer { server.stop() }
    let transport = HTTPTransport(direct)
    let response = try transport.send(
      HTTPRequest(.get, server.baseURL + "/ping", headers: [("X-Probe", "1")]))
    #expect(response.status == 201)
    #expect(response.text == "hello /ping")
    #expect(response.header("x-wave") == "canary")
    #expect(response.version == .http1_1)
    #expect(response.attempts == 1)
    #expect(server.requests.map(\.method) == ["GET"])
    #expect(server.requests.first?.header("X-Probe") == "1")
  }

  @Test func methodsCarryTheirBodies() throws {
    let server = try LoopbackServer { request in
      .respond(status: 200, body: "\(request.method) \(request.body)")
    }
    defer { server.stop() }
    let transport = HTTPTransport(direct)
    let post = try transport.send(HTTPRequest(.post, server.baseURL, body: Array("a=1".utf8)))
    let put = try transport.send(HTTPRequest(.put, server.baseURL, body: Array("{}".utf8)))
    let patch = try transport.send(HTTPRequest(.patch, server.baseURL, body: Array("[]".utf8)))
    let delete = try transport.send(HTTPRequest(.delete, server.baseURL))
    let head = try transport.send(HTTPRequest(.head, server.baseURL))
    #expect(post.text == "POST a=1")
    #expect(put.text == "PUT {}")
    #expect(patch.text == "PATCH []")
    #expect(delete.text == "DELETE ")
    #expect(head.status == 200)
    #expect(head.body.isEmpty)
    #expect(server.requests.map(\.method) == ["POST", "PUT", "PATCH", "DELETE", "HEAD"])
  }

  @Test func refusedConnectionIsNamedWithTheURL() throws {
    let port = try freeLoopbackPort()
    let transport = HTTPTransport(direct)
    let result = send(transport, HTTPRequest(.get, "http://127.0.0.1:\(port)/x", retry: .none))
    #expect(errorText(result) == "GET http://127.0.0.1:\(port)/x: connection refused")
    if case .failure(let error) = result { #expect(error.reason == .connectionRefused) }
  }

  @Test func totalTimeoutIsReportedWithItsLimit() throws {
    let server = try LoopbackServer { _ in .hang }
    defer { server.stop() }
    let transport = HTTPTransport(direct)
    let result = send(
      transport,
      HTTPRequest(.get, server.baseURL + "/slow", timeout: .milliseconds(300), retry: .none))
    #expect(errorText(result) == "GET \(server.baseURL)/slow: timed out after 300 ms")
  }

  @Test func handshakeThatNeverCompletesIsAConnectTimeout() throws {
    // A listening socket nobody accepts from: TCP connects (the kernel queues it), TLS never
    // answers, and libcurl counts the handshake as part of connecting.
    let silent = try SilentListener()
    defer { silent.close() }
    let transport = HTTPTransport(direct)
    let url = "https://127.0.0.1:\(silent.port)/"
    let result = send(
      transport, HTTPRequest(.get, url, connectTimeout: .milliseconds(300), retry: .none))
    #expect(errorText(result) == "GET \(url): connect timed out after 300 ms")
  }

  @Test func closedWithoutAResponse() throws {
    let server = try LoopbackServer { _ in .close }
    defer { server.stop() }
    let result = send(HTTPTransport(direct), HTTPRequest(.get, server.baseURL + "/", retry: .none))
    #expect(
      errorText(result) == "GET \(server.baseURL)/: server closed the connection without a response"
    )
  }

  @Test func closedInTheMiddleOfTheBody() throws {
    let server = try LoopbackServer { _ in
      .cutOff(status: 200, body: "partial", declaredLength: 100)
    }
    defer { server.stop() }
    let result = send(HTTPTransport(direct), HTTPRequest(.get, server.baseURL + "/", retry: .none))
    #expect(
      errorText(result)
        == "GET \(server.baseURL)/: server closed the connection in the middle of the response")
  }

  @Test func slowBodyArrivesWholeWithinTheLimitAndTimesOutBeyondIt() throws {
    let server = try LoopbackServer { _ in
      .slow(status: 200, chunks: ["a", "b", "c", "d"], everyMs: 100)
    }
    defer { server.stop() }
    let transport = HTTPTransport(direct)
    let whole = try transport.send(HTTPRequest(.get, server.baseURL + "/", timeout: .seconds(20)))
    #expect(whole.text == "abcd")
    let cut = send(
      transport, HTTPRequest(.get, server.baseURL + "/", timeout: .milliseconds(150), retry: .none))
    #expect(errorText(cut) == "GET \(server.baseURL)/: timed out after 150 ms")
  }

  @Test func unsupportedSchemeIsAnInvalidURL() {
    let result = send(HTTPTransport(direct), HTTPRequest(.get, "ftp://127.0.0.1/x"))
    #expect(errorText(result) == "GET ftp://127.0.0.1/x: invalid URL: unsupported scheme 'ftp'")
  }

  @Test func passwordsInURLsAreRedacted() {
    #expect(
      Redaction.url("https://admin:s3cret@127.0.0.1:9/x?y")
        == "https://admin:<redacted>@127.0.0.1:9/x?y")
    #expect(Redaction.url("http://127.0.0.1/a@b") == "http://127.0.0.1/a@b")
    let error = HTTPError(method: .get, url: "http://u:pw@127.0.0.1:1/", reason: .connectionRefused)
    #expect(error.description == "GET http://u:<redacted>@127.0.0.1:1/: connection refused")
  }

  @Test func bearerTokenIsSentButNeverPrinted() throws {
    let token = "tok-3f9a1c-very-secret"
    let server = try LoopbackServer { _ in .ok() }
    defer { server.stop() }
    let lines = ResultBox<[String]>()
    lines.value = []
    var configuration = direct
    configuration.credentials = .bearer(token)
    configuration.log = { line in lines.value = (lines.value ?? []) + [line] }
    let transport = HTTPTransport(configuration)
    _ = try transport.send(HTTPRequest(.get, server.baseURL + "/secure"))
    #expect(server.requests.first?.header("Authorization") == "Bearer \(token)")
    let log = lines.value ?? []
    #expect(log.contains("> Authorization: Bearer <redacted>"))
    #expect(log.contains("> GET /secure HTTP/1.1"))
    #expect(!log.joined(separator: "\n").contains(token))
    let request = HTTPRequest(
      .get, "http://127.0.0.1/", headers: [("Authorization", "Bearer \(token)")])
    #expect(request.description == "GET http://127.0.0.1/\nAuthorization: Bearer <redacted>")
  }

  @Test func retriesTransientFailuresWithBackoffOnTheInjectedClock() throws {
    let calls = ResultBox<Int>()
    calls.value = 0
    let server = try LoopbackServer { _ in
      let n = (calls.value ?? 0) + 1
      calls.value = n
      return n == 1 ? .close : n == 2 ? .respond(status: 503) : .ok("third time")
    }
    defer { server.stop() }
    let clock = ManualClock()
    var configuration = direct
    configuration.clock = clock
    let transport = HTTPTransport(configuration)
    let request = HTTPRequest(
      .get, server.baseURL + "/", retry: RetryPolicy(maxAttempts: 3, baseDelay: .seconds(1)))
    let result = inBackground { send(transport, request) }
    for attempt in 1...2 {
      // The attempt's request reached the server, so the sender is past the previous backoff;
      // the next waiter is this attempt's backoff.
      #expect(eventually(timeout: 30) { server.requests.count == attempt })
      // The backoff is a timer on the clock, not a parked thread.
      #expect(eventually(timeout: 30) { clock.nextDeadline != nil })
      clock.advance(by: .seconds(2))
    }
    let response = try result().get()
    #expect(response.status == 200)
    #expect(response.text == "third time")
    #expect(response.attempts == 3)
  }

  @Test func retryAfterFromTheServerSetsTheWait() throws {
    let calls = ResultBox<Int>()
    calls.value = 0
    let server = try LoopbackServer { _ in
      let n = (calls.value ?? 0) + 1
      calls.value = n
      return n == 1 ? .respond(status: 429, headers: [("Retry-After", "7")]) : .ok("later")
    }
    defer { server.stop() }
    let clock = ManualClock()
    var configuration = direct
    configuration.clock = clock
    let transport = HTTPTransport(configuration)
    let policy = RetryPolicy(maxAttempts: 2, baseDelay: .seconds(1), maxDelay: .seconds(30))
    let result = inBackground {
      send(transport, HTTPRequest(.get, server.baseURL + "/", retry: policy))
    }
    #expect(eventually(timeout: 30) { server.requests.count == 1 })
    #expect(eventually(timeout: 30) { clock.nextDeadline != nil })
    // Backoff alone would be at most 1 s; the server asked for 7.
    clock.advance(by: .seconds(6))
    #expect(clock.nextDeadline != nil)
    #expect(server.requests.count == 1)
    clock.advance(by: .seconds(1))
    let response = try result().get()
    #expect(response.text == "later")
    #expect(response.attempts == 2)
  }

  @Test func givesUpAfterTheLastAttemptAndSaysSo() throws {
    let server = try LoopbackServer { _ in .close }
    defer { server.stop() }
    let clock = ManualClock()
    var configuration = direct
    configuration.clock = clock
    let transport = HTTPTransport(configuration)
    let url = server.baseURL + "/flaky"
    let result = inBackground {
      send(transport, HTTPRequest(.get, url, retry: RetryPolicy(maxAttempts: 3)))
    }
    for attempt in 1...2 {
      #expect(eventually(timeout: 30) { server.requests.count == attempt })
      #expect(eventually(timeout: 30) { clock.nextDeadline != nil })
      clock.advance(by: .seconds(10))
    }
    #expect(
      errorText(result())
        == "GET \(url): server closed the connection without a response (after 3 attempts)")
    #expect(server.requests.count == 3)
  }

  @Test func nonIdempotentRequestsAreNotRepeated() throws {
    let server = try LoopbackServer { _ in .close }
    defer { server.stop() }
    let result = send(
      HTTPTransport(direct), HTTPRequest(.post, server.baseURL + "/deploy", body: []))
    #expect(
      errorText(result)
        == "POST \(server.baseURL)/deploy: server closed the connection without a response")
    #expect(server.requests.count == 1)
  }

  @Test func backoffDoublesUpToTheCapWithJitterBelowIt() {
    let policy = RetryPolicy(
      maxAttempts: 6, baseDelay: .milliseconds(100), maxDelay: .seconds(1), jitter: 0.5)
    #expect(policy.delay(afterAttempt: 1, unitRandom: 0) == .milliseconds(100))
    #expect(policy.delay(afterAttempt: 2, unitRandom: 0) == .milliseconds(200))
    #expect(policy.delay(afterAttempt: 4, unitRandom: 0) == .milliseconds(800))
    #expect(policy.delay(afterAttempt: 5, unitRandom: 0) == .seconds(1))
    #expect(policy.delay(afterAttempt: 3, unitRandom: 1) == .milliseconds(200))
    #expect(policy.delay(afterAttempt: 3, unitRandom: 0.5) == .milliseconds(300))
  }

  @Test func cancellationAbortsATransferInFlight() throws {
    let server = try LoopbackServer { _ in .hang }
    defer { server.stop() }
    let transport = HTTPTransport(direct)
    let cancellation = Cancellation()
    let result = inBackground {
      send(
        transport, HTTPRequest(.get, server.baseURL + "/wait", timeout: .seconds(60)),
        cancellation: cancellation)
    }
    #expect(eventually(timeout: 30) { server.requests.count == 1 })
    cancellation.cancel()
    #expect(errorText(result()) == "GET \(server.baseURL)/wait: cancelled")
  }

  @Test func proxyReceivesTheAbsoluteURLAndNoProxyBypassesIt() throws {
    let proxy = try LoopbackServer { request in .ok("via proxy: \(request.uri)") }
    defer { proxy.stop() }
    let transport = HTTPTransport(.init(proxy: ProxySettings(http: proxy.baseURL)))
    let response = try transport.send(
      HTTPRequest(.get, "http://upstream.fleetwave.invalid/metrics"))
    #expect(response.text == "via proxy: http://upstream.fleetwave.invalid/metrics")

    let origin = try LoopbackServer { _ in .ok("direct") }
    defer { origin.stop() }
    let deadProxy = "http://127.0.0.1:\(try freeLoopbackPort())"
    let bypass = HTTPTransport(.init(proxy: ProxySettings(http: deadProxy, noProxy: "127.0.0.1")))
    #expect(try bypass.send(HTTPRequest(.get, origin.baseURL + "/")).text == "direct")
    let through = HTTPTransport(.init(proxy: ProxySettings(http: deadProxy)))
    let failed = send(through, HTTPRequest(.get, origin.baseURL + "/", retry: .none))
    #expect(errorText(failed) == "GET \(origin.baseURL)/: proxy failed: connection refused")
  }

  @Test func proxySettingsComeFromTheConventionalVariables() {
    let settings = ProxySettings.fromEnvironment([
      "HTTP_PROXY": "http://ignored:1", "HTTPS_PROXY": "http://secure:3128",
      "all_proxy": "http://fallback:8080", "NO_PROXY": "localhost,.internal",
    ])
    #expect(
      settings
        == ProxySettings(
          http: "http://fallback:8080", https: "http://secure:3128", noProxy: "localhost,.internal")
    )
    #expect(ProxySettings.fromEnvironment([:]) == .direct)
  }

  @Test func sequentialRequestsReuseOneKeptAliveConnection() throws {
    let server = try LoopbackServer { _ in .ok() }
    defer { server.stop() }
    // A loop of its own, so no other test's idle handle is reused.
    var configuration = direct
    configuration.loop = HTTPLoop()
    let transport = HTTPTransport(configuration)
    let opened = try (0..<10).map { _ in
      try transport.send(HTTPRequest(.get, server.baseURL + "/")).connectionsOpened
    }
    #expect(opened == [1] + Array(repeating: 0, count: 9))
    #expect(server.connectionsAccepted == 1)
    #expect(transport.connectionsOpened == 1)
    #expect(transport.handlesCreated == 1)
  }

  @Test func manyWorkersShareTheTransportAndReuseConnections() throws {
    let server = try LoopbackServer { request in .ok(request.uri) }
    defer { server.stop() }
    var configuration = direct
    configuration.loop = HTTPLoop()
    let transport = HTTPTransport(configuration)
    let workers = 8
    let perWorker = 25
    let mismatches = ResultBox<Int>()
    mismatches.value = 0
    let ready = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    let finished = DispatchGroup()
    for worker in 0..<workers {
      ready.enter()
      finished.enter()
      Thread.detachNewThread {
        ready.leave()
        start.wait()
        for n in 0..<perWorker {
          let path = "/w\(worker)/\(n)"
          let text = (try? transport.send(HTTPRequest(.get, server.baseURL + path)))?.text
          if text != path { mismatches.value = (mismatches.value ?? 0) + 1 }
        }
        finished.leave()
      }
    }
    ready.wait()
    for _ in 0..<workers { start.signal() }
    finished.wait()
    #expect(mismatches.value == 0)
    #expect(server.requests.count == workers * perWorker)
    #expect(server.connectionsAccepted <= workers)
    #expect(transport.connectionsOpened == server.connectionsAccepted)
    #expect(transport.handlesCreated <= workers)
  }
}

/// A socket that listens but never accepts: connections complete in the kernel and then
/// nothing is ever said.
final class SilentListener {
  let port: Int
  private let fd: Int32

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.fd = fd
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
    port = Int(UInt16(bigEndian: address.sin_port))
  }

  func close() { _ = Glibc.close(fd) }
}
