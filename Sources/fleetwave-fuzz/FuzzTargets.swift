// libFuzzer entry points for every parser that reads input a person or a crash can shape.
//
// Built only by Scripts/fuzz.sh (`-sanitize=fuzzer -DFUZZING`); one binary holds every target
// and FLEETWAVE_FUZZ_TARGET picks one, so the instrumented modules are compiled once.
import FleetCore
import FleetYAML
import Foundation
import Inventory
import Journal
import Kube

/// The parsers under test, named as Scripts/fuzz.sh names them.
enum FuzzTarget: String, CaseIterable {
  case yaml, selector, duration, template, kubeconfig, set, journal

  /// Feeds `bytes` to the parser. Errors are the expected outcome for most inputs; only a
  /// crash, a hang or a sanitizer report is a finding.
  func run(_ bytes: [UInt8], scratch: String) {
    let text = String(decoding: bytes, as: UTF8.self)
    switch self {
    case .yaml:
      _ = try? YAML.parseStream(SourceFile(path: "<fuzz>", bytes: bytes))
    case .selector:
      if let selector = try? LabelSelector.parse(text) {
        _ = selector.matches(["env": "prod", "canary": "true"])
        _ = try? LabelSelector.parse(selector.description)
      }
    case .duration:
      if let duration = DurationText.parse(text) { _ = DurationText.format(duration) }
    case .template:
      // First line: the template; each further line `key=value` a label.
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      var labels: [String: String] = [:]
      for line in lines.dropFirst() {
        let parts = line.split(separator: "=", maxSplits: 1)
        labels[String(parts.first ?? "")] = parts.count > 1 ? String(parts[1]) : ""
      }
      let cluster = Cluster(name: "fuzz", labels: labels, context: "ctx", server: "https://x")
      let template = String(lines.first ?? "")
      _ = ClusterTemplate.check(template)
      for sink in TemplateSink.allCases {
        _ = ClusterTemplate.check(template, sink: sink)
        _ = try? ClusterTemplate.render(template, cluster: cluster, sink: sink)
      }
    case .kubeconfig:
      let path = scratch + "/kubeconfig"
      guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
      if let config = try? Kubeconfig.load(paths: [path], explicit: true) {
        _ = try? config.connection()
      }
    case .set:
      var values = Mapping()
      try? SetArgument.apply(text, kind: .typed, to: &values)
      try? SetArgument.apply(text, kind: .string, to: &values)
    case .journal:
      let path = scratch + "/journal.log"
      guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
      _ = try? JournalFile.read(path: path)
    }
  }
}

#if FUZZING
  /// The target chosen once per process; a constant after the first call.
  private let chosenTarget: FuzzTarget? = ProcessInfo.processInfo.environment[
    "FLEETWAVE_FUZZ_TARGET"
  ].flatMap(FuzzTarget.init(rawValue:))
  private let scratchDirectory: String = {
    let path = NSTemporaryDirectory() + "fleetwave-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }()

  /// SwiftPM links an executable target's `main` as `<module>_main`, so libFuzzer's own `main`
  /// never runs; this one hands over to libFuzzer's driver, found in the process itself.
  @_cdecl("fleetwave_fuzz_main")
  public func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
  ) -> CInt {
    typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    typealias RunDriver =
      @convention(c) (
        UnsafeMutablePointer<CInt>,
        UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>, TestOneInput
      ) -> CInt
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
      fatalError("libFuzzer's LLVMFuzzerRunDriver is not linked in")
    }
    var count = argc
    var vector = argv
    return unsafeBitCast(symbol, to: RunDriver.self)(&count, &vector, fuzzOneInput)
  }

  @_cdecl("LLVMFuzzerTestOneInput")
  public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let target = chosenTarget else {
      fatalError(
        "set FLEETWAVE_FUZZ_TARGET to one of "
          + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
    }
    target.run(Array(UnsafeBufferPointer(start: data, count: count)), scratch: scratchDirectory)
    return 0
  }
#else
  /// Without libFuzzer the binary replays files, so a crash input can be rerun in a debugger:
  /// `fleetwave-fuzz TARGET FILE...`.
  @main
  struct FuzzReplay {
    static func main() {
      let arguments = CommandLine.arguments.dropFirst()
      guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
        print(
          "usage: fleetwave-fuzz TARGET FILE... (targets: "
            + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            + "); build with Scripts/fuzz.sh to fuzz")
        exit(2)
      }
      let scratch = NSTemporaryDirectory() + "fleetwave-fuzz-\(getpid())"
      try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: scratch) }
      for file in arguments.dropFirst() {
        guard let data = FileManager.default.contents(atPath: file) else {
          print("\(file): cannot read")
          exit(1)
        }
        target.run([UInt8](data), scratch: scratch)
        print("\(file): ok")
      }
    }
  }
#endif
