import FleetCore
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct KubeconfigTests {
  let first = """
    apiVersion: v1
    kind: Config
    current-context: alpha
    clusters:
    - name: shared
      cluster:
        server: https://first.example:6443
        certificate-authority: certs/ca.crt
    - name: only-first
      cluster: {server: https://only-first.example}
    contexts:
    - name: alpha
      context: {cluster: shared, user: admin, namespace: shop}
    users:
    - name: admin
      user:
        client-certificate: certs/admin.crt
        client-key: certs/admin.key
    """
  let second = """
    apiVersion: v1
    kind: Config
    current-context: beta
    clusters:
    - name: shared
      cluster: {server: https://second.example}
    - name: only-second
      cluster:
        server: https://only-second.example
        certificate-authority-data: Q0EtREFUQQ==
        certificate-authority: /nonexistent/ignored.crt
        tls-server-name: api.internal
    contexts:
    - name: alpha
      context: {cluster: only-second}
    - name: beta
      context: {cluster: only-second, user: robot}
    users:
    - name: robot
      user: {token: s3cr3t-token}
    """

  func write(_ dir: TemporaryDirectory) throws -> (String, String) {
    try dir.write("a/certs/ca.crt", "CA-FROM-FILE")
    try dir.write("a/certs/admin.crt", "CERT")
    try dir.write("a/certs/admin.key", "KEY")
    return (try dir.write("a/config", first), try dir.write("b/config", second))
  }

  @Test func firstFileWinsForEveryNameAndForCurrentContext() throws {
    let dir = try TemporaryDirectory("kubeconfig")
    defer { dir.remove() }
    let (a, b) = try write(dir)
    let config = try Kubeconfig.load(paths: [dir.file("missing"), a, b])
    #expect(config.files == [a, b])
    #expect(config.currentContext == "alpha")
    #expect(config.clusters["shared"]?.server == "https://first.example:6443")
    #expect(config.clusters["only-second"]?.server == "https://only-second.example")
    #expect(config.contexts["alpha"]?.cluster == "shared")

    let alpha = try config.connection()
    #expect(alpha.server == "https://first.example:6443")
    #expect(alpha.namespace == "shop")
    #expect(alpha.caPEM == Array("CA-FROM-FILE".utf8))
    #expect(alpha.clientCertificatePEM == Array("CERT".utf8))
    #expect(alpha.clientKeyPEM == SecretValue("KEY"))

    let beta = try config.connection(context: "beta")
    #expect(beta.caPEM == Array("CA-DATA".utf8))
    #expect(beta.tlsServerName == "api.internal")
    #expect(try beta.currentToken() == SecretValue("s3cr3t-token"))
  }

  @Test func kubeconfigEnvironmentListAndDefault() {
    #expect(
      Kubeconfig.defaultPaths(environment: ["KUBECONFIG": "/a::/b", "HOME": "/h"]) == ["/a", "/b"])
    #expect(Kubeconfig.defaultPaths(environment: ["HOME": "/h"]) == ["/h/.kube/config"])
  }

  @Test func secretsNeverAppearInDescriptions() throws {
    let dir = try TemporaryDirectory("kubeconfig")
    defer { dir.remove() }
    let (_, b) = try write(dir)
    let connection = try Kubeconfig.load(paths: [b]).connection(context: "beta")
    let text = "\(connection) \(String(reflecting: connection.token))"
    #expect(!text.contains("s3cr3t"))
    #expect(text.contains("bearer token"))
  }

  @Test func tokenFileIsReadOnEachUseAndWinsOverToken() throws {
    let dir = try TemporaryDirectory("kubeconfig")
    defer { dir.remove() }
    try dir.write("token", "first\n")
    let path = try dir.write(
      "config",
      """
      clusters: [{name: c, cluster: {server: "https://c"}}]
      users: [{name: u, user: {token: inline, tokenFile: token}}]
      contexts: [{name: x, context: {cluster: c, user: u}}]
      """)
    let connection = try Kubeconfig.load(paths: [path]).connection(context: "x")
    #expect(try connection.currentToken() == SecretValue("first"))
    try dir.write("token", "rotated")
    #expect(try connection.currentToken() == SecretValue("rotated"))
  }

  @Test func errorsNameTheContextAndPointIntoTheFile() throws {
    let dir = try TemporaryDirectory("kubeconfig")
    defer { dir.remove() }
    let path = try dir.write(
      "config",
      """
      clusters: [{name: c, cluster: {server: "https://c", certificate-authority-data: "%%%"}}]
      contexts:
      - name: dangling
        context: {cluster: nowhere}
      - name: production
        context: {cluster: c}
      """)
    #expect {
      try Kubeconfig.load(paths: [path])
    } throws: { error in
      (error as? Diagnostic)?.headline == "\(path):1:81: error: 'certificate-authority-data' is not valid base64"
    }
    try dir.write(
      "config",
      """
      clusters: [{name: c, cluster: {server: "https://c"}}]
      contexts:
      - name: dangling
        context: {cluster: nowhere}
      - name: production
        context: {cluster: c}
      """)
    let config = try Kubeconfig.load(paths: [path])
    #expect {
      try config.connection(context: "dangling")
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "\(path):3:3: error: context 'dangling' refers to cluster 'nowhere', which is not defined"
    }
    #expect {
      try config.connection(context: "prodution")
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: context 'prodution' is not in the kubeconfig (\(path)); did you mean 'production'?"
    }
    #expect {
      try config.connection()
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: no context given and the kubeconfig has no current-context"
    }
  }
}

