// One driver call as a task: it holds a thread only while its code runs, none while it waits.
import FleetCore
import Kube

/// Runs `work` as a task and reports its result through `completion`. The task starts on the
/// blocking-safe executor (see `Blocking`), because callers may park a thread on the
/// completion; while the call waits (for the HTTP loop, a child's exit, a clock timer) it
/// holds no thread at all.
func driverTask<T: Sendable>(
  _ completion: @escaping DriverCompletion<T>,
  _ work: @escaping @Sendable () async throws(DriverError) -> T
) {
  Task(executorPreference: Blocking.executor) {
    do throws(DriverError) {
      completion(.success(try await work()))
    } catch {
      completion(.failure(error))
    }
  }
}
