// The easy-handle side of libcurl: options, transfers, and CURLcode to HTTPError (the multi
// side is HTTPLoop.swift).
import CCurl
import FleetCore
import Foundation

/// libcurl's process-wide setup. `curl_global_init` is not thread-safe, so it runs exactly once:
/// Swift initializes a static constant once, atomically, on first use.
enum CurlLibrary {
  static let ready: Bool = fw_curl_global_init_all() == CURLE_OK
}

/// What every transfer of one transport is configured with.
struct CurlSettings: Sendable {
  var tls: TLSOptions
  var credentials: Credentials
  var proxy: ProxySettings
  var httpVersion: HTTPVersionPreference
  var log: (@Sendable (String) -> Void)?

  /// Everything that must never be printed: the token and in-memory key.
  var secrets: [String] {
    var out: [String] = []
    if let token = credentials.secret { out.append(token) }
    if case .pem(let bytes) = tls.clientKey { out.append(String(decoding: bytes, as: UTF8.self)) }
    return out
  }
}

/// The outcome of one attempt, before retries are considered.
enum CurlOutcome: Sendable {
  case response(HTTPResponse)
  case failure(HTTPError.Reason)
}

/// Data the callbacks fill during one transfer.
private final class TransferState {
  var body: [UInt8] = []
  var headers: [(name: String, value: String)] = []
  var statusLine = ""
  let log: (@Sendable (String) -> Void)?
  let secrets: [String]

  init(log: (@Sendable (String) -> Void)?, secrets: [String]) {
    self.log = log
    self.secrets = secrets
  }
}

private let receiveBody: fw_curl_data_callback = { data, size, count, context in
  let length = size * count
  guard let data, let context else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
  state.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
  return length
}

private let receiveHeader: fw_curl_data_callback = { data, size, count, context in
  let length = size * count
  guard let data, let context else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
  let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    .trimmingCharacters(in: .whitespacesAndNewlines)
  if line.hasPrefix("HTTP/") {
    // A new status line (after a 100 Continue, or a proxy's CONNECT answer) starts over.
    state.statusLine = line
    state.headers = []
  } else if let colon = line.firstIndex(of: ":") {
    let name = String(line[..<colon])
    let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    state.headers.append((name, value))
  }
  return length
}

private let debugLine: fw_curl_debug_callback = { _, type, data, size, context in
  guard let data, let context else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
  guard let log = state.log else { return 0 }
  let prefix: String
  switch type {
  case CURLINFO_TEXT: prefix = "* "
  case CURLINFO_HEADER_OUT: prefix = "> "
  case CURLINFO_HEADER_IN: prefix = "< "
  default: return 0
  }
  let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
  let scrubbed = Redaction.scrub(text, secrets: state.secrets)
  // "\r\n" is one Character in Swift, so split on any newline rather than on "\n".
  for line in scrubbed.split(whereSeparator: \.isNewline) {
    log(prefix + line)
  }
  return 0
}

/// One request on one easy handle, from options to outcome. The loop (HTTPLoop) owns the
/// handle while the transfer runs and takes it back afterwards; the transfer owns what the
/// handle points into (header lists, the error buffer, the callbacks' state), so those live
/// exactly as long as the transfer.
final class CurlTransfer: @unchecked Sendable {
  let easy: UnsafeMutableRawPointer
  let request: HTTPRequest
  let settings: CurlSettings
  /// Called once, on the loop's thread, with the outcome; must return quickly.
  let finish: (CurlOutcome) -> Void
  private let state: TransferState
  private let errorBuffer: UnsafeMutablePointer<CChar>
  private var lists: [UnsafeMutablePointer<curl_slist>] = []
  private var target = URLTarget(scheme: "", host: "", port: 0, url: "")
  private var viaProxy = false

