// HTTP/2 negotiation, against a real HTTP/2 server: Prometheus (a Go server) serving TLS with
// the test CA's certificate.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Testing

@Suite(
  .enabled(
    if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"),
    "needs /usr/bin/prometheus as an HTTP/2 server (Scripts/bootstrap.sh installs it)"))
struct HTTP2Tests {
  @Test func negotiatesHTTP2OverTLSAndFallsBackWhenTold() throws {
    let tls = try TLSMaterial.get()
    let dir = try TemporaryDirectory("fleetwave-h2")
    defer { dir.remove() }
    let config = try dir.write("prometheus.yml", "global: {scrape_interval: 1m}\n")
    let web = try dir.write(
      "web.yml",
      """
      tls_server_config:
        cert_file: \(tls.directory.file("server.crt"))
        key_file: \(tls.directory.file("server.key"))
      """)
    let port = try freeLoopbackPort()
    let server = try TetheredProcess(
      "/usr/bin/prometheus",
      [
        "--config.file=\(config)", "--web.config.file=\(web)",
        "--storage.tsdb.path=\(dir.file("data"))", "--web.listen-address=127.0.0.1:\(port)",
        "--log.level=error",
      ])
    defer { server.stop() }
    let url = "https://127.0.0.1:\(port)/-/ready"
    let h2 = HTTPTransport(.init(tls: TLSOptions(ca: .file(tls.caFile)), proxy: .direct))
    #expect(
      eventually(timeout: 60) {
        (try? h2.send(HTTPRequest(.get, url, retry: .none)))?.status == 200
      })
    let negotiated = try h2.send(HTTPRequest(.get, url))
    #expect(negotiated.version == .http2)
    #expect(negotiated.status == 200)

    let h1 = HTTPTransport(
      .init(tls: TLSOptions(ca: .file(tls.caFile)), proxy: .direct, httpVersion: .http1_1))
    #expect(try h1.send(HTTPRequest(.get, url)).version == .http1_1)
  }
}
