// TLS servers for the HTTP client's tests, presenting the shared test certificates.
import FleetwaveTestSupport
import Foundation
import NIOCore
import NIOSSL

extension TLSMaterial {
  /// A TLS server presenting `certificate` ("server", "other", "rogue-server"); with
  /// `requireClientCertificate` it demands a client certificate issued by the test CA.
  func server(
    certificate: String = "server", requireClientCertificate: Bool = false,
    route: @escaping LoopbackServer.Route = { _ in .ok() }
  ) throws -> LoopbackServer {
    let chain = try NIOSSLCertificate(file: directory.file("\(certificate).crt"), format: .pem)
    let key = try NIOSSLPrivateKey(file: directory.file("\(certificate).key"), format: .pem)
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: [.certificate(chain)], privateKey: .privateKey(key))
    if requireClientCertificate {
      configuration.certificateVerification = .noHostnameVerification
      configuration.trustRoots = .certificates(
        try NIOSSLCertificate.fromPEMFile(caFile))
    }
    let context = try NIOSSLContext(configuration: configuration)
    return try LoopbackServer(
      secure: { channel in
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
      }, route: route)
  }
}
