// The `command` gate: a shell command whose exit status decides, killed with its children on
// timeout.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs `/bin/sh -c COMMAND` with the cluster in its environment: `FLEETWAVE_CLUSTER`,
/// `FLEETWAVE_CONTEXT`, `FLEETWAVE_SERVER`, `FLEETWAVE_LABEL_<KEY>` (for a single cluster) and
/// `FLEETWAVE_CLUSTERS` (space-separated names, always), and each fleet-wide variable as
/// `FLEETWAVE_RELEASE`, `FLEETWAVE_NAMESPACE`, `FLEETWAVE_VERSION`. Exit 0 passes. The command
/// runs in its own process group; at the timeout, on cancellation, and after it exits, the
/// whole group is killed, so nothing it started outlives the check.
public struct CommandGate: HealthGate {
  public let spec: CommandCheckSpec

  let variables: [String: String]

  public init(spec: CommandCheckSpec, variables: [String: String] = [:]) {
    self.spec = spec
    self.variables = variables
  }

  public var name: String { "command \(spec.command)" }

  public func verify(clusters: [Cluster], clock: any RolloutClock, cancellation: Cancellation)
    -> GateResult
  {
    verifyEach(
      gate: name, templates: [spec.command], clusters: clusters, variables: variables,
      cancellation: cancellation
    ) {
      scope in run(scope, clock: clock, cancellation: cancellation)
    }
  }

  static func environment(for scope: GateScope) -> [String: String] {
    var variables = ["FLEETWAVE_CLUSTERS": scope.clusters.map(\.name).joined(separator: " ")]
    for (name, value) in scope.variables { variables["FLEETWAVE_\(name.uppercased())"] = value }
    if scope.clusters.count == 1 {
      let cluster = scope.clusters[0]
      variables["FLEETWAVE_CLUSTER"] = cluster.name
      if let context = cluster.context { variables["FLEETWAVE_CONTEXT"] = context }
      if let server = cluster.server { variables["FLEETWAVE_SERVER"] = server }
      for (key, value) in cluster.labels {
        let name = key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        variables["FLEETWAVE_LABEL_\(name)"] = value
      }
    }
    return variables
  }

  private func run(_ scope: GateScope, clock: any RolloutClock, cancellation: Cancellation)
    -> GateResult
  {
    let command: String
    do {
      command = try scope.render(spec.command)
    } catch {
      return GateResult(gate: name, passed: false, summary: error.message)
    }
    let at = clock.now()
    let environment = ProcessInfo.processInfo.environment.merging(Self.environment(for: scope)) {
      $1
    }
    let child: ProcessGroup
    do {
      child = try ProcessGroup.spawn(["/bin/sh", "-c", command], environment: environment)
    } catch {
      let measurement = Measurement(gate: name, at: at, outcome: .error, detail: error.description)
      return GateResult(
        gate: name, passed: false, measurements: [measurement], summary: error.description)
    }
    // `ended` fires when the command exits or the rollout is cancelled, ending the clock wait.
    let ended = Cancellation()
    cancellation.onCancel { ended.cancel() }
    child.onExit { ended.cancel() }
    let deadline = at.addingTimeInterval(DurationText.seconds(spec.timeout))
    _ = clock.wait(until: deadline, cancellation: ended)
    child.killGroup()
    let status = child.waitForExit()
    let output = child.outputTail()
    let lastLine = output.split(whereSeparator: \.isNewline).last.map(String.init)
    func result(_ outcome: Measurement.Outcome, value: Double?, _ detail: String) -> GateResult {
      let measurement = Measurement(
        gate: name, at: at, value: value, outcome: outcome, detail: detail)
      return GateResult(
        gate: name, passed: outcome == .passed, measurements: [measurement], summary: detail)
    }
    if !child.exitedOnItsOwn {
      if cancellation.isCancelled { return result(.error, value: nil, "cancelled") }
      return result(
        .error, value: nil,
        "timed out after \(DurationText.format(spec.timeout)); process group killed")
    }
    switch status {
    case .exited(let code):
      let suffix = lastLine.map { ": \($0)" } ?? ""
      return result(code == 0 ? .passed : .failed, value: Double(code), "exit \(code)\(suffix)")
    case .signalled(let signal):
      return result(.failed, value: nil, "killed by signal \(signal)")
    }
  }
}

/// A child process leading its own process group, with its combined output captured.
final class ProcessGroup: @unchecked Sendable {
  enum Status {
    case exited(Int32)
    case signalled(Int32)
  }

  struct SpawnError: Error, CustomStringConvertible {
    var description: String
  }

  let pid: pid_t
  private let condition = NSCondition()
  private var status: Status?
  private var exitHandlers: [@Sendable () -> Void] = []
  private var output: [UInt8] = []
  private var outputDone = false
  private static let keptOutput = 4096

  private init(pid: pid_t) { self.pid = pid }

  static func spawn(_ arguments: [String], environment: [String: String]) throws(SpawnError)
    -> ProcessGroup
  {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw SpawnError(description: "could not create a pipe") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Its own group, so a timeout can kill what the command started too. Default handling of
    // SIGPIPE, which this process ignores, and an empty signal mask: Dispatch worker threads
    // block SIGCHLD, and a shell inheriting that mask hangs forever in `wait`.
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    posix_spawnattr_setsigmask(&attributes, &unblocked)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      argv.forEach { free($0) }
      envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    close(pipeEnds[1])
    guard spawned == 0 else {
      close(pipeEnds[0])
      throw SpawnError(
        description: "could not start \(arguments[0]): \(String(cString: strerror(spawned)))")
    }
    let group = ProcessGroup(pid: pid)
    let readEnd = pipeEnds[0]
    Thread.detachNewThread { group.readOutput(from: readEnd) }
    Thread.detachNewThread { group.reap() }
    return group
  }

  /// True when the leader had exited before `killGroup` was called.
  private(set) var exitedOnItsOwn = false

  func onExit(_ handler: @escaping @Sendable () -> Void) {
    condition.lock()
    if status != nil {
      condition.unlock()
      handler()
      return
    }
    exitHandlers.append(handler)
    condition.unlock()
  }

  func killGroup() {
    condition.lock()
    exitedOnItsOwn = status != nil
    condition.unlock()
    // The leader may be gone (and reaped) while its children live on in the group.
    kill(-pid, SIGKILL)
  }

  func waitForExit() -> Status {
    condition.lock()
    defer { condition.unlock() }
    while true {
      if let status, outputDone { return status }
      condition.wait()
    }
  }

  func outputTail() -> String {
    condition.lock()
    defer { condition.unlock() }
    return String(decoding: output, as: UTF8.self)
  }

  private func reap() {
    var raw: Int32 = 0
    while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
    let signal = raw & 0x7f
    let finished: Status = signal == 0 ? .exited((raw >> 8) & 0xff) : .signalled(signal)
    condition.lock()
    status = finished
    let handlers = exitHandlers
    exitHandlers = []
    condition.broadcast()
    condition.unlock()
    handlers.forEach { $0() }
  }

  private func readOutput(from fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      condition.lock()
      output += buffer[0..<count]
      if output.count > Self.keptOutput { output.removeFirst(output.count - Self.keptOutput) }
      condition.unlock()
    }
    close(fd)
    condition.lock()
    outputDone = true
    condition.broadcast()
    condition.unlock()
  }
}
