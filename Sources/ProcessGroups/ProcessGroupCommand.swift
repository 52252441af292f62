// One command in its own process group (a shell command line, or a program and its arguments):
// spawned with posix_spawn, bounded by a timeout, cancellable, and never leaving a process
// behind.
import FleetCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// How a command ended.
public enum CommandOutcome: Sendable, Equatable {
  case exited(Int32)
  case signaled(Int32)
  case timedOut
  case cancelled
  case spawnFailed(String)
}

/// Runs `/bin/sh -c COMMAND`, or a program with its arguments, as the leader of a new process
/// group.
///
/// The whole group is the unit: a timeout or a cancellation sends SIGTERM to the group, then
/// SIGKILL after `killGrace`; and when the leader exits, whatever it left running in the group
/// (a background `sleep &`) is killed before the leader is reaped, so the group id cannot be
/// reused by an unrelated process while we still signal it.
public struct ProcessGroupCommand: Sendable {
  /// What runs as the group's leader.
  public enum Program: Sendable, Equatable {
    /// `/bin/sh -c COMMAND`: a command line an operator wrote.
    case shell(String)
    /// A program by absolute path and its arguments, with no shell between: for the commands
    /// fleetwave itself builds (helm), whose arguments are data and must never be parsed.
    case executable(String, arguments: [String])
  }

  public var program: Program
  /// `KEY=VALUE` pairs, the child's whole environment.
  public var environment: [String: String]
  /// stdout and stderr are appended here.
  public var logPath: String
  /// When set, stdout goes here instead of the log (stderr still goes to the log).
  public var stdoutPath: String?
  /// The child's stdin; /dev/null when nil.
  public var stdinPath: String?
  /// The child's working directory; this process's when nil.
  public var workingDirectory: String?
  public var timeout: Duration
  public var killGrace: TimeInterval

  public init(
    command: String, environment: [String: String], logPath: String, stdoutPath: String? = nil,
    timeout: Duration, killGrace: TimeInterval = 5
  ) {
    self.init(
      program: .shell(command), environment: environment, logPath: logPath,
      stdoutPath: stdoutPath, timeout: timeout, killGrace: killGrace)
  }

  public init(
    program: Program, environment: [String: String], logPath: String, stdoutPath: String? = nil,
    stdinPath: String? = nil, workingDirectory: String? = nil, timeout: Duration,
    killGrace: TimeInterval = 5
  ) {
    self.program = program
    self.workingDirectory = workingDirectory
    self.environment = environment
    self.logPath = logPath
    self.stdoutPath = stdoutPath
    self.stdinPath = stdinPath
    self.timeout = timeout
    self.killGrace = killGrace
  }

  /// Starts the command and returns at once; `completion` runs on a Dispatch global queue once
  /// the command and everything it started are gone. No thread waits for the child meanwhile:
  /// its exit is noticed by the one `ChildReaper`, its timeout by the clock's timer, and a
  /// cancellation signals the group from the cancelling thread's handler.
  public func start(
    clock: any RolloutClock, cancellation: Cancellation,
    completion: @escaping @Sendable (CommandOutcome) -> Void
  ) {
    if cancellation.isCancelled { return completion(.cancelled) }
    let pid: pid_t
    switch spawn() {
    case .success(let spawned): pid = spawned
    case .failure(let error): return completion(.spawnFailed(error.message))
    }
    let group = LiveGroup(pgid: pid, grace: killGrace)
    let deadline = clock.now().addingTimeInterval(DurationText.seconds(timeout))
    let timer = clock.schedule(at: deadline, on: group.signalQueue) { group.stop(.timedOut) }
    cancellation.onCancel { group.signalQueue.async { group.stop(.cancelled) } }

    let exited: @Sendable () -> Void = {
      let reason = group.finish()
      timer.cancel()
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      if let reason { return completion(reason) }
      if status & 0x7f == 0 { return completion(.exited((status >> 8) & 0xff)) }
      completion(.signaled(status & 0x7f))
    }
    if ChildReaper.shared.watch(pid, exited: exited) { return }
    // No pidfd (a C library or kernel older than 2022): wait on a thread of its own.
    Thread.detachNewThread {
      var info = siginfo_t()
      while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
      exited()
    }
  }

  /// Suspends (holding no thread) until the command and everything it started are gone.
  public func outcome(clock: any RolloutClock, cancellation: Cancellation) async -> CommandOutcome {
    await withCheckedContinuation { continuation in
      start(clock: clock, cancellation: cancellation) { continuation.resume(returning: $0) }
    }
  }

  /// Blocks the calling thread until the command and everything it started are gone.
  public func run(clock: any RolloutClock, cancellation: Cancellation) -> CommandOutcome {
    let done = DispatchSemaphore(value: 0)
    let box = OutcomeBox()
    start(clock: clock, cancellation: cancellation) { outcome in
      box.outcome = outcome
      done.signal()
    }
    done.wait()
    return box.outcome
  }

