// Benchmarks measured side by side in one process run; Scripts/bench.sh drives them.
import FleetCore
import FleetYAML
import Foundation

@main struct Entrypoint {
  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let name = arguments.first else {
      FileHandle.standardError.write(Data("usage: fleetwave-bench yaml FILE [--runs N]\n".utf8))
      exit(2)
    }
    do {
      switch name {
      case "yaml": try YAMLBenchmark.run(Array(arguments.dropFirst()))
      case "inventory": try InventoryBenchmark.run(Array(arguments.dropFirst()))
      default:
        FileHandle.standardError.write(Data("fleetwave-bench: unknown benchmark '\(name)'\n".utf8))
        exit(2)
      }
    } catch {
      FileHandle.standardError.write(Data("fleetwave-bench: \(error)\n".utf8))
      exit(1)
    }
  }
}

/// Interleaves the raw libyaml event pass and the full tree build on the same bytes, so machine
/// noise hits both alike; reports the best run of each and their ratio.
enum YAMLBenchmark {
  static func run(_ arguments: [String]) throws {
    guard let path = arguments.first else { throw Diagnostic.error("yaml: a FILE is required") }
    var runs = 5
    if let i = arguments.firstIndex(of: "--runs"), i + 1 < arguments.count,
      let n = Int(arguments[i + 1])
    {
      runs = n
    }
    let source = try YAML.read(path: path, limits: YAML.Limits(maxBytes: 1 << 30))
    // `--only raw|tree` runs one pass once, for instruction counting under callgrind, which is
    // repeatable where wall time on a shared machine is not.
    if let i = arguments.firstIndex(of: "--only"), i + 1 < arguments.count {
      if arguments[i + 1] == "raw" {
        print(try YAML.countEvents(source))
      } else {
        print(try YAML.parseStream(source).reduce(0) { $0 + count($1) })
      }
      return
    }
    let megabytes = Double(source.bytes.count) / 1_048_576
    var bestRaw = Double.infinity
    var bestTree = Double.infinity
    var events = 0
    var nodes = 0
    for _ in 0..<runs {
      var start = DispatchTime.now().uptimeNanoseconds
      events = try YAML.countEvents(source)
      bestRaw = min(bestRaw, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      start = DispatchTime.now().uptimeNanoseconds
      let documents = try YAML.parseStream(source)
      bestTree = min(bestTree, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      nodes = documents.reduce(0) { $0 + count($1) }
    }
    print(
      String(
        format: "yaml  %.1f MB, %d events, %d nodes, best of %d\n"
          + "  raw libyaml events  %7.1f MB/s  (%.3f s)\n"
          + "  FleetYAML to Value  %7.1f MB/s  (%.3f s)\n"
          + "  tree / raw time     %7.2fx  (goal <= 2.00x)",
        megabytes, events, nodes, runs, megabytes / bestRaw, bestRaw, megabytes / bestTree, bestTree,
        bestTree / bestRaw))
  }

  static func count(_ value: Value) -> Int {
    switch value.kind {
    case .sequence(let items): return 1 + items.reduce(0) { $0 + count($1) }
    case .mapping(let m): return 1 + m.entries.reduce(0) { $0 + count($1.value) }
    default: return 1
    }
  }
}
