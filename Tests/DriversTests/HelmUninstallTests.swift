// The helm driver's uninstall: the real `helm uninstall --wait` against fleet-sim.
import Drivers
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct HelmUninstallTests {
  @Test func uninstallKeepsHistoryWhenAskedAndANeverInstalledClusterIsNotInstalled() throws {
    let sim = try HelmFixture()
    let cluster = try sim.cluster("b-2")
    let driver = sim.driver()
    #expect(
      try finish { driver.uninstall(call(cluster), keepHistory: true, completion: $0) }
        == .success("not-installed"))
    #expect(
      try finish { driver.upgrade(call(cluster), from: nil, completion: $0) } == .success("1"))

    #expect(
      try finish { driver.uninstall(call(cluster), keepHistory: true, completion: $0) }
        == .success("uninstalled"))
    #expect(try sim.history("b-2") == ["1 uninstalled: Uninstallation complete"])
    let left = try sim.kubectl(["get", "deployments", "-o", "name"], cluster: "b-2")
    #expect(left.stdout == "", "\(left.stderr)")
    #expect(try finish { driver.currentRevision(call(cluster), completion: $0) } == .success(nil))
    // Already uninstalled; without --keep-history helm purges the kept record.
    #expect(
      try finish { driver.uninstall(call(cluster), keepHistory: false, completion: $0) }
        == .success("not-installed"))
    let history = try sim.runHelm(["history", "checkout"], cluster: "b-2")
    #expect(history.stderr == "Error: release: not found\n")
  }
}
