// swift-tools-version: 6.1
// Fleetwave: roll one release out across a fleet of Kubernetes clusters, in waves, under
// failure budgets, with health gates and automatic rollback.
import PackageDescription

let package = Package(
  name: "Fleetwave",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "fleetwave", targets: ["fleetwave"]),
    .executable(name: "fleet-sim", targets: ["fleet-sim"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
  ],
  targets: [
    /// libyaml, the system's YAML 1.1 parser and emitter (apt libyaml-dev).
    .systemLibrary(
      name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
    /// libcurl, the system's HTTP client (apt libcurl4-openssl-dev), with typed setopt wrappers.
    .systemLibrary(
      name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    /// zlib, for gzip-compressed revision records as helm stores them (apt zlib1g-dev).
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    /// crypt(3): the salted, deliberately slow hash of --set arguments in a run's journal.
    .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),

    /// The pure model: ordered values with source marks, diagnostics, fleets, policies, plans.
    .target(name: "FleetCore"),
    /// YAML to `Value` with file:line:col marks, Helm's scalar rules, limits; and back to YAML.
    .target(name: "FleetYAML", dependencies: ["CYAML", "FleetCore"]),
    /// Loads and validates a fleet directory; label selectors; values layering as Helm does it.
    .target(name: "Inventory", dependencies: ["FleetCore", "FleetYAML"]),
    /// Turns a fleet and its policy into waves, windows and a timeline; deterministic, no I/O.
    .target(name: "Planner", dependencies: ["FleetCore"]),
    /// The libcurl transport: TLS, client certificates, tokens, timeouts, retries, reuse.
    .target(name: "HTTP", dependencies: ["CCurl", "FleetCore"]),
    /// Kubeconfig, a Kubernetes API client on the HTTP transport, Lease locks, revision records.
    .target(
      name: "Kube", dependencies: ["CZlib", "HTTP", "ProcessGroups", "FleetCore", "FleetYAML"]),
    /// Health gates: HTTP probes, Prometheus analysis, commands.
    .target(name: "Health", dependencies: ["HTTP", "Kube", "ProcessGroups", "FleetCore"]),
    /// Runs commands in their own process group: bounded, cancellable, leaving nothing behind.
    .target(name: "ProcessGroups", dependencies: ["FleetCore"]),
    /// How one cluster is upgraded and rolled back: kube, helm, exec and sim drivers.
    .target(
      name: "Drivers", dependencies: ["Kube", "ProcessGroups", "FleetCore", "FleetYAML"]),
    /// The Dispatch-based rollout engine: limits, bake timers, failure budgets, halt, rollback.
    .target(name: "Executor", dependencies: ["Drivers", "Health", "Planner", "FleetCore"]),
    /// Durable run state: write-ahead journal, resume, history, run locks.
    .target(name: "Journal", dependencies: ["FleetCore"]),
    /// Progress display and reports: JSON, JUnit XML, Markdown, HTML.
    .target(name: "Report", dependencies: ["FleetCore"]),
    /// The actions below the command line: rollout, resume, rollback as library types taking a
    /// loaded fleet, a plan, a state store, drivers and gates; driver setup; the state store.
    .target(
      name: "Engine",
      dependencies: [
        "FleetCore", "Inventory", "Planner", "HTTP", "Kube", "Health", "Drivers", "Executor",
        "Journal", "Report", "ProcessGroups", "CCrypt",
      ]),
    /// The command-line verbs, one file each; the only module that imports ArgumentParser.
    .target(
      name: "FleetwaveCommands",
      dependencies: [
        "FleetCore", "FleetYAML", "Inventory", "Planner", "Drivers", "Executor", "Journal",
        "Report",
        "Engine",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    /// The `fleetwave` executable: an entry point and nothing else.
    .executableTarget(name: "fleetwave", dependencies: ["FleetwaveCommands"]),

    /// Benchmarks that compare side by side in one run (Scripts/bench.sh).
    .executableTarget(
      name: "fleetwave-bench", dependencies: ["FleetCore", "FleetYAML", "Inventory"]),
    /// Benchmark: plans a synthetic 100,000-cluster fleet (run it built with `-c release`).
    .executableTarget(
      name: "fleetwave-bench-plan", dependencies: ["Planner", "Report", "FleetCore"]),
    /// Executor benchmarks (Scripts/bench-executor.sh): overhead against the critical path,
    /// halt latency, exec driver against `xargs -P`.
    .executableTarget(
      name: "fleetwave-bench-executor", dependencies: ["Executor", "Drivers", "FleetCore"]),

    /// libFuzzer targets for every parser of outside input, one binary (Scripts/fuzz.sh builds
    /// it with -sanitize=fuzzer; a plain build replays inputs).
    .executableTarget(
      name: "fleetwave-fuzz",
      dependencies: ["FleetCore", "FleetYAML", "Inventory", "Kube", "Journal"]),

    /// The fleet emulator: a Kubernetes API server for many virtual clusters, with faults.
    .target(
      name: "FleetSim",
      dependencies: [
        "FleetCore", "FleetYAML", "ProcessGroups",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]),
    /// The `fleet-sim` executable.
    .executableTarget(
      name: "fleet-sim",
      dependencies: [
        "FleetSim", "Inventory", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    /// Benchmark: probes per second through the HTTP transport against the curl CLI in a loop
    /// (run by Scripts/bench-http.sh).
    .executableTarget(
      name: "fleetwave-bench-http",
      dependencies: [
        "HTTP", "FleetCore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]),

    /// Shared by the test targets: built binaries, child processes, temporary directories.
    .target(
      name: "FleetwaveTestSupport", dependencies: ["ProcessGroups", "FleetCore"],
      path: "Tests/Support"),
    .testTarget(name: "FleetCoreTests", dependencies: ["FleetwaveTestSupport", "FleetCore"]),
    .testTarget(
      name: "FleetYAMLTests", dependencies: ["FleetwaveTestSupport", "FleetYAML", "FleetCore"]),
    .testTarget(
      name: "InventoryTests",
      dependencies: ["FleetwaveTestSupport", "Inventory", "FleetYAML", "FleetCore"]),
    .testTarget(
      name: "PlannerTests",
      dependencies: ["FleetwaveTestSupport", "Planner", "Report", "FleetCore"]),
    .testTarget(
      name: "HTTPTests",
      dependencies: [
        "FleetwaveTestSupport",
        "HTTP", "FleetCore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]),
    .testTarget(
      name: "HealthTests",
      dependencies: [
        "FleetwaveTestSupport",
        "Health", "HTTP", "FleetCore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]),
    .testTarget(
      name: "ExecutorTests",
      dependencies: [
        "FleetwaveTestSupport", "Executor", "Drivers", "Planner", "Report", "FleetCore",
      ]),
    .testTarget(
      name: "FleetSimTests",
      dependencies: ["FleetwaveTestSupport", "FleetSim", "FleetCore"]),
    .testTarget(
      name: "KubeTests",
      dependencies: ["FleetwaveTestSupport", "Kube", "FleetSim", "FleetCore"]),
    .testTarget(
      name: "DriversTests",
      dependencies: [
        "FleetwaveTestSupport", "Drivers", "Kube", "FleetSim", "Inventory", "FleetCore",
        "FleetYAML", "Health",
      ]),
    .testTarget(
      name: "ProcessGroupsTests",
      dependencies: ["FleetwaveTestSupport", "ProcessGroups", "FleetCore"]),
    .testTarget(
      name: "JournalTests", dependencies: ["FleetwaveTestSupport", "Journal", "FleetCore"]),
    /// The built `fleetwave` binary as users and CI run it; the libraries only compute what
    /// its output must say (report numbers, fleet-sim, Prometheus probes).
    .testTarget(
      name: "CommandTests",
      dependencies: ["FleetwaveTestSupport", "Report", "HTTP", "ProcessGroups", "FleetCore"]),
    .testTarget(
      name: "EngineTests",
      dependencies: [
        "FleetwaveTestSupport", "Engine", "Executor", "Drivers", "Journal", "Inventory", "Planner",
        "Report", "FleetCore", "Kube", "FleetSim",
      ]),
  ]
)
