// The helm driver against the emulator with the real helm: what it puts on helm's command
// line, how it reads revisions, and how it reports a release an interrupted helm left stuck.
import Drivers
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct HelmDriverTests {
  @Test func valuesTravelInFilesNeverOnHelmsCommandLine() throws {
    let sim = try HelmFixture()
    // helm's stand-in records the argument vector it is given, and the mode of every file
    // passed with -f, then runs the real helm with it.
    let recorded = sim.directory.file("argv.log")
    let wrapper = try sim.directory.write(
      "bin/helm",
      """
      #!/bin/sh
      previous=
      for word in "$@"; do
        echo "arg: $word" >> '\(recorded)'
        if [ "$previous" = "-f" ]; then echo "mode: $(stat -c %a "$word")" >> '\(recorded)'; fi
        previous=$word
      done
      exec '\(sim.helm)' "$@"

      """)
    #expect(chmod(wrapper, 0o755) == 0)
    let secret = "s3cr3t-token-4711"
    let sets: Value = ["config": ["apiToken": .string(secret)]]
    let driver = sim.driver(helm: wrapper, sets: sets)
    let cluster = try sim.cluster("b-1")

    let revision = try finish {
      driver.upgrade(call(cluster, timeout: .seconds(16)), from: nil, completion: $0)
    }
    #expect(revision == .success("1"))

    let argv = try String(contentsOfFile: recorded, encoding: .utf8)
    #expect(!argv.contains(secret))
    let upgrade = argv.components(separatedBy: "arg: version\narg: --short\n").last ?? ""
    let words = upgrade.split(separator: "\n").map(String.init)
    let setFile = try #require(
      words.last { $0.hasSuffix("/set-values.yaml") }.map { String($0.dropFirst(5)) })
    #expect(setFile.hasPrefix(FileManager.default.temporaryDirectory.path + "/fleetwave-"))
    #expect(!FileManager.default.fileExists(atPath: setFile))
    let base = sim.fleetDirectory
    #expect(
      words.prefix(while: { $0 != "arg: history" }) == [
        "arg: upgrade", "arg: --install", "arg: checkout", "arg: \(sim.chartDirectory)",
        "arg: --kubeconfig", "arg: \(sim.kubeconfig)", "arg: --kube-context", "arg: b-1",
        "arg: --namespace", "arg: shop", "arg: --create-namespace",
        "arg: -f", "arg: \(base)/values/base.yaml", "mode: \(try mode(base + "/values/base.yaml"))",
        "arg: -f", "arg: \(base)/values/clusters/b-1.yaml",
        "mode: \(try mode(base + "/values/clusters/b-1.yaml"))",
        "arg: -f", "arg: \(setFile)", "mode: 600",
        "arg: --wait", "arg: --timeout", "arg: 8s", "arg: --rollback-on-failure",
      ])
    let log = try String(contentsOfFile: driver.logPath(for: "b-1"), encoding: .utf8)
    #expect(!log.contains(secret))
    #expect(log.contains("STATUS: deployed\nREVISION: 1\n"))

    // The values did reach the chart: layers in order, then the --set file.
    let config = try sim.kubectl(
      ["get", "configmap", "checkout-config", "-o", "jsonpath={.data.config\\.json}"],
      cluster: "b-1")
    #expect(config.stdout == #"{"apiToken":"s3cr3t-token-4711","logLevel":"debug"}"#)
  }

  private func mode(_ path: String) throws -> String {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    let bits = try #require(attributes[.posixPermissions] as? NSNumber).intValue
    return String(bits, radix: 8)
  }

  @Test func revisionsComeFromHelmHistoryAndRollbackMakesANewOne() throws {
    let sim = try HelmFixture()
    let cluster = try sim.cluster("b-3")
    let driver = sim.driver()

    #expect(try finish { driver.currentRevision(call(cluster), completion: $0) } == .success(nil))
    #expect(
      try finish { driver.upgrade(call(cluster), from: nil, completion: $0) } == .success("1"))
    let newer = sim.driver(sets: ["image": ["tag": "2.0.0"]])
    #expect(try finish { newer.upgrade(call(cluster), from: "1", completion: $0) } == .success("2"))
    #expect(try finish { driver.currentRevision(call(cluster), completion: $0) } == .success("2"))
    #expect(try finish { driver.rollback(call(cluster), to: "1", completion: $0) } == .success("3"))
    #expect(
      try sim.history("b-3") == [
        "1 superseded: Install complete", "2 superseded: Upgrade complete",
        "3 deployed: Rollback to 1",
      ])
    // Rolling back to what already runs changes nothing.
    #expect(try finish { driver.rollback(call(cluster), to: "1", completion: $0) } == .success("3"))
    #expect(try sim.history("b-3").count == 3)
    // No revision before this run means there was no release: with none now, nothing to do.
    // (`helm uninstall` of an existing release is not exercised: the emulator answers its
    // protobuf-encoded DeleteOptions for the release Secret with 415.)
    let fresh = try sim.cluster("b-1")
    #expect(
      try finish { driver.rollback(call(fresh), to: nil, completion: $0) }
        == .success("uninstalled"))
  }

  @Test func aClusterGivenByItsServerURLIsReachedWithKubeAPIServer() throws {
    let sim = try HelmFixture()
    let byURL = Cluster(name: "b-2", server: sim.server.baseURL(for: "b-2", tls: false))
    let driver = sim.driver()
    #expect(try finish { driver.upgrade(call(byURL), from: nil, completion: $0) } == .success("1"))
    // It landed in b-2 (reached here through its kubeconfig context), and nowhere else.
    #expect(try sim.history("b-2") == ["1 deployed: Install complete"])
    let elsewhere = try sim.runHelm(["history", "checkout"], cluster: "canary-1")
    #expect(elsewhere.status == 1)
    #expect(elsewhere.stderr == "Error: release: not found\n")
    let log = try String(contentsOfFile: driver.logPath(for: "b-2"), encoding: .utf8)
    #expect(log.contains(" --kube-apiserver \(byURL.server ?? "?") --namespace shop "))
  }

  @Test func aClusterHelmCannotReachIsReportedUnreachable() throws {
    let sim = try HelmFixture()
    // Nothing listens on port 1: helm cannot reach the API server at all.
    let gone = Cluster(name: "gone", server: "http://127.0.0.1:1")
    let result = try finish { sim.driver().currentRevision(call(gone), completion: $0) }
    #expect(
      result
        == .failure(
          DriverError(
            .unreachable,
            "Error: kubernetes cluster unreachable: Get \"http://127.0.0.1:1/version\": dial tcp "
              + "127.0.0.1:1: connect: connection refused")))
    // Reached, but the release is unknown there: a plain answer, not unreachable.
    let reached = try sim.cluster("b-1")
    #expect(
      try finish { sim.driver().currentRevision(call(reached), completion: $0) } == .success(nil))
  }

  @Test func aReleaseLeftPendingByAKilledHelmIsReportedWithTheWayOut() throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [ImageFault(match: "*:stuck", effect: .neverReady)]))
    let cluster = try sim.cluster("b-2")
    let driver = sim.driver()
    #expect(
      try finish { driver.upgrade(call(cluster), from: nil, completion: $0) } == .success("1"))

    // A helm that is killed while it waits leaves revision 2 in pending-upgrade for good.
    let helm = try BackgroundProcess(
      sim.helm,
      [
        "upgrade", "checkout", sim.chartDirectory, "--kube-context", "b-2", "-n", "shop",
        "--set", "image.tag=stuck", "--wait", "--timeout", "120s",
      ],
      environment: sim.environment)
    let pending = eventually(timeout: 60) {
      let status = try? sim.kubectl(
        [
          "get", "secret", "sh.helm.release.v1.checkout.v2", "-o",
          "jsonpath={.metadata.labels.status}",
        ], cluster: "b-2")
      return status?.stdout == "pending-upgrade"
    }
    helm.signal(SIGKILL)
    helm.wait()
    #expect(pending)
    #expect(
      try sim.history("b-2")
        == ["1 deployed: Install complete", "2 pending-upgrade: Preparing upgrade"])

    let message =
      "release 'checkout' is stuck in pending-upgrade at revision 2: an earlier helm run was "
      + "interrupted; recover with 'helm rollback checkout 1 --kubeconfig \(sim.kubeconfig) "
      + "--kube-context b-2 --namespace shop' and roll out again"
    #expect(
      try finish { driver.currentRevision(call(cluster), completion: $0) }
        == .failure(DriverError(.failed, message)))
    #expect(
      try finish { driver.rollback(call(cluster), to: "1", completion: $0) }
        == .failure(DriverError(.failed, message)))

    // The way out works: after it, the release upgrades again.
    let recovery = try sim.runHelm(["rollback", "checkout", "1"], cluster: "b-2")
    #expect(recovery.status == 0, "\(recovery.stderr)")
    #expect(try finish { driver.currentRevision(call(cluster), completion: $0) } == .success("3"))
    #expect(
      try finish { driver.upgrade(call(cluster), from: "3", completion: $0) } == .success("4"))
  }

  @Test func aCancelledUpgradeKillsHelmAndSaysSo() throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [ImageFault(match: "*:1.0.0", effect: .neverReady)]))
    let cluster = try sim.cluster("canary-1")
    let driver = sim.driver(killGrace: 1)
    let cancellation = Cancellation()
    let started = DispatchSemaphore(value: 0)
    let result = ResultBox<String>()
    driver.upgrade(call(cluster, timeout: .seconds(120), cancellation: cancellation), from: nil) {
      result.set($0)
      started.signal()
    }
    // Cancel once helm is waiting on the never-ready Deployment.
    let waiting = eventually(timeout: 60) {
      let found = try? sim.kubectl(
        ["get", "deployment", "checkout", "-o", "name"], cluster: "canary-1")
      return found?.stdout == "deployment.apps/checkout\n"
    }
    #expect(waiting)
    cancellation.cancel()
    #expect(started.wait(timeout: .now() + 60) == .success)
    #expect(result.result == .failure(DriverError(.cancelled, "helm upgrade cancelled")))
    let log = try String(contentsOfFile: driver.logPath(for: "canary-1"), encoding: .utf8)
    #expect(log.hasSuffix("=== upgrade cancelled; process group killed\n"))
  }

  @Test func aTimedOutCallReportsTheLimit() throws {
    let sim = try HelmFixture(
      faults: FaultSet(images: [ImageFault(match: "*", effect: .neverReady)]))
    let cluster = try sim.cluster("b-1")
    // helm's own wait (30 s) outlasts the call's 3 s: the driver stops helm itself.
    let driver = HelmDriver(
      commandLine: sim.driver().commandLine, chart: .local(path: sim.chartDirectory),
      logDirectory: sim.directory.file("logs"), wait: .seconds(30),
      baseEnvironment: ProcessInfo.processInfo.environment.merging(sim.environment) { $1 },
      killGrace: 1)
    let result = try finish {
      driver.upgrade(call(cluster, timeout: .seconds(3)), from: nil, completion: $0)
    }
    #expect(result == .failure(DriverError(.timedOut, "helm upgrade timed out after 3s")))
  }
}

