// The real kubectl against the emulator, over plain HTTP and over TLS with a client certificate.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct KubectlTests {
  @Test(arguments: [false, true])
  func applyRolloutGetAndDelete(tls: Bool) throws {
    let sim = try SimFixture(tls: tls)
    if tls { #expect(sim.server.baseURL(for: "sim-0001").hasPrefix("https://127.0.0.1:")) }

    let created = try sim.kubectl(["create", "namespace", "shop"])
    #expect(created.stdout == "namespace/shop created\n", "\(created.stderr)")

    let file = try sim.directory.write("web.yaml", manifest(image: "nginx:1.27"))
    let applied = try sim.kubectl(["apply", "-f", file])
    #expect(
      applied.stdout
        == "deployment.apps/web created\nconfigmap/web-config created\nconfigmap/other created\n",
      "\(applied.stderr)")

    let rollout = try sim.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
    #expect(rollout.status == 0, "\(rollout.stderr)")
    #expect(rollout.stdout.hasSuffix("deployment \"web\" successfully rolled out\n"))

    let selected = try sim.kubectl(["get", "configmaps", "-l", "app=web", "-o", "name"])
    #expect(selected.stdout == "configmap/web-config\n")
    let table = try sim.kubectl(["get", "deployments", "-l", "tier=front"])
    #expect(
      table.stdout.hasPrefix(
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    3/3     3            3           "))

    let json = try #require(
      try JSONReader.parse(try sim.kubectl(["get", "deployment", "web", "-o", "json"]).stdout))
    #expect(
      json.at("spec", "template", "spec", "containers")?.sequence?.first?["image"] == "nginx:1.27")
    #expect(json.at("status", "readyReplicas") == 3)
    #expect(json.at("status", "observedGeneration") == 1)
    let progressing = json.at("status", "conditions")?.sequence?.first {
      $0["type"] == "Progressing"
    }
    #expect(progressing?["reason"] == "NewReplicaSetAvailable")

    // kubectl-client-side-apply owns the image; a server-side apply of another image conflicts.
    try sim.directory.write("web.yaml", manifest(image: "nginx:1.28"))
    let conflict = try sim.kubectl(["apply", "--server-side", "-f", file])
    #expect(conflict.status == 1)
    #expect(
      conflict.stderr.hasPrefix(
        "error: Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using "
          + "apps/v1: .spec.template.spec.containers[name=\"web\"].image"), "\(conflict.stderr)")
    let forced = try sim.kubectl(["apply", "--server-side", "--force-conflicts", "-f", file])
    #expect(
      forced.stdout
        == "deployment.apps/web serverside-applied\nconfigmap/web-config serverside-applied\n"
        + "configmap/other serverside-applied\n", "\(forced.stderr)")
    #expect(try sim.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).status == 0)
    let image = try sim.kubectl([
      "get", "deployment", "web", "-o",
      "jsonpath={.metadata.generation} {.spec.template.spec.containers[0].image}",
    ])
    #expect(image.stdout == "2 nginx:1.28")
    let managers = try sim.kubectl([
      "get", "deployment", "web", "--show-managed-fields", "-o",
      "jsonpath={.metadata.managedFields[*].manager}",
    ])
    // kubectl moved the client-side owner's fields to itself and keeps the last-applied
    // annotation under its own manager, as against a real API server.
    #expect(managers.stdout == "kubectl-last-applied kubectl")

    let deleted = try sim.kubectl(["delete", "deployment", "web"])
    #expect(deleted.stdout == "deployment.apps \"web\" deleted\n", "\(deleted.stderr)")
    let gone = try sim.kubectl(["get", "deployment", "web"])
    #expect(gone.status == 1)
    #expect(gone.stderr == "Error from server (NotFound): deployments.apps \"web\" not found\n")
  }

  @Test func tlsAcceptsTheTokenAndRefusesStrangers() throws {
    let sim = try SimFixture(tls: true)
    let tokenConfig = sim.directory.file("token-kubeconfig")
    try sim.server.writeKubeconfig(to: tokenConfig, useToken: true)
    let text = try String(contentsOfFile: tokenConfig, encoding: .utf8)
    #expect(!text.contains("client-certificate:\n") && text.contains("user: \"fleet-sim-token\""))
    let withToken = try sim.kubectl(
      ["get", "namespace", "default", "-o", "name"], kubeconfig: tokenConfig)
    #expect(withToken.stdout == "namespace/default\n", "\(withToken.stderr)")

    // The same server and CA, but a token the server did not issue.
    let token = try #require(try sim.server.credentials?.token())
    let anonymousConfig = try sim.directory.write(
      "anonymous-kubeconfig", text.replacingOccurrences(of: token, with: "not-the-token"))
    let refused = try sim.kubectl(["get", "namespaces", "-o", "name"], kubeconfig: anonymousConfig)
    #expect(refused.status == 1)
    #expect(
      refused.stderr.contains("error: You must be logged in to the server (Unauthorized)"),
      "\(refused.stderr)")
  }
}