  init(
    easy: UnsafeMutableRawPointer, request: HTTPRequest, settings: CurlSettings,
    finish: @escaping (CurlOutcome) -> Void
  ) {
    self.easy = easy
    self.request = request
    self.settings = settings
    self.finish = finish
    state = TransferState(log: settings.log, secrets: settings.secrets)
    let size = fw_curl_error_size()
    errorBuffer = .allocate(capacity: size)
    errorBuffer.initialize(repeating: 0, count: size)
  }

  deinit {
    lists.forEach { curl_slist_free_all($0) }
    errorBuffer.deallocate()
  }

  /// Sets every option; returns why the request cannot be sent, nil when it is ready.
  func configure() -> HTTPError.Reason? {
    switch URLTarget.parse(request.url) {
    case .success(let parsed): target = parsed
    case .failure(let reason): return reason
    }
    let context = Unmanaged.passUnretained(state).toOpaque()
    var options = OptionWriter(easy: easy)
    options.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
    options.set(CURLOPT_NOSIGNAL, 1)
    options.set(CURLOPT_TCP_KEEPALIVE, 1)
    options.set(CURLOPT_PROTOCOLS_STR, "http,https")
    options.set(CURLOPT_CONNECTTIMEOUT_MS, DurationSeconds.milliseconds(request.connectTimeout))
    options.set(CURLOPT_TIMEOUT_MS, DurationSeconds.milliseconds(request.timeout))
    options.setCallback(CURLOPT_WRITEFUNCTION, receiveBody)
    options.set(CURLOPT_WRITEDATA, pointer: context)
    options.setCallback(CURLOPT_HEADERFUNCTION, receiveHeader)
    options.set(CURLOPT_HEADERDATA, pointer: context)
    if settings.log != nil {
      options.set(CURLOPT_VERBOSE, 1)
      options.record(fw_curl_easy_setopt_debug_callback(easy, debugLine))
      options.set(CURLOPT_DEBUGDATA, pointer: context)
    }
    options.set(CURLOPT_HTTP_VERSION, Self.versionOption(settings.httpVersion))

    // Serving a certificate for another name (tls-server-name): ask for that name, so SNI and
    // verification use it, and route the connection to the real host.
    if let serverName = settings.tls.serverName, target.host != serverName {
      options.set(CURLOPT_URL, target.replacingHost(with: serverName))
      let route = "\(serverName):\(target.port):\(target.host):\(target.port)"
      if let list = curl_slist_append(nil, route) {
        lists.append(list)
        options.record(fw_curl_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, list))
      }
    } else {
      options.set(CURLOPT_URL, request.url)
    }

    let proxy = settings.proxy.proxy(for: request.url)
    viaProxy = proxy != nil
    // An empty proxy also stops libcurl from reading the environment on its own.
    options.set(CURLOPT_PROXY, proxy ?? "")
    if let noProxy = settings.proxy.noProxy { options.set(CURLOPT_NOPROXY, noProxy) }

    applyTLS(settings.tls, to: &options)
    applyMethod(request, to: &options)

