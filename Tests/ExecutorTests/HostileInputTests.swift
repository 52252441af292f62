// Every hostile value through the exec driver's commands, run by a real /bin/sh: a marked value
// is one word, byte for byte; an unmarked one is refused before anything runs.
import Drivers
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct HostileInputTests {
  let release = Release(name: "checkout", namespace: "shop", driver: .exec, version: "1.4.2")

  private func upgrade(_ command: String, _ value: String, logs: String)
    -> Result<String, DriverError>?
  {
    let driver = ExecDriver(
      commands: ExecCommands(upgrade: command), release: release, logDirectory: logs)
    let call = DriverCall(
      cluster: Cluster(name: "c", labels: ["v": value]), run: "run-1", timeout: .seconds(60),
      cancellation: Cancellation(), clock: SystemClock(), queue: DispatchQueue(label: "test"))
    return complete { driver.upgrade(call, from: nil, completion: $0) }
  }

  @Test(arguments: HostileValue.all)
  func anUpgradeCommandGetsAMarkedValueAsOneWord(_ hostile: HostileValue) throws {
    let dir = try TemporaryDirectory("hostile-exec")
    defer { dir.remove() }
    let result = upgrade(
      "printf '%s' {{ .labels.v | shellquote }} > \(dir.file("word"))", hostile.value,
      logs: dir.file("logs"))
    if hostile.attack == "nul" {
      #expect(
        result
          == .failure(
            DriverError(
              .setup,
              #"upgrade command: '{{ .labels.v }}' value 'a\0b' holds NUL, which no shell word can"#
            )))
      #expect(!FileManager.default.fileExists(atPath: dir.file("word")))
    } else {
      #expect(result == .success("1.4.2"))
      #expect(try String(contentsOfFile: dir.file("word"), encoding: .utf8) == hostile.value)
    }
    #expect(!FileManager.default.fileExists(atPath: "/tmp/PWNED"))
  }

  @Test func anUnmarkedPlaceholderIsRefusedBeforeAnythingRuns() throws {
    let dir = try TemporaryDirectory("hostile-exec")
    defer { dir.remove() }
    let result = upgrade(
      "touch \(dir.file("ran")); echo {{ .labels.v }}", "$(id)", logs: dir.file("logs"))
    #expect(
      result
        == .failure(
          DriverError(
            .setup,
            #"upgrade command: '{{ .labels.v }}' in a shell command: commands receive values as environment variables ("$FLEETWAVE_LABEL_V"); to paste the value as one quoted word write '{{ .labels.v | shellquote }}'"#
          )))
    #expect(!FileManager.default.fileExists(atPath: dir.file("ran")))
  }
}
