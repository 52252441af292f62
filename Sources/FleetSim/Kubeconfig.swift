// Writing a kubeconfig with one context per virtual cluster.
import FleetCore
import Foundation

enum Kubeconfig {
  /// YAML text; every string is double-quoted so names and paths need no further escaping.
  static func text(
    clusters: [String], server: (String) -> String, credentials: Credentials?, token: String?,
    useToken: Bool, current: String?
  ) -> String {
    func q(_ s: String) -> String {
      "\""
        + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
          of: "\"", with: "\\\"") + "\""
    }
    // Both users are written; the contexts name the one asked for.
    let user =
      credentials == nil
      ? "fleet-sim" : (useToken && token != nil ? "fleet-sim-token" : "fleet-sim-admin")
    var out = "apiVersion: v1\nkind: Config\nclusters:\n"
    for name in clusters {
      out += "- name: \(q(name))\n  cluster:\n    server: \(q(server(name)))\n"
      if let credentials { out += "    certificate-authority: \(q(credentials.caCertificate))\n" }
    }
    out += "contexts:\n"
    for name in clusters {
      out += "- name: \(q(name))\n  context:\n    cluster: \(q(name))\n    user: \(q(user))\n"
      out += "    namespace: \"default\"\n"
    }
    out += "users:\n"
    if let credentials {
      out += "- name: \"fleet-sim-admin\"\n  user:\n"
      out += "    client-certificate: \(q(credentials.clientCertificate))\n"
      out += "    client-key: \(q(credentials.clientKey))\n"
      if let token { out += "- name: \"fleet-sim-token\"\n  user:\n    token: \(q(token))\n" }
    } else {
      out += "- name: \"fleet-sim\"\n  user: {}\n"
    }
    if let current { out += "current-context: \(q(current))\n" }
    return out
  }
}

/// Where a running emulator listens, saved in its state directory so `fleet-sim kubeconfig` can
/// write a kubeconfig for it from another process.
public struct Endpoints: Sendable, Equatable {
  public var port: Int
  public var tlsPort: Int
  public var clusters: [String]
  public var stateDirectory: String

  public static func file(in directory: String) -> String { directory + "/endpoints.json" }

  public struct NoStateDirectory: Error, CustomStringConvertible {
    public var description: String { "the server was started without a state directory" }
  }

  public func write() throws {
    guard !stateDirectory.isEmpty else { throw NoStateDirectory() }
    let value: Value = [
      "port": .int(Int64(port)), "tlsPort": .int(Int64(tlsPort)),
      "clusters": .sequence(clusters.map { .string($0) }),
    ]
    try JSONWriter.string(value, options: .init(pretty: true))
      .write(toFile: Self.file(in: stateDirectory), atomically: true, encoding: .utf8)
  }

  public static func load(from directory: String) throws -> Endpoints {
    let path = file(in: directory)
    let value = try JSONReader.parse(
      Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
    return Endpoints(
      port: Int(value["port"]?.int ?? 0), tlsPort: Int(value["tlsPort"]?.int ?? 0),
      clusters: (value["clusters"]?.sequence ?? []).compactMap(\.string), stateDirectory: directory)
  }

  /// A kubeconfig for these endpoints: TLS with the client certificate when a TLS port is open.
  public func kubeconfig(useToken: Bool = false) throws -> String {
    let secure = tlsPort != 0
    // kubectl resolves relative paths in a kubeconfig against the kubeconfig's own folder, not
    // the working directory: name the certificates by absolute path.
    let absolute = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
    let credentials = secure ? Credentials(directory: absolute) : nil
    return Kubeconfig.text(
      clusters: clusters,
      server: {
        secure
          ? "https://127.0.0.1:\(tlsPort)/clusters/\($0)"
          : "http://127.0.0.1:\(port)/clusters/\($0)"
      },
      credentials: credentials, token: try credentials?.token(), useToken: useToken,
      current: clusters.first)
  }
}
