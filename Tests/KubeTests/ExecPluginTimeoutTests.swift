// An exec credential plugin that never finishes and ignores SIGTERM must not hang the run.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

@Suite struct ExecPluginTimeoutTests {
  /// Before the fix the provider sent SIGTERM and then waited for ever; a plugin stuck on a
  /// login prompt, or started with SIGTERM blocked, hung the whole rollout.
  @Test func aPluginIgnoringSIGTERMIsKilledAndReported() throws {
    let dir = try TemporaryDirectory("exec-plugin-stuck")
    defer { dir.remove() }
    let plugin = try dir.write("stuck.sh", "#!/bin/sh\ntrap '' TERM\nexec sleep 600\n")
    chmod(plugin, 0o755)
    let config = try dir.write(
      "config",
      """
      clusters: [{name: eks, cluster: {server: "https://eks.example"}}]
      users:
      - name: iam
        user:
          exec: {apiVersion: client.authentication.k8s.io/v1, command: \(plugin)}
      contexts: [{name: prod, context: {cluster: eks, user: iam}}]
      """)
    let connection = try Kubeconfig.load(paths: [config]).connection(context: "prod")
    let provider = ExecCredentialProvider(clock: SystemClock(), timeout: 1, killGrace: 0.1)
    #expect {
      try provider.credential(for: connection)
    } throws: { error in
      (error as? Diagnostic)?.headline
        == "error: exec plugin '\(plugin)' for context 'prod' did not finish within 1 s"
    }
  }
}
