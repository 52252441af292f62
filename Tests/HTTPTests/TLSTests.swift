// TLS against loopback servers with certificates made by openssl: trust, names, client identity.
import FleetCore
import FleetwaveTestSupport
import Foundation
import HTTP
import Testing

@Suite struct TLSTests {
  func transport(_ tls: TLSOptions) -> HTTPTransport {
    HTTPTransport(.init(tls: tls, proxy: .direct))
  }

  func get(_ transport: HTTPTransport, _ server: LoopbackServer) -> Result<HTTPResponse, HTTPError>
  {
    send(transport, HTTPRequest(.get, url(server), retry: .none))
  }

  func url(_ server: LoopbackServer) -> String { "https://127.0.0.1:\(server.port)/healthz" }

  @Test func trustsACAFromAFileOrFromMemory() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server { _ in .ok("secure") }
    defer { server.stop() }
    let fromFile = try get(transport(TLSOptions(ca: .file(tls.caFile))), server).get()
    #expect(fromFile.text == "secure")
    #expect(fromFile.version == .http1_1)
    let fromMemory = try get(transport(TLSOptions(ca: .pem(tls.caPEM))), server).get()
    #expect(fromMemory.text == "secure")
  }

  @Test func unknownCAIsATypedVerificationError() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(certificate: "rogue-server")
    defer { server.stop() }
    let result = get(transport(TLSOptions(ca: .pem(tls.caPEM))), server)
    #expect(
      errorText(result)
        == "GET \(url(server)): TLS certificate not trusted: unable to get local issuer certificate"
    )
    if case .failure(let error) = result {
      #expect(error.reason == .tlsUntrusted("unable to get local issuer certificate"))
    }
  }

  @Test func insecureModeSkipsVerificationOnlyWhenAskedTo() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(certificate: "rogue-server")
    defer { server.stop() }
    let response = try get(transport(TLSOptions(insecureSkipVerify: true)), server).get()
    #expect(response.status == 200)
  }

  @Test func wrongHostnameIsNamed() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(certificate: "other")
    defer { server.stop() }
    let result = get(transport(TLSOptions(ca: .file(tls.caFile))), server)
    #expect(
      errorText(result) == "GET \(url(server)): TLS certificate does not match host '127.0.0.1'")
  }

  @Test func serverNameOverridesTheNameVerified() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(certificate: "other") { request in .ok(request.header("Host") ?? "")
    }
    defer { server.stop() }
    let options = TLSOptions(ca: .file(tls.caFile), serverName: "other.test")
    let response = try get(transport(options), server).get()
    #expect(response.status == 200)
    #expect(response.text == "other.test:\(server.port)")
  }

  @Test func missingClientCertificateIsReported() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(requireClientCertificate: true)
    defer { server.stop() }
    let result = get(transport(TLSOptions(ca: .file(tls.caFile))), server)
    #expect(
      errorText(result)
        == "GET \(url(server)): TLS handshake refused: the server requires a client certificate")
  }

  @Test func clientCertificateFromFilesOrMemoryIsAccepted() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(requireClientCertificate: true) { _ in .ok("mutual") }
    defer { server.stop() }
    let files = TLSOptions(
      ca: .file(tls.caFile), clientCertificate: .file(tls.clientCertFile),
      clientKey: .file(tls.clientKeyFile))
    #expect(try get(transport(files), server).get().text == "mutual")
    let memory = TLSOptions(
      ca: .pem(tls.caPEM), clientCertificate: .pem(tls.read("client.crt")),
      clientKey: .pem(tls.read("client.key")))
    #expect(try get(transport(memory), server).get().text == "mutual")
  }

  @Test func clientCertificateFromAnotherCAIsRejected() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(requireClientCertificate: true)
    defer { server.stop() }
    let options = TLSOptions(
      ca: .file(tls.caFile), clientCertificate: .file(tls.rogueClientCertFile),
      clientKey: .file(tls.rogueClientKeyFile))
    let result = get(transport(options), server)
    #expect(
      errorText(result)
        == "GET \(url(server)): TLS handshake refused: the server rejected the client certificate")
  }

  @Test func aBrokenInMemoryKeyIsReportedWithoutItsContent() throws {
    let tls = try TLSMaterial.get()
    let server = try tls.server(requireClientCertificate: true)
    defer { server.stop() }
    let secretKey = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
    let options = TLSOptions(
      ca: .file(tls.caFile), clientCertificate: .pem(tls.read("client.crt")),
      clientKey: .pem(secretKey))
    let result = get(transport(options), server)
    #expect(
      errorText(result)
        == "GET \(url(server)): TLS setup failed: the client key could not be loaded")
    #expect(!errorText(result).contains("TOPSECRET"))
  }
}