@Suite struct HelmDriverPartsTests {
  @Test func theRollbackFlagFollowsHelmsMajorVersion() {
    #expect(
      HelmBinary.rollbackOnFailureFlag(versionOutput: "v4.1.4+g05fa379\n")
        == "--rollback-on-failure")
    #expect(HelmBinary.rollbackOnFailureFlag(versionOutput: "v3.14.2+gc309b6f\n") == "--atomic")
    #expect(HelmBinary.rollbackOnFailureFlag(versionOutput: "Client: &version.Version{}") == nil)
  }

  @Test func helmIsFoundInTheEnvironmentThenBesideTheBinaryThenPathThenTheCheckout() throws {
    let dir = try TemporaryDirectory("helm-locate")
    defer { dir.remove() }
    let chosen = try dir.write("chosen/helm", "#!/bin/sh\n")
    let beside = try dir.write("bin/helm", "#!/bin/sh\n")
    let cached = try dir.write("root/.tools/helm/helm", "#!/bin/sh\n")
    let onPath = try dir.write("path/helm", "#!/bin/sh\n")
    let notExecutable = try dir.write("plain/helm", "")
    for file in [chosen, beside, cached, onPath] { #expect(chmod(file, 0o755) == 0) }
    let path = "\(dir.path)/empty:\(dir.path)/path"
    let root = dir.file("root")
    let bin = dir.file("bin")
    #expect(
      HelmBinary.locate(
        environment: ["FLEETWAVE_HELM": chosen, "PATH": path], executableDirectory: bin,
        packageRoot: root) == chosen)
    #expect(
      HelmBinary.locate(
        environment: ["FLEETWAVE_HELM": notExecutable, "PATH": path], packageRoot: root) == nil)
    #expect(
      HelmBinary.locate(environment: ["PATH": path], executableDirectory: bin, packageRoot: root)
        == beside)
    #expect(HelmBinary.locate(environment: ["PATH": path], packageRoot: root) == onPath)
    #expect(HelmBinary.locate(environment: [:], packageRoot: root) == cached)
    #expect(HelmBinary.locate(environment: [:], packageRoot: nil) == nil)
  }

  @Test func historySaysWhatRunsAndHowToLeaveAStuckRelease() throws {
    let json = """
      [{"revision":1,"updated":"2026-11-25T00:00:00Z","status":"superseded","chart":"checkout-1.4.2",
        "app_version":"1.4.2","description":"Install complete"},
       {"revision":2,"updated":"2026-11-25T00:01:00Z","status":"deployed","chart":"checkout-1.4.2",
        "app_version":"1.4.2","description":"Rollback to 1"},
       {"revision":3,"updated":"2026-11-25T00:02:00Z","status":"pending-rollback",
        "chart":"checkout-1.4.2","app_version":"1.4.2","description":"Rollback to 1"}]
      """
    let history = try HelmHistory.parse(json)
    #expect(history.deployed?.revision == 2)
    #expect(history.stuck?.status == "pending-rollback")
    #expect(history.restores(1))
    #expect(!history.restores(3))
    #expect(
      history.stuckMessage(release: "checkout") { "\($0)" }
        == "release 'checkout' is stuck in pending-rollback at revision 3: an earlier helm run "
        + "was interrupted; recover with 'rollback(2)' and roll out again")

    let install = try HelmHistory.parse(
      #"[{"revision":1,"status":"pending-install","description":"Initial install underway"}]"#)
    #expect(install.deployed == nil)
    #expect(
      install.stuckMessage(release: "checkout") { "\($0)" }
        == "release 'checkout' is stuck in pending-install at revision 1: an earlier helm run "
        + "was interrupted; recover with 'uninstall' and roll out again")
    #expect(
      throws: DriverError(.failed, "cannot read helm history: expected a JSON array")
    ) { try HelmHistory.parse(#"{"revision":1}"#) }
  }
}
