// The shared HTTP loop under load: a thousand requests in flight on one thread, the connection
// cap honoured, and cancellation aborting every one of them at once.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Testing

/// Threads of this process, from /proc.
func threadCount() -> Int {
  (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
}

@Suite struct LoopTests {
  @Test func aThousandRequestsInFlightShareOneThreadAndTheConnectionCap() throws {
    let server = try LoopbackServer { _ in .hang }
    defer { server.stop() }
    let loop = HTTPLoop(HTTPLoop.Limits(maxConnections: 16, maxIdleHandles: 8))
    var configuration = direct
    configuration.loop = loop
    let transport = HTTPTransport(configuration)
    let threadsBefore = threadCount()
    let cancellation = Cancellation()
    let finished = DispatchGroup()
    let outcomes = ResultBox<[String]>()
    outcomes.value = []
    let requests = 1000
    for n in 0..<requests {
      finished.enter()
      transport.send(
        HTTPRequest(.get, server.baseURL + "/r\(n)", timeout: .seconds(120), retry: .none),
        cancellation: cancellation
      ) { result in
        let text: String
        switch result {
        case .success(let response): text = "HTTP \(response.status)"
        case .failure(let error): text = error.reason.description
        }
        outcomes.value = (outcomes.value ?? []) + [text]
        finished.leave()
      }
    }
    #expect(eventually(timeout: 30) { server.connectionsAccepted == 16 })
    #expect(loop.inFlight == requests)
    // Requests beyond the cap wait inside libcurl for a connection, not on a thread: the
    // process gained the loop's thread and little else (other suites run alongside, so the
    // bound is loose; a thread per request would add a thousand).
    #expect(threadCount() - threadsBefore < 50)
    #expect(server.connectionsAccepted == 16)
    #expect(server.requests.count == 16)

    let cancelled = Date()
    cancellation.cancel()
    #expect(finished.wait(timeout: .now() + 5) == .success)
    #expect(Date().timeIntervalSince(cancelled) < 2)
    #expect(outcomes.value?.count == requests)
    #expect(Set(outcomes.value ?? []) == ["cancelled"])
    #expect(loop.inFlight == 0)
    #expect(loop.peakInFlight == requests)
    #expect(loop.handlesCreated == requests)
  }

  // Callback form throughout: a test that blocks while an async request waits for a
  // cooperative thread can deadlock when other suites hold the (2-thread) pool.
  @Test func cancellingOneRequestLeavesTheOthersRunning() throws {
    let server = try LoopbackServer { request in request.uri == "/slow" ? .hang : .ok("fine") }
    defer { server.stop() }
    var configuration = direct
    configuration.loop = HTTPLoop()
    let transport = HTTPTransport(configuration)
    let cancellation = Cancellation()
    let slow = ResultBox<Result<HTTPResponse, HTTPError>>()
    let slowDone = DispatchSemaphore(value: 0)
    transport.send(
      HTTPRequest(.get, server.baseURL + "/slow", timeout: .seconds(60)),
      cancellation: cancellation
    ) { result in
      slow.value = result
      slowDone.signal()
    }
    #expect(eventually(timeout: 30) { server.requests.count == 1 })
    cancellation.cancel()
    #expect(slowDone.wait(timeout: .now() + 5) == .success)
    let expected = HTTPError(
      method: .get, url: server.baseURL + "/slow", reason: .cancelled, attempts: 1)
    guard case .failure(let error) = slow.value else {
      Issue.record("the slow request was not cancelled: \(String(describing: slow.value))")
      return
    }
    #expect(error == expected)
    let fine = try transport.send(HTTPRequest(.get, server.baseURL + "/fine"))
    #expect(fine.text == "fine")
  }

  /// Requests beyond the connection cap wait for a free connection, and that wait is not a
  /// slow connect: the connect timeout runs per connect, from when the request's own
  /// connection starts (libcurl's documentation leaves room for either; a run of thousands of
  /// clusters, each with a connection of its own, depends on this one).
  @Test func requestsWaitingForTheCapAreNotTimedOutAsSlowConnects() throws {
    // One server per request: no connection can be reused, as with a client certificate
    // per cluster.
    let servers = try (0..<3).map { _ in
      try LoopbackServer { _ in .respond(status: 200, body: "late", delayMs: 400) }
    }
    defer { for server in servers { server.stop() } }
    var configuration = direct
    configuration.loop = HTTPLoop(HTTPLoop.Limits(maxConnections: 1, maxIdleHandles: 1))
    let transport = HTTPTransport(configuration)
    let finished = DispatchGroup()
    let outcomes = ResultBox<[String]>()
    outcomes.value = []
    for n in 0..<3 {
      finished.enter()
      transport.send(
        HTTPRequest(
          .get, servers[n].baseURL + "/r\(n)", connectTimeout: .milliseconds(150),
          timeout: .seconds(30), retry: .none),
        cancellation: Cancellation()
      ) { result in
        let text: String
        switch result {
        case .success(let response): text = "HTTP \(response.status) \(response.text)"
        case .failure(let error): text = error.reason.description
        }
        outcomes.value = (outcomes.value ?? []) + [text]
        finished.leave()
      }
    }
    #expect(finished.wait(timeout: .now() + 30) == .success)
    #expect(outcomes.value == Array(repeating: "HTTP 200 late", count: 3))
    #expect(servers.map(\.connectionsAccepted) == [1, 1, 1])
  }
}
