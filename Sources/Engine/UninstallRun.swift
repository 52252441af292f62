// An uninstall run: a run like a rollout (the same plan, journal, waves, budgets, approvals
// and resume) whose driver call removes the release instead of upgrading it. Its journal
// header says so (`settings.action: uninstall`), so every pass, a resumed one included, acts
// the same way.
import Drivers
import Executor
import FleetCore
import Health
import Journal

/// The settings that make a run an uninstall, and what a pass of one uses.
public enum UninstallRun {
  public static let action = "uninstall"

  /// What a new uninstall run records in its journal header.
  public static func settings(keepHistory: Bool) -> [String: String] {
    var settings = ["action": action]
    if keepHistory { settings["keepHistory"] = "true" }
    return settings
  }

  /// Whether the run the header starts is an uninstall.
  public static func isUninstall(_ header: RunHeader) -> Bool {
    header.settings["action"] == action
  }
}

/// The driver, gates and failure policy of one pass: the run's own, or, for an uninstall run,
/// the driver's uninstall in place of its upgrade, no health gates (they check that the
/// release works, and there is no release left to check), no wave-entry preflight (it checks
/// what an upgrade needs: rights to apply, the chart's kubeVersion, quota headroom) and no
/// rollback (an uninstall has no earlier revision to go back to; a failed cluster keeps what
/// its failed uninstall left, which `resume` tries again).
struct PassSetup {
  var driver: any Driver
  var gates: [any HealthGate]
  var waveGates: [any HealthGate]
  var waveEntryGates: [any HealthGate]
  var failurePolicy: FailurePolicy

  init(drivers: RunDrivers, policy: FailurePolicy, header: RunHeader) {
    guard UninstallRun.isUninstall(header) else {
      self.driver = drivers.driver
      self.gates = drivers.gates
      self.waveGates = drivers.waveGates
      self.waveEntryGates = drivers.waveEntryGates
      self.failurePolicy = policy
      return
    }
    self.driver = UninstallingDriver(
      driver: drivers.driver, keepHistory: header.settings["keepHistory"] == "true")
    self.gates = []
    self.waveGates = []
    self.waveEntryGates = []
    var policy = policy
    policy.rollback = .none
    self.failurePolicy = policy
  }
}

/// A driver whose upgrade is the wrapped driver's uninstall.
struct UninstallingDriver: Driver {
  let driver: any Driver
  let keepHistory: Bool

  var name: String { driver.name }

  func upgrade(
    _ call: DriverCall, from fromRevision: String?, completion: @escaping DriverCompletion<String>
  ) {
    driver.uninstall(call, keepHistory: keepHistory, completion: completion)
  }

  func rollback(
    _ call: DriverCall, to revision: String?, completion: @escaping DriverCompletion<String>
  ) {
    // The pass's policy never rolls back; a rollback here is a wiring mistake, said plainly.
    completion(.failure(DriverError(.setup, "an uninstall cannot be rolled back")))
  }

  func currentRevision(_ call: DriverCall, completion: @escaping DriverCompletion<String?>) {
    driver.currentRevision(call, completion: completion)
  }

  func deployedRelease(
    _ call: DriverCall, completion: @escaping DriverCompletion<DeployedRelease?>
  ) {
    driver.deployedRelease(call, completion: completion)
  }

  /// A target no deployed revision matches: a resumed run's cluster caught mid-uninstall is
  /// uninstalled again (every step is idempotent; one already without the release answers
  /// `not-installed`), never taken for done because a revision is still deployed.
  func target(for cluster: Cluster, version: String?) throws(DriverError) -> ReleaseTarget {
    ReleaseTarget(version: nil)
  }

  func uninstall(
    _ call: DriverCall, keepHistory: Bool, completion: @escaping DriverCompletion<String>
  ) {
    driver.uninstall(call, keepHistory: keepHistory, completion: completion)
  }
}
