// Certificates for the TLS tests, made by the openssl CLI in a temporary directory: a CA with
// server and client certificates, for fleetwave's HTTP client and for the servers tests start
// (a TLS registry).
import Foundation

/// A CA with server and client certificates, plus a second, unrelated CA ("rogue") and a server
/// certificate for a name other than 127.0.0.1.
public struct TLSMaterial: Sendable {
  public let directory: TemporaryDirectory

  public var caFile: String { directory.file("ca.crt") }
  public var caPEM: String { read("ca.crt") }
  public var clientCertFile: String { directory.file("client.crt") }
  public var clientKeyFile: String { directory.file("client.key") }
  public var rogueClientCertFile: String { directory.file("rogue-client.crt") }
  public var rogueClientKeyFile: String { directory.file("rogue-client.key") }

  public func read(_ name: String) -> String {
    (try? String(contentsOfFile: directory.file(name), encoding: .utf8)) ?? ""
  }

  /// Made once per test process; openssl takes a moment per key.
  public static let shared: Result<TLSMaterial, any Error> = Result { try TLSMaterial() }

  public static func get() throws -> TLSMaterial { try shared.get() }

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
}

public struct TLSMaterialError: Error, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}
