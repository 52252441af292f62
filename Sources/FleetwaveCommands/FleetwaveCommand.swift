// The root command: `fleetwave VERB ...`.
import ArgumentParser
import Foundation

public struct FleetwaveCommand: AsyncParsableCommand {
  public static let version = "0.1.0"

  public static let configuration = CommandConfiguration(
    commandName: "fleetwave",
    abstract: "Roll one release out across a fleet of Kubernetes clusters, in waves.",
    discussion: """
      Canary clusters first, then growing waves, each cluster upgraded in parallel under \
      limits, verified by health gates, with promotion halted and upgrades rolled back when \
      failures cross the budget.
      """,
    version: BuildStamp.versionText(release: version),
    subcommands: [
      Validate.self, Values.self, Plan.self, Rollout.self, Simulate.self, Diff.self, Resume.self,
      Status.self, History.self, RollbackRun.self, Approve.self, Pause.self, Preflight.self,
      Rbac.self, Uninstall.self,
    ]
  )

  public init() {}
}

extension FleetwaveCommand {
  /// Runs a command line with the exit codes scripts rely on: 0 success, 1 failed or invalid
  /// input, 2 usage error (ArgumentParser's own would be 64), 3 interrupted and resumable.
  public static func run(arguments: [String]? = nil) async {
    do {
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      if exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
        Foundation.exit(2)
      }
      exit(withError: error)
    }
  }
}
