// What an action reports back to the command that runs it: a failure with its exit code, and
// the lines a person should read while it runs.
import Executor
import FleetCore

/// An action that cannot go on. The command prints `error: MESSAGE` and exits with `exitCode`:
/// 1 for a run that cannot start or continue, 2 for a usage problem found after parsing.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public var exitCode: Int32

  public init(_ message: String, exitCode: Int32 = 1) {
    self.message = message
    self.exitCode = exitCode
  }

  public var description: String { message }
}

/// Where an action's output goes. The command decides how it looks: the live view is built
/// by the command around each pass's executor, so the engine never draws.
public protocol RunObserver: AnyObject {
  /// A note, warning or error line for standard error (`note: ...`, `warning: ...`).
  func note(_ line: String)
  /// A line for standard output (`replan: ...`, `waiting for: ...`).
  func say(_ line: String)
  /// A pass is about to run: attach a progress view to its events now.
  func passStarting(_ executor: Executor, plan: Plan, maxParallel: Int, clock: any RolloutClock)
  /// The pass ended (finished, blocked or interrupted).
  func passEnded()
}
