// The emulator's own certificate authority, serving certificate, client certificate and bearer
// token, generated with the `openssl` command into a state directory and reused on restart.
import Foundation
import ProcessGroups

/// Paths of the TLS material in a state directory; the token is read from `token`.
public struct Credentials: Sendable {
  public let directory: String
  public var caCertificate: String { directory + "/ca.crt" }
  public var serverCertificate: String { directory + "/server.crt" }
  public var serverKey: String { directory + "/server.key" }
  public var clientCertificate: String { directory + "/client.crt" }
  public var clientKey: String { directory + "/client.key" }
  var tokenFile: String { directory + "/token" }

  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// The bearer token clients may present instead of a client certificate.
  public func token() throws -> String {
    try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
      in: .whitespacesAndNewlines)
  }

  /// Creates whatever is missing in `directory` (private keys mode 0600).
  public static func prepare(in directory: String) throws -> Credentials {
    let credentials = Credentials(directory: directory)
    let files = FileManager.default
    try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let all = [
      credentials.caCertificate, credentials.serverCertificate, credentials.serverKey,
      credentials.clientCertificate, credentials.clientKey, credentials.tokenFile,
    ]
    if all.allSatisfy({ files.fileExists(atPath: $0) }) { return credentials }
    let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    try openssl(
      ["req", "-x509"] + curve + [
        "-keyout", directory + "/ca.key", "-out", credentials.caCertificate, "-days", "3650",
        "-subj", "/CN=fleet-sim-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      ])
    try issue(
      credentials, name: "server", subject: "/CN=fleet-sim",
      extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        + "keyUsage=critical,digitalSignature,keyEncipherment\n", curve: curve)
    try issue(
      credentials, name: "client", subject: "/O=system:masters/CN=fleet-sim-admin",
      extensions:
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
      curve: curve)
    var random = SystemRandomNumberGenerator()
    let token = (0..<4).map { _ in String(random.next() as UInt64, radix: 16) }.joined()
    try token.write(toFile: credentials.tokenFile, atomically: true, encoding: .utf8)
    for secret in [
      directory + "/ca.key", credentials.serverKey, credentials.clientKey, credentials.tokenFile,
    ] {
      try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secret)
    }
    return credentials
  }

  private static func issue(
    _ credentials: Credentials, name: String, subject: String, extensions: String, curve: [String]
  ) throws {
    let dir = credentials.directory
    try extensions.write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
    try openssl(
      ["req"] + curve + [
        "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr", "-subj", subject,
      ])
    try openssl([
      "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", credentials.caCertificate,
      "-CAkey", "\(dir)/ca.key", "-CAcreateserial", "-out", "\(dir)/\(name).crt", "-days", "825",
      "-extfile", "\(dir)/\(name).ext",
    ])
  }

  private static func openssl(_ arguments: [String]) throws {
    let ran = ProcessGroupCommand.capture(
      "/usr/bin/env", ["openssl"] + arguments, environment: ProcessInfo.processInfo.environment,
      timeout: .seconds(60))
    guard ran.outcome == .exited(0) else {
      // openssl's stderr names files and options, never key material.
      throw Failure(description: "openssl \(arguments.first ?? "") failed: \(ran.errorText)")
    }
  }
}