    var headerList: UnsafeMutablePointer<curl_slist>?
    var headerLines = request.headers.map { "\($0.name): \($0.value)" }
    if case .bearer(let token) = settings.credentials {
      headerLines.append("Authorization: Bearer \(token)")
    }
    if request.body != nil { headerLines.append("Expect:") }
    for line in headerLines { headerList = curl_slist_append(headerList, line) }
    if let headerList {
      lists.append(headerList)
      options.record(fw_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))
    }
    if let failed = options.firstFailure {
      return .other(code: Int(failed.rawValue), message: Self.text(of: failed))
    }
    return nil
  }

  /// What the finished transfer amounts to; read before the handle is reset.
  func outcome(_ code: CURLcode) -> CurlOutcome {
    guard code == CURLE_OK else {
      return .failure(
        reason(for: code, request: request, target: target, viaProxy: viaProxy, settings: settings))
    }
    return .response(response(state: state))
  }

  private func applyTLS(_ tls: TLSOptions, to options: inout OptionWriter) {
    if tls.insecureSkipVerify {
      options.set(CURLOPT_SSL_VERIFYPEER, 0)
      options.set(CURLOPT_SSL_VERIFYHOST, 0)
    }
    switch tls.ca {
    case .file(let path)?: options.set(CURLOPT_CAINFO, path)
    case .pem(let bytes)?: options.set(CURLOPT_CAINFO_BLOB, blob: bytes)
    case nil: break
    }
    switch tls.clientCertificate {
    case .file(let path)?: options.set(CURLOPT_SSLCERT, path)
    case .pem(let bytes)?: options.set(CURLOPT_SSLCERT_BLOB, blob: bytes)
    case nil: break
    }
    if tls.clientCertificate != nil { options.set(CURLOPT_SSLCERTTYPE, "PEM") }
    switch tls.clientKey {
    case .file(let path)?: options.set(CURLOPT_SSLKEY, path)
    case .pem(let bytes)?: options.set(CURLOPT_SSLKEY_BLOB, blob: bytes)
    case nil: break
    }
    if tls.clientKey != nil { options.set(CURLOPT_SSLKEYTYPE, "PEM") }
  }

  private func applyMethod(_ request: HTTPRequest, to options: inout OptionWriter) {
    switch request.method {
    case .get: options.set(CURLOPT_HTTPGET, 1)
    case .head: options.set(CURLOPT_NOBODY, 1)
    case .post: options.set(CURLOPT_POST, 1)
    case .put, .patch, .delete, .options:
      options.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
    }
    if let body = request.body {
      // libcurl sends a body only as a POST; other methods keep their name on the wire.
      if request.method != .post {
        options.set(CURLOPT_POST, 1)
        options.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
      }
      options.record(
        fw_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
      var copy = body
      copy.withUnsafeMutableBytes { buffer in
        // COPYPOSTFIELDS copies at once, so the buffer need not outlive this call.
        options.set(CURLOPT_COPYPOSTFIELDS, pointer: buffer.baseAddress)
      }
    }
  }

  private func response(state: TransferState) -> HTTPResponse {
    var status = 0
    _ = fw_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
    var version = 0
    _ = fw_curl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
    var micros: curl_off_t = 0
    _ = fw_curl_easy_getinfo_off_t(easy, CURLINFO_TOTAL_TIME_T, &micros)
    var connects = 0
    _ = fw_curl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
    return HTTPResponse(
      status: status, version: Self.version(version), headers: state.headers, body: state.body,
      duration: .microseconds(Int64(micros)), connectionsOpened: connects)
  }

  /// Turns a failed transfer into what a person needs to read: which step failed, and why.
  private func reason(
    for code: CURLcode, request: HTTPRequest, target: URLTarget, viaProxy: Bool,
    settings: CurlSettings
  ) -> HTTPError.Reason {
    let detail = Redaction.scrub(String(cString: errorBuffer), secrets: settings.secrets)
    let lowered = detail.lowercased()
    var osError = 0
    _ = fw_curl_easy_getinfo_long(easy, CURLINFO_OS_ERRNO, &osError)
    let connectMs = min(
      DurationSeconds.milliseconds(request.connectTimeout),
      DurationSeconds.milliseconds(request.timeout))
    switch code {
    case CURLE_UNSUPPORTED_PROTOCOL:
      return .invalidURL("unsupported scheme '\(target.scheme)'")
    case CURLE_URL_MALFORMAT:
      return .invalidURL("malformed")
    case CURLE_COULDNT_RESOLVE_HOST:
      return .hostNotFound(target.host)
    case CURLE_COULDNT_RESOLVE_PROXY:
      return .proxyFailed("could not resolve the proxy host")
    case CURLE_COULDNT_CONNECT:
      let cause = osError == Int(ECONNREFUSED) ? "connection refused" : Self.errnoText(osError)
      if viaProxy { return .proxyFailed(cause) }
      return osError == Int(ECONNREFUSED) ? .connectionRefused : .connectFailed(cause)
    case CURLE_OPERATION_TIMEDOUT:
      // libcurl words the two phases differently; the handshake counts as connecting.
      if lowered.hasPrefix("connection timed out") || lowered.hasPrefix("resolving timed out")
        || lowered.contains("ssl connection timeout")
      {
        return .connectTimeout(milliseconds: connectMs)
      }
      return .timeout(milliseconds: DurationSeconds.milliseconds(request.timeout))
    case CURLE_PEER_FAILED_VERIFICATION:
      if lowered.contains("subject name") || lowered.contains("host name") {
        return .tlsHostnameMismatch(settings.tls.serverName ?? target.host)
      }
      let marker = "SSL certificate problem: "
      if let range = detail.range(of: marker) {
        return .tlsUntrusted(String(detail[range.upperBound...]))
      }
      // curl's message can be overwritten by a later one ("Send failure: Broken pipe" when the
      // server drops the connection as curl sends its alert); the verification result it kept
      // still says which check failed. A chain OpenSSL accepted (0) leaves the host name,
      // which curl checks itself.
      var verifyResult = 0
      _ = fw_curl_easy_getinfo_long(easy, CURLINFO_SSL_VERIFYRESULT, &verifyResult)
      let host = settings.tls.serverName ?? target.host
      return CurlVerifyResult.reason(verifyResult, host: host) ?? .tlsHostnameMismatch(host)
    case CURLE_SSL_CONNECT_ERROR, CURLE_RECV_ERROR, CURLE_SEND_ERROR:
      if lowered.contains("certificate required")
        || (settings.tls.clientCertificate == nil && lowered.contains("alert handshake failure"))
      {
        return .tlsClientCertificateRequired
      }
      if settings.tls.clientCertificate != nil
        && (lowered.contains("alert bad certificate") || lowered.contains("alert unknown ca")
          || lowered.contains("alert certificate unknown"))
      {
        return .tlsClientCertificateRejected
      }
      // Under load the server may drop the connection while curl still writes, after the
      // handshake already failed verification: curl then says "Send failure: Broken pipe",
      // but the verification result it kept is the reason a person can act on. (Without
      // verification curl keeps the result too, and goes on: then it is no reason.)
      var verifyResult = 0
      _ = fw_curl_easy_getinfo_long(easy, CURLINFO_SSL_VERIFYRESULT, &verifyResult)
      if !settings.tls.insecureSkipVerify,
        let failure = CurlVerifyResult.reason(
          verifyResult, host: settings.tls.serverName ?? target.host)
      {
        return failure
      }
      if code == CURLE_SSL_CONNECT_ERROR { return .tlsHandshakeFailed(Self.sslReason(detail)) }
      if osError == Int(ECONNRESET) || lowered.contains("reset") { return .connectionReset }
      return .other(code: Int(code.rawValue), message: detail)
    case CURLE_SSL_CERTPROBLEM:
      return .tlsConfiguration(
        lowered.contains("key")
          ? "the client key could not be loaded" : "the client certificate could not be loaded")
    case CURLE_SSL_CACERT_BADFILE:
      return .tlsConfiguration("the CA certificates could not be loaded")
    case CURLE_GOT_NOTHING:
      return .emptyResponse
    case CURLE_PARTIAL_FILE:
      return .incompleteResponse
    case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM:
      return .malformedResponse(detail.isEmpty ? Self.text(of: code) : detail)
    case CURLE_ABORTED_BY_CALLBACK:
      return .cancelled
    default:
      return .other(
        code: Int(code.rawValue), message: detail.isEmpty ? Self.text(of: code) : detail)
    }
  }

  /// OpenSSL's words after the library prefix: "tlsv1 alert protocol version".
  private static func sslReason(_ detail: String) -> String {
    if let range = detail.range(of: "SSL routines::") {
      return String(detail[range.upperBound...]).components(separatedBy: ",")[0]
    }
    return detail
  }

  private static func errnoText(_ code: Int) -> String {
    guard code != 0, let text = strerror(Int32(code)) else { return "unknown error" }
    return String(cString: text).lowercased()
  }

  private static func text(of code: CURLcode) -> String {
    guard let text = curl_easy_strerror(code) else { return "unknown error" }
    return String(cString: text)
  }

  private static func versionOption(_ preference: HTTPVersionPreference) -> Int {
    switch preference {
    case .http1_1: return CURL_HTTP_VERSION_1_1
    case .http2: return CURL_HTTP_VERSION_2TLS
    case .http2PriorKnowledge: return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
    }
  }

  private static func version(_ value: Int) -> HTTPVersion {
    switch value {
    case CURL_HTTP_VERSION_1_0: return .http1_0
    case CURL_HTTP_VERSION_1_1: return .http1_1
    case CURL_HTTP_VERSION_2_0: return .http2
    case CURL_HTTP_VERSION_3: return .http3
    default: return .unknown
    }
  }
}