  public struct SpawnFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
  }

  /// Starts the command and returns its pid, leaving the waiting, the signalling and the
  /// reaping to the caller, and ignoring `timeout`: for a caller that owns the child's whole
  /// life (a test's background server). Everything else goes through `start`.
  public func launch() -> Result<pid_t, SpawnFailure> { spawn() }

  private func spawn() -> Result<pid_t, SpawnFailure> {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // A new group for the command; default dispositions and an empty mask, because fleetwave
    // itself ignores SIGINT/SIGTERM (it handles them through a dispatch source) and children
    // would otherwise inherit that and survive our SIGTERM.
    let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
    posix_spawnattr_setflags(&attributes, Int16(flags))
    posix_spawnattr_setpgroup(&attributes, 0)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let append = O_WRONLY | O_CREAT | O_APPEND
    posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? logPath, append, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, logPath, append, 0o600)
    // The child gets stdin, stdout and stderr and nothing else: a descriptor another thread
    // opened without O_CLOEXEC (a pipe, a socket) must not leak into it and keep it open.
    SpawnActions.closeFrom(&actions, 3)
    if let workingDirectory {
      guard SpawnActions.changeDirectory(&actions, workingDirectory) else {
        return .failure(
          SpawnFailure(
            message: "cannot start a command in \(workingDirectory): the C library lacks "
              + "posix_spawn_file_actions_addchdir_np"))
      }
    }

    let path: String
    let words: [String]
    switch program {
    case .shell(let command):
      path = "/bin/sh"
      words = [path, "-c", command]
    case .executable(let executable, let arguments):
      path = executable
      words = [executable] + arguments
    }
    let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
    let pairs: [String] = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let envp: [UnsafeMutablePointer<CChar>?] = pairs.map { strdup($0) }
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid: pid_t = 0
    let status = (argv + [nil]).withUnsafeBufferPointer { args in
      (envp + [nil]).withUnsafeBufferPointer { env in
        guard let args = args.baseAddress, let env = env.baseAddress else { return EINVAL }
        return posix_spawn(&pid, path, &actions, &attributes, args, env)
      }
    }
    guard status == 0 else {
      return .failure(
        SpawnFailure(message: "cannot start \(path): \(String(cString: strerror(status)))"))
    }
    return .success(pid)
  }
}

/// The file actions glibc has but Swift's Glibc module does not declare (they need
/// `_GNU_SOURCE`), looked up once at run time like `pidfd_open`.
private enum SpawnActions {
  private typealias CloseFrom =
    @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
  private typealias ChangeDirectory =
    @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

  private static let closeFromFunction: CloseFrom? = symbol(
    "posix_spawn_file_actions_addclosefrom_np")
  private static let changeDirectoryFunction: ChangeDirectory? = symbol(
    "posix_spawn_file_actions_addchdir_np")

  private static func symbol<F>(_ name: String) -> F? {
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: F.self) }
  }

  /// Closes every descriptor from `lowest` up in the child (glibc 2.34 and later; on an older
  /// C library descriptors opened without O_CLOEXEC are inherited).
  static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) {
    _ = closeFromFunction?(&actions, lowest)
  }

  /// Changes the child's directory before it execs; false when the C library cannot.
  static func changeDirectory(_ actions: inout posix_spawn_file_actions_t, _ path: String) -> Bool {
    guard let changeDirectoryFunction else { return false }
    return changeDirectoryFunction(&actions, path) == 0
  }
}

/// The signalling side of a running group; `finished` keeps us from signalling a group id that
/// may have been reused once the leader is reaped.
private final class LiveGroup: @unchecked Sendable {
  let pgid: pid_t
  let grace: TimeInterval
  let signalQueue = DispatchQueue(label: "fleetwave.process-group")
  private let lock = NSLock()
  private var finished = false
  private var reason: CommandOutcome?

  init(pgid: pid_t, grace: TimeInterval) {
    self.pgid = pgid
    self.grace = grace
  }

  func stop(_ why: CommandOutcome) {
    lock.lock()
    defer { lock.unlock() }
    guard !finished, reason == nil else { return }
    reason = why
    kill(-pgid, SIGTERM)
    // The grace period is real time: it is about the child's shutdown, not the rollout's clock.
    signalQueue.asyncAfter(deadline: .now() + grace) { [self] in
      lock.lock()
      defer { lock.unlock() }
      if !finished { kill(-pgid, SIGKILL) }
    }
  }

  /// Called once the leader has exited (not yet reaped): kills what is left, returns why the
  /// command was stopped, if it was.
  func finish() -> CommandOutcome? {
    lock.lock()
    defer { lock.unlock() }
    finished = true
    kill(-pgid, SIGKILL)
    return reason
  }
}

/// Carries `run`'s outcome from the completion to the waiting thread (the semaphore orders it).
private final class OutcomeBox: @unchecked Sendable {
  var outcome = CommandOutcome.cancelled
}
