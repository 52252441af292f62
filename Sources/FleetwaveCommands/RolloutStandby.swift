// `rollout --follow --standby`: wait for the fleet's run lock, then continue or start the run.
import ArgumentParser
import Engine
import Executor
import FleetCore
import Foundation

extension FleetwaveCommand.Rollout {
  /// Waits as a standby replica until the run lock is ours; returns the store that holds the
  /// claim and the run to continue or start. SIGINT or SIGTERM ends the wait at once, exit 3.
  func waitAsStandby(store: any StateStore, fleet: String, startTime: Date) throws
    -> (store: any StateStore, run: String)
  {
    guard let home = store as? KubeStateStore else {
      printError(
        "error: --standby needs the run lock in a home cluster: --state kube://CONTEXT/NAMESPACE")
      throw ExitCode(2)
    }
    let cancellation = Cancellation()
    let signals = InterruptSignals { _, _ in cancellation.cancel() }
    let outcome: RunStandby.Outcome
    do {
      outcome = try withExtendedLifetime(signals) { () throws(EngineError) in
        try RunStandby(store: home, fleet: fleet).wait(
          chooseRun: { lastHolder in
            if let unfinished = home.unfinishedRun(fleet: fleet) { return unfinished.header.id }
            // The replica that held the lock finished the rollout: not a reason for another.
            if lastHolder != nil { return nil }
            return runID ?? Self.runID(fleet: fleet, at: startTime)
          },
          cancellation: cancellation,
          waiting: { holder in
            FileHandle.standardOutput.write(
              Data(
                "standby: waiting for the run lock of fleet '\(fleet)', held by \(holder)\n".utf8))
          })
      }
    } catch {
      printError("error: \(error.message)")
      throw ExitCode(1)
    }
    switch outcome {
    case .cancelled:
      printError("standby: interrupted while waiting for the run lock; nothing was done")
      throw ExitCode(3)
    case .nothingToDo:
      say("standby: the run lock was released with no unfinished run; nothing to do")
      throw ExitCode(0)
    case .claimed(let run, _, let claimed):
      say("standby: took the run lock of fleet '\(fleet)' for run \(run)")
      return (claimed, run)
    }
  }
}

/// A line on standard output at once: a supervisor (or the HA chaos test) reads it while the
/// process runs, and a file or pipe would otherwise buffer it.
private func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
