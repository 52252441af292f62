// The SwiftNIO channel handler: collects a request, asks the router, writes the answer or keeps a
// watch stream open.
import FleetCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

final class HTTPConnection: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let router: Router
  private let maxBodyBytes: Int
  private let secure: Bool
  private let log: Bool
  private let requestLog: RequestLog?
  private var head: HTTPRequestHead?
  private var body: [UInt8] = []
  private var tooLarge = false
  private var watching: (store: ClusterStore, id: Int)?
  private var watchTimeout: Scheduled<Void>?
  /// The client certificate's subject, once `peerSubjectRead`.
  private var peerSubject: CertificateSubject?
  private var peerSubjectRead = false

  init(router: Router, maxBodyBytes: Int, secure: Bool, log: Bool, requestLog: RequestLog? = nil) {
    self.router = router
    self.maxBodyBytes = maxBodyBytes
    self.secure = secure
    self.log = log
    self.requestLog = requestLog
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
      body = []
      tooLarge = false
    case .body(var buffer):
      guard !tooLarge else { return }
      if body.count + buffer.readableBytes > maxBodyBytes {
        tooLarge = true
        body = []
      } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
        body += bytes
      }
    case .end:
      guard let head else { return }
      self.head = nil
      finish(context: context, head: head)
    }
  }

  private func finish(context: ChannelHandlerContext, head: HTTPRequestHead) {
    let request = APIRequest(
      method: head.method.rawValue, uri: head.uri,
      headers: head.headers.map { ($0.name, $0.value) }, body: body)
    body = []
    if tooLarge {
      respond(
        context: context, head: head, result: .error(.tooLarge), request: request, keepAlive: false)
      return
    }
    let (result, delay) = router.route(request, clientSubject: clientSubject(context))
    if delay > .zero {
      let nanoseconds = Int64(DurationText.seconds(delay) * 1e9)
      let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
      context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
        let (handler, context) = loopBound.value
        handler.respond(
          context: context, head: head, result: result, request: request,
          keepAlive: head.isKeepAlive)
      }
      return
    }
    respond(
      context: context, head: head, result: result, request: request, keepAlive: head.isKeepAlive)
  }

  /// The verified peer certificate's subject, read once per connection: the handshake is over
  /// before the first request, and the peer cannot change.
  private func clientSubject(_ context: ChannelHandlerContext) -> CertificateSubject? {
    guard secure else { return nil }
    if peerSubjectRead { return peerSubject }
    var subject: CertificateSubject?
    // The TLS handler verified the certificate against our CA (optional verification: a
    // client without one may still bring a token).
    if let certificate = try? context.channel.pipeline.syncOperations.nioSSL_peerCertificate() {
      let names = certificate.subjectName
      subject = CertificateSubject(
        commonName: names.first { $0.type == .commonName }?.value ?? "",
        organizations: names.filter { $0.type == .organization }.map(\.value))
    }
    peerSubject = subject
    peerSubjectRead = true
    return subject
  }

  private func respond(
    context: ChannelHandlerContext, head: HTTPRequestHead, result: APIResult, request: APIRequest,
    keepAlive: Bool
  ) {
    if log {
      let type = request.header("Content-Type").map { " [\($0)]" } ?? ""
      let line = "\(request.method) \(head.uri)\(type) -> \(result.status)\n"
      FileHandle.standardError.write(Data(line.utf8))
    }
    requestLog?.record(
      method: request.method, path: request.path, userAgent: request.header("User-Agent"),
      status: result.status)
    switch result {
    case .closeConnection:
      context.close(promise: nil)
    case .hang:
      break
    case .watch(let plan):
      startWatch(context: context, head: head, plan: plan)
    case .response(let status, let headers, let bytes):
      var responseHeaders = HTTPHeaders(headers)
      responseHeaders.add(name: "Content-Length", value: String(bytes.count))
      responseHeaders.add(name: "Cache-Control", value: "no-cache, private")
      if !keepAlive { responseHeaders.add(name: "Connection", value: "close") }
      let responseHead = HTTPResponseHead(
        version: head.version, status: HTTPResponseStatus(statusCode: status),
        headers: responseHeaders)
      context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
      var buffer = context.channel.allocator.buffer(capacity: bytes.count)
      buffer.writeBytes(bytes)
      context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
      let done = context.eventLoop.makePromise(of: Void.self)
      context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
      if !keepAlive {
        let channel = context.channel
        done.futureResult.whenComplete { _ in channel.close(promise: nil) }
      }
    }
  }

  private func startWatch(context: ChannelHandlerContext, head: HTTPRequestHead, plan: WatchPlan) {
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: "application/json")
    headers.add(name: "Transfer-Encoding", value: "chunked")
    headers.add(name: "Cache-Control", value: "no-cache, private")
    context.write(
      wrapOutboundOut(
        .head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
      promise: nil)
    let channel = context.channel
    let render = plan.render ?? { $0 }
    for object in plan.initial {
      channel.write(
        HTTPServerResponsePart.body(.byteBuffer(Self.line("ADDED", render(object), channel))),
        promise: nil)
    }
    if plan.initialEventsEndBookmark {
      let bookmark: Value = [
        "kind": .string(plan.filter.type.kind), "apiVersion": .string(plan.filter.type.apiVersion),
        "metadata": [
          "resourceVersion": .string(String(plan.since ?? plan.store.currentRevision)),
          "annotations": ["k8s.io/initial-events-end": "true"],
        ],
      ]
      channel.write(
        HTTPServerResponsePart.body(.byteBuffer(Self.line("BOOKMARK", bookmark, channel))),
        promise: nil)
    }
    channel.flush()
    // The store calls this with its lock held: always hop onto the event loop (FIFO, so order
    // holds), never write inline, since a failing write closes the channel and closing it
    // unregisters the watch, which takes the store's lock.
    let id = plan.store.watch(plan.filter, since: plan.since) { event in
      channel.eventLoop.execute {
        channel.writeAndFlush(
          HTTPServerResponsePart.body(
            .byteBuffer(Self.line(event.kind.rawValue, render(event.object), channel))),
          promise: nil)
      }
    }
    guard let id else {
      let gone = APIError(
        code: 410, reason: "Expired",
        message: "too old resource version: \(plan.since ?? 0) (\(plan.store.currentRevision))")
      channel.write(
        HTTPServerResponsePart.body(.byteBuffer(Self.line("ERROR", gone.status, channel))),
        promise: nil)
      endWatch(channel)
      return
    }
    watching = (plan.store, id)
    watchTimeout = context.eventLoop.scheduleTask(in: .seconds(plan.timeoutSeconds)) {
      Self.endWatchStream(channel)
    }
  }

  private func endWatch(_ channel: Channel) { Self.endWatchStream(channel) }

  private static func endWatchStream(_ channel: Channel) {
    channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
      channel.close(promise: nil)
    }
  }

  private static func line(_ type: String, _ object: Value, _ channel: Channel) -> ByteBuffer {
    let event: Value = ["type": .string(type), "object": object]
    var bytes = JSONWriter.bytes(event)
    bytes.append(UInt8(ascii: "\n"))
    var buffer = channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    return buffer
  }

  func channelInactive(context: ChannelHandlerContext) {
    stopWatching()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) { stopWatching() }

  private func stopWatching() {
    if let watching { watching.store.stopWatching(watching.id) }
    watching = nil
    watchTimeout?.cancel()
    watchTimeout = nil
  }

  func errorCaught(context: ChannelHandlerContext, error: Error) {
    context.close(promise: nil)
  }
}
