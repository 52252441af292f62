import FleetwaveTestSupport
// Certificates for the TLS tests, made by the openssl CLI in a temporary directory.
import Foundation
import NIOCore
import NIOSSL

/// A CA with server and client certificates, plus a second, unrelated CA ("rogue") and a server
/// certificate for a name other than 127.0.0.1.
struct TLSMaterial: Sendable {
  let directory: TemporaryDirectory

  var caFile: String { directory.file("ca.crt") }
  var caPEM: String { read("ca.crt") }
  var clientCertFile: String { directory.file("client.crt") }
  var clientKeyFile: String { directory.file("client.key") }
  var rogueClientCertFile: String { directory.file("rogue-client.crt") }
  var rogueClientKeyFile: String { directory.file("rogue-client.key") }

  func read(_ name: String) -> String {
    (try? String(contentsOfFile: directory.file(name), encoding: .utf8)) ?? ""
  }

  /// Made once per test process; openssl takes a moment per key.
  static let shared: Result<TLSMaterial, any Error> = Result { try TLSMaterial() }

  static func get() throws -> TLSMaterial { try shared.get() }

  private init() throws {
    directory = try TemporaryDirectory("fleetwave-tls")
    let dir = directory
    try dir.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    try dir.write("other.ext", "subjectAltName=DNS:other.test\n")
    try dir.write("client.ext", "extendedKeyUsage=clientAuth\n")
    try makeCA("ca", subject: "/CN=Fleetwave Test CA")
    try makeCA("rogue-ca", subject: "/CN=Rogue Test CA")
    try issue("server", by: "ca", subject: "/CN=127.0.0.1", extensions: "server.ext")
    try issue("other", by: "ca", subject: "/CN=other.test", extensions: "other.ext")
    try issue("rogue-server", by: "rogue-ca", subject: "/CN=127.0.0.1", extensions: "server.ext")
    try issue("client", by: "ca", subject: "/CN=fleetwave-client", extensions: "client.ext")
    try issue("rogue-client", by: "rogue-ca", subject: "/CN=rogue-client", extensions: "client.ext")
  }

  private func openssl(_ arguments: [String]) throws {
    let result = try runProcess("/usr/bin/openssl", arguments, currentDirectory: directory.path)
    guard result.status == 0 else {
      throw TLSMaterialError(
        message: "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
    }
  }

  private func makeCA(_ name: String, subject: String) throws {
    try openssl([
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", "\(name).key", "-out", "\(name).crt", "-days", "2", "-subj", subject,
    ])
  }

  private func issue(_ name: String, by ca: String, subject: String, extensions: String) throws {
    try openssl([
      "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
    ])
    try openssl([
      "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).crt", "-CAkey", "\(ca).key",
      "-CAcreateserial", "-out", "\(name).crt", "-days", "2", "-extfile", extensions,
    ])
  }

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

struct TLSMaterialError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
