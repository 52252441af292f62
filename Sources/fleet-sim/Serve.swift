// `fleet-sim serve`: start the emulator and run until interrupted.
import ArgumentParser
import FleetCore
import FleetSim
import Foundation
import Inventory

extension FleetSimCommand {
  struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Serve N virtual clusters on 127.0.0.1 until interrupted.")

    @Option(help: "How many virtual clusters to serve (named sim-0001 ...); default 3.")
    var clusters: Int?

    @Option(
      help: ArgumentHelp(
        "Serve one virtual cluster per cluster of this fleet, with its name and labels.",
        valueName: "fleet-dir"))
    var fleet: String?

    @Option(help: "Plain HTTP port (0 picks a free one).")
    var port: Int = 0

    @Flag(help: "Also serve TLS, with client-certificate and bearer-token authentication.")
    var tls = false

    @Option(name: .customLong("tls-port"), help: "TLS port (0 picks a free one).")
    var tlsPort: Int = 0

    @Option(help: "State directory: certificates, token, endpoints.json.")
    var state: String = ".fleet-sim"

    @Option(help: "A faults file (JSON or YAML).")
    var faults: String?

    @Option(help: "Simulated seconds per real second for rollouts and application traffic.")
    var speed: Double = 1

    @Option(help: "Also write a kubeconfig with one context per virtual cluster to this path.")
    var kubeconfig: String?

    @Flag(name: .customLong("log-requests"), help: "Log one line per request to stderr.")
    var logRequests = false

    @Option(
      help: ArgumentHelp(
        "Append a JSON line per mutating request (time, method, path, userAgent, status) here.",
        valueName: "file"))
    var requestLog: String?

    func validate() throws {
      if fleet != nil, clusters != nil {
        throw ValidationError("--fleet and --clusters cannot be used together")
      }
      if let clusters, clusters < 1 { throw ValidationError("--clusters must be at least 1") }
      guard speed > 0 else { throw ValidationError("--speed must be positive") }
    }

    func run() throws {
      var options = FleetSimOptions(
        port: port, tls: tls, tlsPort: tlsPort, stateDirectory: state, speed: speed,
        logRequests: logRequests)
      options.requestLog = requestLog
      if let faults {
        do {
          options.faults = try FaultsFile.load(faults)
        } catch {
          // An invalid faults file is invalid input (exit 1), reported with its position.
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode.failure
        }
      }
      let specs: [VirtualClusterSpec]
      if let fleet {
        do {
          specs = try FleetLoader.load(directory: fleet).fleet.clusters.map {
            VirtualClusterSpec(name: $0.name, labels: $0.labels)
          }
        } catch {
          FileHandle.standardError.write(Data("\(error)\n".utf8))
          throw ExitCode.failure
        }
      } else {
        specs = VirtualClusterSpec.numbered(clusters ?? 3)
      }
      try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
      let server = try FleetSimServer.start(clusters: specs, options: options)
      try server.endpoints.write()
      if let kubeconfig { try server.writeKubeconfig(to: kubeconfig) }
      var banner = "fleet-sim: \(specs.count) virtual clusters\n"
      banner += "  http:    http://127.0.0.1:\(server.port)/clusters/NAME\n"
      if tls { banner += "  https:   https://127.0.0.1:\(server.tlsPort)/clusters/NAME\n" }
      banner += "  metrics: http://127.0.0.1:\(server.port)/metrics\n"
      // Written unbuffered: scripts wait for this banner to know the ports are bound.
      FileHandle.standardOutput.write(Data(banner.utf8))
      let stop = DispatchSemaphore(value: 0)
      signal(SIGINT, SIG_IGN)
      signal(SIGTERM, SIG_IGN)
      let sources = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        return source
      }
      stop.wait()
      sources.forEach { $0.cancel() }
      server.shutdown()
    }
  }

  struct WriteKubeconfig: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "kubeconfig",
      abstract: "Write a kubeconfig with one context per virtual cluster of a running fleet-sim.")

    @Option(help: "The state directory of the running server.")
    var state: String = ".fleet-sim"

    @Option(name: .shortAndLong, help: "Output file (default: standard output).")
    var output: String?

    @Flag(help: "Authenticate with the bearer token instead of the client certificate.")
    var token = false

    func run() throws {
      let endpoints = try Endpoints.load(from: state)
      let text = try endpoints.kubeconfig(useToken: token)
      if let output {
        try text.write(toFile: output, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: output)
      } else {
        print(text, terminator: "")
      }
    }
  }
}