/// Sets options, remembering the first that libcurl refused.
private struct OptionWriter {
  let easy: UnsafeMutableRawPointer
  var firstFailure: CURLcode?

  mutating func record(_ code: CURLcode) {
    if code != CURLE_OK && firstFailure == nil { firstFailure = code }
  }

  mutating func set(_ option: CURLoption, _ value: Int) {
    record(fw_curl_easy_setopt_long(easy, option, value))
  }

  /// libcurl copies string options (since 7.17), so a temporary C string is enough.
  mutating func set(_ option: CURLoption, _ value: String) {
    let code = value.withCString { fw_curl_easy_setopt_string(easy, option, $0) }
    record(code)
  }

  mutating func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) {
    record(fw_curl_easy_setopt_pointer(easy, option, pointer))
  }

  mutating func setCallback(_ option: CURLoption, _ callback: fw_curl_data_callback) {
    record(fw_curl_easy_setopt_data_callback(easy, option, callback))
  }

  /// In-memory PEM; CURL_BLOB_COPY makes libcurl keep its own copy.
  mutating func set(_ option: CURLoption, blob bytes: [UInt8]) {
    var copy = bytes
    let code = copy.withUnsafeMutableBytes { buffer in
      var blob = curl_blob(
        data: buffer.baseAddress, len: buffer.count, flags: UInt32(CURL_BLOB_COPY))
      return fw_curl_easy_setopt_blob(easy, option, &blob)
    }
    record(code)
  }
}

