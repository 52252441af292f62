// The emulator's public face: start a server for a list of virtual clusters, find their URLs,
// write a kubeconfig, change faults, shut down.
import FleetCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// How a `FleetSimServer` runs.
public struct FleetSimOptions: Sendable {
  /// Plain HTTP port; 0 picks a free one.
  public var port: Int
  /// Serve TLS too (client certificates or a bearer token required there), on `tlsPort`.
  public var tls: Bool
  public var tlsPort: Int
  /// Where certificates and the token live; required with `tls`.
  public var stateDirectory: String?
  /// Simulated seconds per real second for the controller and the application's traffic.
  public var speed: Double
  public var clock: any RolloutClock
  public var faults: FaultSet
  /// Bodies larger than this are refused with 413, as the API server refuses them.
  public var maxBodyBytes: Int
  /// One line per request on stderr: method, path, content type, status.
  public var logRequests: Bool
  public var threads: Int
  /// A JSON line per mutating request (method, path, user agent, time, status) to this file.
  public var requestLog: String? = nil

  public init(
    port: Int = 0, tls: Bool = false, tlsPort: Int = 0, stateDirectory: String? = nil,
    speed: Double = 1, clock: any RolloutClock = SystemClock(), faults: FaultSet = FaultSet(),
    maxBodyBytes: Int = 3 * 1024 * 1024, logRequests: Bool = false,
    threads: Int = System.coreCount
  ) {
    self.port = port
    self.tls = tls
    self.tlsPort = tlsPort
    self.stateDirectory = stateDirectory
    self.speed = speed
    self.clock = clock
    self.faults = faults
    self.maxBodyBytes = maxBodyBytes
    self.logRequests = logRequests
    self.threads = threads
  }
}

public final class FleetSimServer: @unchecked Sendable {
  public struct StartFailure: Error, CustomStringConvertible {
    public var description: String
  }

  public let options: FleetSimOptions
  public let clusterNames: [String]
  let clusters: [String: VirtualCluster]
  public let faults: FaultBook
  let controller: RolloutController
  public let credentials: Credentials?
  /// ServiceAccount tokens issued by every virtual cluster's TokenRequest.
  let tokens = TokenBook()
  private let group: MultiThreadedEventLoopGroup
  private var channels: [Channel] = []
  private let requestLog: RequestLog?
  /// The bound plain HTTP port.
  public private(set) var port = 0
  /// The bound TLS port (0 without TLS).
  public private(set) var tlsPort = 0

  private init(clusters specs: [VirtualClusterSpec], options: FleetSimOptions) throws {
    self.options = options
    requestLog = try options.requestLog.map { try RequestLog(path: $0, clock: options.clock) }
    let now = options.clock.now()
    if options.tls {
      guard let directory = options.stateDirectory else {
        throw StartFailure(description: "TLS needs a state directory for its certificates")
      }
      credentials = try Credentials.prepare(in: directory)
    } else {
      credentials = nil
    }
    // Every namespace's kube-root-ca.crt holds the CA the TLS listener's certificate chains to.
    let caBundle =
      try credentials.map {
        try String(contentsOfFile: $0.caCertificate, encoding: .utf8)
      } ?? ""
    var clusters: [String: VirtualCluster] = [:]
    var names: [String] = []
    for spec in specs {
      guard clusters[spec.name] == nil else {
        throw StartFailure(description: "duplicate virtual cluster name '\(spec.name)'")
      }
      guard !spec.name.isEmpty, !spec.name.contains("/") else {
        throw StartFailure(description: "invalid virtual cluster name '\(spec.name)'")
      }
      clusters[spec.name] = VirtualCluster(spec: spec, caBundle: caBundle, now: now)
      names.append(spec.name)
    }
    self.clusters = clusters
    clusterNames = names
    faults = FaultBook(options.faults)
    controller = RolloutController(clock: options.clock, speed: options.speed, faults: faults)
    group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
  }

  /// Starts serving `clusters` on 127.0.0.1; returns once the ports are bound.
  public static func start(
    clusters: [VirtualClusterSpec], options: FleetSimOptions = FleetSimOptions()
  )
    throws -> FleetSimServer
  {
    let server = try FleetSimServer(clusters: clusters, options: options)
    do {
      let plain = try server.bind(port: options.port, tls: nil)
      server.channels.append(plain)
      server.port = plain.localAddress?.port ?? 0
      if let credentials = server.credentials {
        // Loaded explicitly as PEM: NIOSSL guesses the format of `.file` sources by extension.
        var configuration = TLSConfiguration.makeServerConfiguration(
          certificateChain: try NIOSSLCertificate.fromPEMFile(credentials.serverCertificate)
            .map { .certificate($0) },
          privateKey: .privateKey(try NIOSSLPrivateKey(file: credentials.serverKey, format: .pem)))
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(
          try NIOSSLCertificate.fromPEMFile(credentials.caCertificate))
        let context = try NIOSSLContext(configuration: configuration)
        let secure = try server.bind(port: options.tlsPort, tls: context)
        server.channels.append(secure)
        server.tlsPort = secure.localAddress?.port ?? 0
      }
    } catch {
      server.shutdown()
      throw error
    }
    return server
  }

  private func bind(port: Int, tls: NIOSSLContext?) throws -> Channel {
    let router = Router(
      server: self, adminToken: try credentials?.token(), requiresCredentials: tls != nil)
    let maxBody = options.maxBodyBytes
    let log = options.logRequests
    let requestLog = self.requestLog
    return try ServerBootstrap(group: group)
      .serverChannelOption(ChannelOptions.backlog, value: 512)
      .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          if let tls {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
          }
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(
            HTTPConnection(
              router: router, maxBodyBytes: maxBody, secure: tls != nil, log: log,
              requestLog: requestLog))
        }
      }
      .bind(host: "127.0.0.1", port: port).wait()
  }

  /// `http(s)://127.0.0.1:PORT/clusters/NAME`: the `server:` URL of one virtual cluster.
  public func baseURL(for cluster: String, tls: Bool? = nil) -> String {
    let secure = tls ?? (credentials != nil)
    return secure
      ? "https://127.0.0.1:\(tlsPort)/clusters/\(cluster)"
      : "http://127.0.0.1:\(port)/clusters/\(cluster)"
  }

  /// Where this server listens, for `fleet-sim kubeconfig` and other processes.
  public var endpoints: Endpoints {
    Endpoints(
      port: port, tlsPort: tlsPort, clusters: clusterNames,
      stateDirectory: options.stateDirectory ?? "")
  }

  /// Writes a kubeconfig with one context per virtual cluster (TLS with the client certificate
  /// when TLS is on, unless `tls: false`; the bearer token with `useToken`); the first cluster is
  /// the current context.
  public func writeKubeconfig(to path: String, tls: Bool? = nil, useToken: Bool = false) throws {
    var endpoints = self.endpoints
    if tls == false { endpoints.tlsPort = 0 }
    try endpoints.kubeconfig(useToken: useToken).write(
      toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
  }

  public func cluster(_ name: String) -> VirtualCluster? { clusters[name] }

  /// Returns once the controller has run every step that is due; with a `ManualClock`, call it
  /// after `advance` to observe the statuses the controller wrote.
  public func settle() { controller.settle() }

  public func shutdown() {
    controller.stop()
    for channel in channels { try? channel.close().wait() }
    channels = []
    try? group.syncShutdownGracefully()
  }
}