@Suite struct ExecCredentialTests {
  /// A plugin that counts its runs and prints a token expiring at a given time.
  func plugin(_ dir: TemporaryDirectory, expiry: String?, version: String = "client.authentication.k8s.io/v1")
    throws -> String
  {
    let status =
      expiry.map { #"{"token":"tok-'"$n"'","expirationTimestamp":"\#($0)"}"# } ?? #"{"token":"tok-'"$n"'"}"#
    let script = """
      #!/bin/sh
      n=$(cat "\(dir.path)/runs" 2>/dev/null || echo 0)
      n=$((n + 1))
      echo "$n" > "\(dir.path)/runs"
      printf '%s' "$KUBERNETES_EXEC_INFO" > "\(dir.path)/info"
      echo '{"apiVersion":"\(version)","kind":"ExecCredential","status":\(status)}'
      """
    let path = try dir.write("plugin.sh", script)
    chmod(path, 0o755)
    return path
  }

  func connection(_ dir: TemporaryDirectory, command: String, apiVersion: String = "client.authentication.k8s.io/v1")
    throws -> ClusterConnection
  {
    let path = try dir.write(
      "config",
      """
      clusters: [{name: eks, cluster: {server: "https://eks.example", certificate-authority-data: Q0E=}}]
      users:
      - name: iam
        user:
          exec:
            apiVersion: \(apiVersion)
            command: \(command)
            args: [token, --cluster, prod]
            env: [{name: AWS_PROFILE, value: prod}]
            provideClusterInfo: true
            installHint: install the plugin from your platform team
      contexts: [{name: prod, context: {cluster: eks, user: iam}}]
      """)
    return try Kubeconfig.load(paths: [path]).connection(context: "prod")
  }

  func runs(_ dir: TemporaryDirectory) -> String {
    (try? String(contentsOfFile: dir.file("runs"), encoding: .utf8))?
      .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
  }

  @Test func cachedUntilExpiryOnTheInjectedClock() throws {
    let dir = try TemporaryDirectory("exec-plugin")
    defer { dir.remove() }
    let clock = ManualClock(start: ISO8601DateFormatter().date(from: "2026-11-24T10:00:00Z")!)
    let command = try plugin(dir, expiry: "2026-11-24T10:15:00Z")
    let provider = ExecCredentialProvider(clock: clock)
    let conn = try connection(dir, command: command)

    #expect(try provider.credential(for: conn).token == SecretValue("tok-1"))
    #expect(try provider.credential(for: conn).token == SecretValue("tok-1"))
    #expect(runs(dir) == "1")
    clock.advance(by: .seconds(14 * 60))
    #expect(try provider.credential(for: conn).token == SecretValue("tok-1"))
    // Within the refresh margin of the expiry, the plugin runs again.
    clock.advance(by: .seconds(55))
    #expect(try provider.credential(for: conn).token == SecretValue("tok-2"))
    #expect(runs(dir) == "2")

    let info = try JSONReader.parse(try String(contentsOfFile: dir.file("info"), encoding: .utf8))
    #expect(info["spec"]?["cluster"]?["server"] == "https://eks.example")
    #expect(info["spec"]?["cluster"]?["certificate-authority-data"] == "Q0E=")
    #expect(info["spec"]?["interactive"] == false)
  }

  @Test func concurrentWorkersShareOneRun() throws {
    let dir = try TemporaryDirectory("exec-plugin")
    defer { dir.remove() }
    let provider = ExecCredentialProvider()
    let conn = try connection(dir, command: try plugin(dir, expiry: nil))
    let workers = 8
    let ready = DispatchGroup()
    let release = DispatchSemaphore(value: 0)
    let finished = DispatchGroup()
    let tokens = Locked<[String]>([])
    for _ in 0..<workers {
      ready.enter()
      finished.enter()
      DispatchQueue.global().async {
        ready.leave()
        release.wait()
        let token = (try? provider.credential(for: conn).token?.text) ?? "error"
        tokens.mutate { $0.append(token) }
        finished.leave()
      }
    }
    ready.wait()
    for _ in 0..<workers { release.signal() }
    finished.wait()
    #expect(tokens.value == Array(repeating: "tok-1", count: workers))
    #expect(runs(dir) == "1")
  }

  @Test func failuresAreReportedWithWhatFailed() throws {
    let dir = try TemporaryDirectory("exec-plugin")
    defer { dir.remove() }
    let provider = ExecCredentialProvider()

    let missing = try connection(dir, command: "fleetwave-no-such-plugin")
    #expect {
      try provider.credential(for: missing)
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: exec plugin 'fleetwave-no-such-plugin' for context 'prod' was not found on PATH: install the plugin from your platform team"
    }

    let failing = try dir.write("fail.sh", "#!/bin/sh\necho 'warming up' >&2\necho 'token expired, run login' >&2\nexit 3\n")
    chmod(failing, 0o755)
    #expect {
      try provider.credential(for: try connection(dir, command: failing))
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: exec plugin '\(failing)' for context 'prod' exited with status 3: token expired, run login"
    }

    let wrongVersion = try plugin(dir, expiry: nil, version: "client.authentication.k8s.io/v1beta1")
    #expect {
      try provider.credential(for: try connection(dir, command: wrongVersion))
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: exec plugin '\(wrongVersion)' for context 'prod' printed apiVersion 'client.authentication.k8s.io/v1beta1', expected 'client.authentication.k8s.io/v1'"
    }
  }

  @Test func unsupportedAPIVersionIsALocatedError() throws {
    let dir = try TemporaryDirectory("exec-plugin")
    defer { dir.remove() }
    #expect {
      try connection(dir, command: "x", apiVersion: "client.authentication.k8s.io/v1alpha1")
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "\(dir.file("config")):6:19: error: exec plugin apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported; use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"
    }
  }
}

final class Locked<T>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: T
  init(_ value: T) { stored = value }
  var value: T {
    lock.lock()
    defer { lock.unlock() }
    return stored
  }
  func mutate(_ change: (inout T) -> Void) {
    lock.lock()
    change(&stored)
    lock.unlock()
  }
}
