// A send or receive failure after a handshake that failed verification is reported as the
// verification failure (CURLINFO_SSL_VERIFYRESULT), so the typed error does not depend on
// whether the server's close raced curl's next write.
import Testing

@testable import HTTP

@Suite struct VerifyResultTests {
  @Test func aFailedVerificationIsNamedInOpenSSLsWords() {
    #expect(
      CurlVerifyResult.reason(20, host: "127.0.0.1")
        == .tlsUntrusted("unable to get local issuer certificate"))
    #expect(
      CurlVerifyResult.reason(10, host: "127.0.0.1") == .tlsUntrusted("certificate has expired"))
    #expect(
      CurlVerifyResult.reason(62, host: "api.prod-eu-1")
        == .tlsHostnameMismatch("api.prod-eu-1"))
    #expect(
      CurlVerifyResult.reason(65, host: "127.0.0.1")
        == .tlsUntrusted("certificate verification failed (OpenSSL verify result 65)"))
  }

  @Test func aPassedVerificationIsNoReason() {
    #expect(CurlVerifyResult.reason(0, host: "127.0.0.1") == nil)
  }
}
