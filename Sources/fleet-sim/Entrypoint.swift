// The `fleet-sim` command: serve a fleet of virtual clusters, or write a kubeconfig for one.
import ArgumentParser
import FleetSim
import Foundation

@main struct FleetSimCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fleet-sim",
    abstract: "A Kubernetes API emulator for a whole fleet of virtual clusters.",
    subcommands: [Serve.self, WriteKubeconfig.self])

  /// Usage errors exit 2, as Fleetwave's command-line contract has it (argument-parser: 64).
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      if exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }
}
