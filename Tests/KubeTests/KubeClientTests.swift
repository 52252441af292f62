import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Kube
import Testing

/// The API client against the real emulator, over TLS, as it will talk to a fleet.
@Suite struct KubeClientTests {
  final class Sim: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: FleetSimServer

    init() throws {
      directory = try TemporaryDirectory("kube-client")
      server = try FleetSimServer.start(
        clusters: VirtualClusterSpec.numbered(2),
        options: FleetSimOptions(tls: true, stateDirectory: directory.file("state"), speed: 200, threads: 2))
    }

    deinit {
      server.shutdown()
      directory.remove()
    }

    func connection(_ cluster: String = "sim-0001", useToken: Bool = false) throws -> ClusterConnection {
      let path = directory.file(useToken ? "kubeconfig-token" : "kubeconfig")
      try server.writeKubeconfig(to: path, tls: true, useToken: useToken)
      return try Kubeconfig.load(paths: [path], explicit: true).connection(context: cluster)
    }
  }

  let deployment: Value = [
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": ["name": "checkout", "namespace": "default", "labels": ["app": "checkout"]],
    "spec": [
      "replicas": 2, "selector": ["matchLabels": ["app": "checkout"]],
      "template": [
        "metadata": ["labels": ["app": "checkout"]],
        "spec": ["containers": [["name": "app", "image": "shop/checkout:1.4.2"]]],
      ],
    ],
  ]

  @Test func applyGetListWaitAndDeleteOverTLSWithAClientCertificate() throws {
    let sim = try Sim()
    let connection = try sim.connection()
    #expect(connection.clientCertificatePEM != nil)
    let client = KubeClient(connection: connection)

    let applied = try client.apply(deployment)
    #expect(applied["metadata"]?["generation"] == 1)
    let fetched = try #require(
      try client.get(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "checkout"))
    #expect(fetched["spec"]?["template"]?["spec"]?["containers"]?.sequence?.first?["image"] == "shop/checkout:1.4.2")
    let listed = try client.list(
      apiVersion: "apps/v1", kind: "Deployment", namespace: "default", labelSelector: "app=checkout")
    #expect(listed.compactMap { $0["metadata"]?["name"]?.string } == ["checkout"])
    #expect(
      try client.list(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", labelSelector: "app=other")
        .isEmpty)

    // The emulator's controller rolls the Deployment out; readiness follows kubectl's rules.
    #expect(
      eventually(timeout: 60) {
        let live = try? client.get(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "checkout")
        return live.map { Readiness.of($0).isReady } ?? false
      })

    #expect(try client.delete(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "checkout"))
    #expect(try client.get(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "checkout") == nil)
    #expect(try !client.delete(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "checkout"))
  }

  @Test func errorsCarryTheServersStatusMessage() throws {
    let sim = try Sim()
    let client = KubeClient(connection: try sim.connection())
    let config: Value = [
      "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "settings", "namespace": "default"],
      "data": ["mode": "fast"],
    ]
    try client.create(config)
    #expect {
      try client.create(config)
    } throws: { error in
      let error = error as? KubeError
      return error?.code == 409
        && error?.description
          == "sim-0001: create ConfigMap default/settings: 409 AlreadyExists: configmaps \"settings\" already exists"
    }
    #expect {
      try client.apply(["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": "w"]])
    } throws: { error in
      "\(error)" == "sim-0001: find Widget: the server has no resource for kind Widget in example.com/v1"
    }
  }

  @Test func bearerTokensAndExecPluginsAuthenticate() throws {
    let sim = try Sim()
    let tokenConnection = try sim.connection(useToken: true)
    #expect(tokenConnection.clientCertificatePEM == nil)
    let client = KubeClient(connection: tokenConnection)
    #expect(try client.get(apiVersion: "v1", kind: "Namespace", namespace: nil, name: "default") != nil)

    var wrong = tokenConnection
    wrong.token = SecretValue("not-the-token")
    #expect {
      try KubeClient(connection: wrong).get(apiVersion: "v1", kind: "Namespace", namespace: nil, name: "default")
    } throws: { error in
      (error as? KubeError)?.code == 401 && !"\(error)".contains("not-the-token")
    }

    // An exec plugin that hands out the emulator's token, counting its runs.
    let token = try String(contentsOfFile: sim.directory.file("state/token"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let plugin = try sim.directory.write(
      "plugin.sh",
      """
      #!/bin/sh
      echo run >> "\(sim.directory.file("runs"))"
      echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"\(token)"}}'
      """)
    chmod(plugin, 0o755)
    var viaPlugin = tokenConnection
    viaPlugin.token = nil
    viaPlugin.exec = ExecPluginConfig(apiVersion: "client.authentication.k8s.io/v1", command: plugin)
    let pluginClient = KubeClient(connection: viaPlugin)
    for _ in 0..<3 {
      #expect(try pluginClient.get(apiVersion: "v1", kind: "Namespace", namespace: nil, name: "default") != nil)
    }
    let runs = try String(contentsOfFile: sim.directory.file("runs"), encoding: .utf8)
    #expect(runs == "run\n")
  }

  @Test func anUnreachableServerIsATransportError() throws {
    let port = try freeLoopbackPort()
    let client = KubeClient(connection: ClusterConnection(context: "gone", server: "http://127.0.0.1:\(port)"))
    #expect {
      try client.get(apiVersion: "v1", kind: "Namespace", namespace: nil, name: "default")
    } throws: { error in
      "\(error)".hasPrefix("gone: discover v1: ") && "\(error)".contains("connection refused")
    }
  }
}
