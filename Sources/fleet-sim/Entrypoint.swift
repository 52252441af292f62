import ArgumentParser
import FleetSim

@main struct FleetSimCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fleet-sim",
    abstract: "A Kubernetes API emulator for a whole fleet of virtual clusters.")
}
