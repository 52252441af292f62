import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct RunScratchTests {
  /// A pid that has just exited (and been reaped): nothing runs under it now.
  func deadPid() throws -> pid_t {
    let process = try BackgroundProcess("/bin/true", [])
    process.wait()
    return process.pid
  }

  @Test func aDeadOwnersDirectoryIsRemovedAndALiveOwnersKept() throws {
    let base = try TemporaryDirectory("scratch")
    defer { base.remove() }
    let ourStart = try #require(ProcessStart.of(getpid()))

    let live = try RunScratch.create(in: base.path)
    _ = try base.write(
      (live.path as NSString).lastPathComponent + "/values.yaml", "token: live\n")
    let dead = try RunScratch.create(in: base.path)
    try dead.writeOwner(pid: try deadPid(), started: ourStart)
    _ = try base.write((dead.path as NSString).lastPathComponent + "/values.yaml", "x: 1\n")
    // Our own pid with another start time: the pid was reused by a new process.
    let reused = try RunScratch.create(in: base.path)
    try reused.writeOwner(pid: getpid(), started: ourStart - 1)
    // Another program's directory that only looks similar is never touched.
    _ = try base.write("fleetwave-gate.log", "")

    RunScratch.sweep(base.path)

    let left = try FileManager.default.contentsOfDirectory(atPath: base.path).sorted()
    #expect(left == ["fleetwave-gate.log", (live.path as NSString).lastPathComponent])
    #expect(
      try String(contentsOfFile: live.path + "/values.yaml", encoding: .utf8) == "token: live\n")
  }

  @Test func theDirectoryIsPrivateAndNamesItsOwner() throws {
    let base = try TemporaryDirectory("scratch-mode")
    defer { base.remove() }
    let scratch = try RunScratch.create(in: base.path)
    let attributes = try FileManager.default.attributesOfItem(atPath: scratch.path)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    let owner = try String(contentsOfFile: scratch.path + "/owner", encoding: .utf8)
    #expect(owner == "\(getpid()) \(try #require(ProcessStart.of(getpid())))\n")
  }

  @Test func anOwnerlessDirectoryIsKeptForAnHourThenRemoved() throws {
    let base = try TemporaryDirectory("scratch-ownerless")
    defer { base.remove() }
    let path = base.file(RunScratch.prefix + "abcdef")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    RunScratch.sweep(base.path, now: Date().addingTimeInterval(60))
    #expect(FileManager.default.fileExists(atPath: path))
    RunScratch.sweep(base.path, now: Date().addingTimeInterval(3700))
    #expect(!FileManager.default.fileExists(atPath: path))
  }
}