/// The parts of a URL the transport needs for routing and messages.
struct URLTarget {
  var scheme: String
  var host: String
  var port: Int
  var url: String

  static func parse(_ url: String) -> Result<URLTarget, HTTPError.Reason> {
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased()
    else { return .failure(.invalidURL("malformed")) }
    guard scheme == "http" || scheme == "https" else {
      return .failure(.invalidURL("unsupported scheme '\(scheme)'"))
    }
    guard let host = components.host, !host.isEmpty else {
      return .failure(.invalidURL("no host"))
    }
    let port = components.port ?? (scheme == "https" ? 443 : 80)
    return .success(URLTarget(scheme: scheme, host: host, port: port, url: url))
  }

  func replacingHost(with name: String) -> String {
    guard var components = URLComponents(string: url) else { return url }
    components.host = name
    return components.string ?? url
  }
}

/// OpenSSL's certificate verification result (`CURLINFO_SSL_VERIFYRESULT`, an `X509_V_ERR_*`
/// code) in OpenSSL's own words, as curl reports them for a failed verification.
enum CurlVerifyResult {
  /// The failure a non-zero verification result names; nil when verification passed (0) or
  /// was never reached.
  static func reason(_ result: Int, host: String) -> HTTPError.Reason? {
    switch result {
    case 0: return nil
    case 62: return .tlsHostnameMismatch(host)
    default:
      return .tlsUntrusted(
        openSSLText[result] ?? "certificate verification failed (OpenSSL verify result \(result))")
    }
  }

  /// `X509_verify_cert_error_string` for the results a deployer meets.
  static let openSSLText: [Int: String] = [
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    23: "certificate revoked",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
  ]
}
