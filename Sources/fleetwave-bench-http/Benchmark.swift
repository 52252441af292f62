// Probes per second through HTTPTransport with many workers, beside the curl CLI in a loop,
// against one loopback server; reports connections opened to show keep-alive reuse.
import FleetCore
import Foundation
import HTTP
import NIOCore
import NIOHTTP1
import NIOPosix

@main
struct Benchmark {
  static func main() throws {
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    var requests = 3000
    var workers = 50
    var cliRequests: Int?
    while let argument = arguments.next() {
      switch argument {
      case "--requests": requests = Int(arguments.next() ?? "") ?? requests
      case "--workers": workers = Int(arguments.next() ?? "") ?? workers
      case "--cli-requests": cliRequests = Int(arguments.next() ?? "")
      default:
        print("usage: fleetwave-bench-http [--requests N] [--workers N] [--cli-requests N]")
        return
      }
    }
    // The same count on both sides unless told otherwise.
    let cliCount = cliRequests ?? requests
    let server = try ProbeServer()
    defer { server.stop() }
    let url = "http://127.0.0.1:\(server.port)/healthz"
    print("server: \(url)")

    let transport = HTTPTransport(.init(proxy: .direct))
    let perWorker = max(1, requests / workers)
    let failures = Counter()
    let ready = DispatchGroup()
    let finished = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for _ in 0..<workers {
      ready.enter()
      finished.enter()
      Thread.detachNewThread {
        ready.leave()
        start.wait()
        for _ in 0..<perWorker {
          let status = (try? transport.send(HTTPRequest(.get, url, retry: .none)))?.status
          if status != 200 { failures.add(1) }
        }
        finished.leave()
      }
    }
    ready.wait()
    let began = Date()
    for _ in 0..<workers { start.signal() }
    finished.wait()
    let transportSeconds = Date().timeIntervalSince(began)
    let transportTotal = perWorker * workers
    let transportRate = Double(transportTotal) / transportSeconds
    let acceptsAfterTransport = server.accepted

    // The CLI side is a plain shell loop, as a CI job would call curl once per cluster.
    let cliBegan = Date()
    let loop = Process()
    loop.executableURL = URL(fileURLWithPath: "/bin/sh")
    loop.arguments = [
      "-c",
      "failed=0; i=0; while [ $i -lt \(cliCount) ]; do "
        + "curl -s -o /dev/null --noproxy '*' '\(url)' || failed=$((failed+1)); i=$((i+1)); done; "
        + "exit $failed",
    ]
    try loop.run()
    loop.waitUntilExit()
    let cliFailures = Int(loop.terminationStatus)
    let cliSeconds = Date().timeIntervalSince(cliBegan)
    let cliRate = Double(cliCount) / cliSeconds

    func row(
      _ name: String, _ count: Int, _ seconds: Double, _ rate: Double, _ connects: Int,
      _ failed: Int
    ) {
      print(
        name.padding(toLength: 28, withPad: " ", startingAt: 0)
          + String(
            format: "%8d req %8.2f s %10.0f req/s %7d connects %5d failed",
            count, seconds, rate, connects, failed))
    }
    row(
      "HTTPTransport, \(workers) workers", transportTotal, transportSeconds, transportRate,
      transport.connectionsOpened, failures.value)
    row(
      "curl CLI loop, 1 at a time", cliCount, cliSeconds, cliRate,
      server.accepted - acceptsAfterTransport, cliFailures)
    print(String(format: "speed-up: %.1fx (goal: 20x)", transportRate / cliRate))
    print("server accepts during the transport run: \(acceptsAfterTransport)")
  }
}

final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func add(_ n: Int) { lock.withLock { count += n } }
  var value: Int { lock.withLock { count } }
}

/// Answers every request with `200 ok`, keeping connections alive; counts accepted connections.
final class ProbeServer: @unchecked Sendable {
  private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  private var channel: Channel?
  private let accepts = Counter()
  private(set) var port = 0

  init() throws {
    let accepts = self.accepts
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 1024)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        accepts.add(1)
        return channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline()
          try channel.pipeline.syncOperations.addHandler(OKHandler())
        }
      }
    let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
    self.channel = channel
    port = channel.localAddress?.port ?? 0
  }

  var accepted: Int { accepts.value }

  func stop() {
    try? channel?.close().wait()
    try? group.syncShutdownGracefully()
  }
}

private final class OKHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .end = unwrapInboundIn(data) else { return }
    var headers = HTTPHeaders()
    headers.add(name: "Content-Length", value: "2")
    context.write(
      wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
      promise: nil)
    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
  }
}
