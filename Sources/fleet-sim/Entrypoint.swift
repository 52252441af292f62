// The `fleet-sim` command: serve a fleet of virtual clusters, or write a kubeconfig for one.
import ArgumentParser
import FleetSim
import Foundation

@main struct FleetSimCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fleet-sim",
    abstract: "A Kubernetes API emulator for a whole fleet of virtual clusters.",
    subcommands: [Serve.self, WriteKubeconfig.self])
}
