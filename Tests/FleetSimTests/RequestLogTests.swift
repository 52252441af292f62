// `fleet-sim serve --request-log FILE`: a JSON line per write, reads left out, no bodies.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct RequestLogTests {
  @Test func writesAreLoggedWithTheirUserAgentAndReadsAreNot() throws {
    let directory = try TemporaryDirectory("fleet-sim-request-log")
    defer { directory.remove() }
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    var options = FleetSimOptions(clock: clock, threads: 2)
    options.requestLog = directory.file("requests.jsonl")
    let server = try FleetSimServer.start(
      clusters: VirtualClusterSpec.numbered(1), options: options)
    defer { server.shutdown() }
    let kubeconfig = directory.file("kubeconfig")
    try server.writeKubeconfig(to: kubeconfig)
    func kubectl(_ arguments: [String]) throws -> ProcessResult {
      try runProcess(
        "/usr/bin/env", ["kubectl", "--kubeconfig", kubeconfig] + arguments,
        environment: ["HOME": directory.path, "KUBECACHEDIR": directory.file("cache")])
    }
    let created = try kubectl([
      "create", "configmap", "settings", "--from-literal=password=hunter2",
    ])
    #expect(created.status == 0, "\(created.stderr)")
    #expect(try kubectl(["get", "configmap", "settings"]).status == 0)
    #expect(try kubectl(["delete", "configmap", "settings"]).status == 0)

    let text = try String(contentsOfFile: directory.file("requests.jsonl"), encoding: .utf8)
    let lines = text.split(separator: "\n").map { line -> String in
      // kubectl's own version is not ours to pin.
      String(line).replacing(/"userAgent":"kubectl\/[^"]*"/, with: #""userAgent":"kubectl/V""#)
    }
    #expect(
      lines == [
        #"{"time":"2027-01-15T08:00:00.000Z","method":"POST","path":"/clusters/sim-0001/api/v1/namespaces/default/configmaps","userAgent":"kubectl/V","status":201}"#,
        #"{"time":"2027-01-15T08:00:00.000Z","method":"DELETE","path":"/clusters/sim-0001/api/v1/namespaces/default/configmaps/settings","userAgent":"kubectl/V","status":200}"#,
      ])
    #expect(!text.contains("hunter2"))
  }
}
