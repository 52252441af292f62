// The root command: `fleetwave VERB ...`.
import ArgumentParser

public struct FleetwaveCommand: AsyncParsableCommand {
  public static let version = "0.1.0"

  public static let configuration = CommandConfiguration(
    commandName: "fleetwave",
    abstract: "Roll one release out across a fleet of Kubernetes clusters, in waves.",
    discussion: """
      Canary clusters first, then growing waves, each cluster upgraded in parallel under limits,
      verified by health gates, with promotion halted and upgrades rolled back when failures
      cross the budget.
      """,
    version: version,
    subcommands: []
  )

  public init() {}
}
