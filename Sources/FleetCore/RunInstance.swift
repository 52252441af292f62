// Who is acting for a run: run ids that two machines cannot both pick, and a token per process.

/// One process acting for a run. A run outlives its processes (a crash, a `resume` on the next
/// CI job), and two processes may even carry the same run id (`--run NAME` typed twice), so
/// whatever a process holds on a cluster (its release Lease) names the process, not only the run.
public struct RunInstance: Sendable, Equatable {
  public var run: String
  /// This process's random token.
  public var token: String
  /// The tokens of the run's earlier processes, from its journal. Only a process holding the
  /// run's lock may list them: holding it proves they are gone, so their leases are taken over.
  public var predecessors: [String]

  public init(run: String, token: String = RunInstance.newToken(), predecessors: [String] = []) {
    self.run = run
    self.token = token
    self.predecessors = predecessors
  }

  /// `RUN/TOKEN`: the holder identity written into leases.
  public var identity: String { Self.identity(run: run, token: token) }

  /// Identities this process succeeds: its predecessors', and the bare run id that processes
  /// without tokens wrote.
  public var succeeds: Set<String> {
    Set(predecessors.filter { $0 != token }.map { Self.identity(run: run, token: $0) } + [run])
  }

  public static func identity(run: String, token: String) -> String { "\(run)/\(token)" }

  /// The `User-Agent` of this process's requests (`fleetwave (run R; instance T)`), so a
  /// server's request log tells two processes of one run apart. Never a secret.
  public func userAgent(_ product: String) -> String {
    "\(product) (run \(run); instance \(token))"
  }

  /// Six characters of [0-9a-z]: 2^31 values, enough that two processes never share one.
  public static func newToken() -> String { randomBase36(count: 6) }

  /// A default run id: the fleet, the start time to the second, and four random characters, so
  /// two runs of one fleet started in the same second from two machines still differ
  /// (`demo-20261128T020053-k3f9`).
  public static func runID(fleet: String, stamp: String) -> String {
    "\(fleet)-\(stamp)-\(randomBase36(count: 4))"
  }

  private static func randomBase36(count: Int) -> String {
    let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
    var generator = SystemRandomNumberGenerator()
    return String((0..<count).map { _ in alphabet[Int.random(in: 0..<36, using: &generator)] })
  }
}
