// The driver, the gates and the clock a run uses, made from the fleet and the run's settings:
// one switch over the driver kinds, shared by every action that changes clusters.
import Drivers
import FleetCore
import Foundation
import HTTP
import Health
import Inventory

/// What the sim driver is told to get wrong, for rehearsals and tests.
public struct SimSettings: Sendable {
  public var failUpgrade: Set<String> = []
  public var failHealth: Set<String> = []
  public var failureRate: Double = 0
  public var seed: UInt64 = 1
  /// Wait in real time instead of jumping the clock to the next event.
  public var realTime = false

  public init() {}
}

/// Everything a run's executor is given besides the plan and the journal.
public struct RunDrivers {
  public var kind: DriverKind
  public var driver: any Driver
  public var gates: [any HealthGate]
  public var waveGates: [any HealthGate]
  /// Run over a wave's pending clusters just before it starts (the preflight).
  public var waveEntryGates: [any HealthGate] = []
  public var clock: any RolloutClock
  /// The sim driver's virtual clock, which the executor advances itself.
  public var virtualClock: ManualClock?

  public init(
    kind: DriverKind, driver: any Driver, gates: [any HealthGate] = [],
    waveGates: [any HealthGate] = [], clock: any RolloutClock, virtualClock: ManualClock? = nil
  ) {
    self.kind = kind
    self.driver = driver
    self.gates = gates
    self.waveGates = waveGates
    self.clock = clock
    self.virtualClock = virtualClock
  }

  /// The drivers for `run` of a loaded fleet. `now` rehearses the run at another time.
  public static func make(
    _ kind: DriverKind, for loaded: LoadedFleet, run: String, stateDirectory: String,
    values overrides: ValueOverrides = .none, kubeconfig: String?, forceUnlock: Bool = false,
    logDirectory: String? = nil,
    sim: SimSettings = SimSettings(), now: Date? = nil
  ) throws(EngineError) -> RunDrivers {
    let fleet = loaded.fleet
    let policy = fleet.rollout
    let logs = logDirectory ?? "\(stateDirectory)/runs/\(run)/logs"
    let clock: any RolloutClock = now.map { OffsetClock(startingAt: $0) } ?? SystemClock()
    let driver: any Driver
    switch kind {
    case .sim:
      let simulated = SimDriver(
        duration: .fixed(policy.expectedDuration),
        durations: Dictionary(
          uniqueKeysWithValues: fleet.clusters.compactMap { c in
            c.expectedDuration.map { (c.name, SimDuration.fixed($0)) }
          }),
        faults: SimFaults(
          upgrade: .init(names: sim.failUpgrade, probability: sim.failureRate),
          health: .init(names: sim.failHealth)),
        seed: sim.seed)
      let gates: [any HealthGate] = [SimHealthGate(driver: simulated)]
      if sim.realTime {
        return RunDrivers(kind: kind, driver: simulated, gates: gates, clock: clock)
      }
      let virtual = ManualClock(start: now ?? Date())
      return RunDrivers(
        kind: kind, driver: simulated, gates: gates, clock: virtual, virtualClock: virtual)
    case .exec:
      guard let commands = fleet.release.exec else {
        throw EngineError("release.exec is not set; the exec driver needs release.exec.upgrade")
      }
      let values = loaded.values
      driver = ExecDriver(
        commands: commands, release: fleet.release, logDirectory: logs,
        values: { cluster in
          do throws(DiagnosticError) {
            return try values.values(for: cluster, overrides: overrides)
          } catch {
            throw DriverError(.setup, error.diagnostics.map(\.message).joined(separator: "; "))
          }
        })
    case .kube:
      driver = try makeKubeDriver(
        loaded, values: overrides, kubeconfig: kubeconfig,
        options: KubeDriverOptions(forceUnlock: forceUnlock),
        chartCache: "\(stateDirectory)/charts")
    case .helm:
      driver = try HelmRollout.driver(
        loaded, values: overrides, kubeconfig: kubeconfig, logDirectory: logs,
        chartCache: "\(stateDirectory)/charts")
    }
    // Drivers that change real clusters are verified by the fleet's own gates.
    let transport = HTTPTransport()
    var variables = TemplateVariables.values(for: fleet.release)
    variables["run"] = run
    // Command gates reach the clusters as the run does: kubectl and helm read KUBECONFIG.
    let environment =
      kubeconfig.map { ["KUBECONFIG": URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? [:]
    let tester = driver as? any ReleaseTesting
    let gates = policy.health.map {
      HealthGates.make(
        spec: $0, transport: transport, variables: variables, environment: environment,
        tester: tester)
    }
    let waveGates = policy.waveHealth.map {
      HealthGates.make(
        spec: $0, transport: transport, variables: variables, environment: environment,
        tester: tester)
    }
    return RunDrivers(
      kind: kind, driver: driver, gates: gates, waveGates: waveGates, clock: clock)
  }
}
