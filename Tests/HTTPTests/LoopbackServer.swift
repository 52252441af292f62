// A scripted HTTP/1.1 server on 127.0.0.1 for tests: statuses, delays, cut-off and slow bodies.
// Shared by HTTPTests and HealthTests (HealthTests links this file).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the server saw it.
struct RecordedRequest: Sendable {
  var method: String
  /// The request target as sent: a path, or an absolute URL when sent to a proxy.
  var uri: String
  var headers: [(name: String, value: String)]
  var body: String

  func header(_ name: String) -> String? {
    headers.first { $0.name.lowercased() == name.lowercased() }?.value
  }
}

/// What the server does with one request.
enum Reply: Sendable {
  case respond(status: Int, body: String = "", headers: [(String, String)] = [], delayMs: Int = 0)
  /// Closes the connection without a byte of response.
  case close
  /// Sends the head promising `declaredLength` bytes, then `body`, then closes.
  case cutOff(status: Int, body: String, declaredLength: Int)
  /// Sends the body in `chunks`, one every `everyMs` milliseconds.
  case slow(status: Int, chunks: [String], everyMs: Int)
  /// Never answers.
  case hang

  static func ok(_ body: String = "ok") -> Reply { .respond(status: 200, body: body) }
}

final class LoopbackServer: @unchecked Sendable {
  typealias Route = @Sendable (RecordedRequest) -> Reply

  private let channel: Channel
  private let lock = NSLock()
  private var accepted = 0
  private var recorded: [RecordedRequest] = []
  let port: Int

  /// Starts listening on 127.0.0.1 at a free port. `secure` adds a TLS handler first in each
  /// connection's pipeline.
  init(secure: (@Sendable (Channel) throws -> Void)? = nil, route: @escaping Route) throws {
    let box = ServerBox()
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 512)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          box.server?.countAccept()
          try secure?(channel)
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(
            ScriptedHandler(route: route, record: { box.server?.record($0) }))
        }
      }
    channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
    port = channel.localAddress?.port ?? 0
    box.server = self
  }

  var baseURL: String { "http://127.0.0.1:\(port)" }

  var connectionsAccepted: Int {
    lock.lock()
    defer { lock.unlock() }
    return accepted
  }

  var requests: [RecordedRequest] {
    lock.lock()
    defer { lock.unlock() }
    return recorded
  }

  func stop() {
    try? channel.close().wait()
  }

  fileprivate func countAccept() {
    lock.lock()
    accepted += 1
    lock.unlock()
  }

  fileprivate func record(_ request: RecordedRequest) {
    lock.lock()
    recorded.append(request)
    lock.unlock()
  }
}

/// Lets connection handlers reach the server object created after the bootstrap.
private final class ServerBox: @unchecked Sendable {
  private let lock = NSLock()
  private weak var stored: LoopbackServer?
  var server: LoopbackServer? {
    get {
      lock.lock()
      defer { lock.unlock() }
      return stored
    }
    set {
      lock.lock()
      stored = newValue
      lock.unlock()
    }
  }
}

private final class ScriptedHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let route: LoopbackServer.Route
  private let record: @Sendable (RecordedRequest) -> Void
  private var head: HTTPRequestHead?
  private var body = ByteBuffer()

  init(route: @escaping LoopbackServer.Route, record: @escaping @Sendable (RecordedRequest) -> Void)
  {
    self.route = route
    self.record = record
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let requestHead):
      head = requestHead
      body.clear()
    case .body(var chunk):
      body.writeBuffer(&chunk)
    case .end:
      guard let head else { return }
      let request = RecordedRequest(
        method: head.method.rawValue, uri: head.uri,
        headers: head.headers.map { ($0.name, $0.value) },
        body: body.readString(length: body.readableBytes) ?? "")
      record(request)
      reply(route(request), context: context)
    }
  }

  private func reply(_ reply: Reply, context: ChannelHandlerContext) {
    let loop = context.eventLoop.assumeIsolated()
    switch reply {
    case .respond(let status, let text, let extra, let delayMs):
      if delayMs > 0 {
        loop.scheduleTask(in: .milliseconds(Int64(delayMs))) {
          self.send(status: status, body: text, headers: extra, context: context)
        }
      } else {
        send(status: status, body: text, headers: extra, context: context)
      }
    case .close:
      context.close(promise: nil)
    case .cutOff(let status, let text, let declared):
      writeHead(status: status, length: declared, headers: [], context: context)
      context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))))
        .whenComplete { _ in context.close(promise: nil) }
    case .slow(let status, let chunks, let everyMs):
      writeHead(
        status: status, length: chunks.reduce(0) { $0 + $1.utf8.count }, headers: [],
        context: context)
      context.flush()
      for (index, chunk) in chunks.enumerated() {
        loop.scheduleTask(in: .milliseconds(Int64(everyMs * (index + 1)))) {
          context.writeAndFlush(
            self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: chunk)))),
            promise: nil)
          if index == chunks.count - 1 {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
          }
        }
      }
    case .hang:
      break
    }
  }

  private func writeHead(
    status: Int, length: Int, headers extra: [(String, String)], context: ChannelHandlerContext
  ) {
    var headers = HTTPHeaders()
    headers.add(name: "Content-Length", value: String(length))
    for (name, value) in extra { headers.add(name: name, value: value) }
    let head = HTTPResponseHead(
      version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
    context.write(wrapOutboundOut(.head(head)), promise: nil)
  }

  private func send(
    status: Int, body text: String, headers: [(String, String)], context: ChannelHandlerContext
  ) {
    writeHead(status: status, length: text.utf8.count, headers: headers, context: context)
    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
  }
}
