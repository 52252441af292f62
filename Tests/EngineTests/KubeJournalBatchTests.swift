// Group commit in the home cluster: appenders that queue records while a write is in flight
// share the next compare-and-swap, every record lands once and in order, a stale writer is
// still refused, and a failed batch fails every caller in it.
import Engine
import FleetCore
import FleetSim
import FleetwaveTestSupport
import Foundation
import Journal
import Testing

@Suite struct KubeJournalBatchTests {
  typealias Home = KubeStateStoreTests.Home

  func header(_ id: String) -> RunHeader {
    RunHeader(
      id: id, fleet: "demo", release: "checkout", version: "1.4.2", fleetDigest: "sha256:1234",
      plan: ["fleet": "demo", "waves": [["index": 0, "name": "canary", "clusters": ["a"]]]],
      startedAt: Date(timeIntervalSince1970: 1_800_000_000), host: "ci-1", pid: 42, user: "ops",
      instance: "p1x7ka")
  }

  /// Writes to journal chunks in fleet-sim's request log, by status.
  func chunkWrites(_ home: Home) throws -> [Int64] {
    let log = try String(contentsOfFile: home.requestLogPath, encoding: .utf8)
    return try log.split(separator: "\n").compactMap { line in
      let entry = try JSONReader.parse(String(line))
      let method = entry["method"]?.string ?? ""
      guard entry["path"]?.string?.contains("/secrets") == true, method == "PUT" || method == "POST"
      else { return nil }
      return entry["status"]?.int
    }
  }

  @Test func concurrentAppendersShareAPIWritesAndAStaleWriterIsStillRefused() throws {
    let home = try Home(requestLog: true)
    // Small chunks, so batches also spill from a full chunk into the next.
    let store = try home.store(chunkLimit: 16 * 1024)
    let journal = try store.createRun(header("batch"), clock: SystemClock())
    // Another machine appends after this journal read the tail: its first batch is stale.
    let (other, _) = try store.reopenRun("batch", clock: SystemClock())
    try other.append(.approval(wave: 0, by: "alice", name: "canary"))
    let before = try chunkWrites(home)
    #expect(before == [201, 200])

    let appenders = 8
    let each = 25
    let failures = Collected()
    let finished = StartBarrier.run(workers: appenders) { appender in
      for index in 0..<each {
        do {
          try journal.append(.cluster(name: "w\(appender)-\(index)", state: "upgrading"))
        } catch {
          failures.add("\(error)")
        }
      }
    }
    #expect(finished)
    #expect(failures.items == [])

    let records = appenders * each
    let writes = try chunkWrites(home).dropFirst(before.count)
    // The first write carried the stale resourceVersion and was refused; the batch was
    // written again after the other machine's record.
    #expect(writes.first == 409)
    #expect(writes.filter { $0 == 409 }.count == 1)
    let succeeded = writes.filter { $0 < 300 }.count
    #expect(succeeded >= 1)
    // One write per record without batching; measured about six records per write here.
    #expect(succeeded * 2 < records)

    let stored = try store.readRun("batch")
    #expect(stored.records.map(\.sequence) == Array(1...(2 + records)))
    #expect(stored.records[1].entry == .approval(wave: 0, by: "alice", name: "canary"))
    let names = stored.records.dropFirst(2).compactMap { record -> String? in
      guard case .cluster(let name, _, _, _, _) = record.entry else { return nil }
      return name
    }
    #expect(names.count == records)
    #expect(Set(names).count == records)
    for appender in 0..<appenders {
      #expect(
        names.filter { $0.hasPrefix("w\(appender)-") } == (0..<each).map { "w\(appender)-\($0)" })
    }
    // The journal's own view is what the home cluster holds.
    journal.refresh()
    #expect(journal.state.clusters.count == records)
    #expect(journal.state.approvals == ["canary": "alice"])
    let client = try home.client()
    let chunks = try client.list(
      apiVersion: "v1", kind: "Secret", namespace: "fw",
      labelSelector: "app.kubernetes.io/managed-by=fleetwave")
    #expect(chunks.count > 1)
    for chunk in chunks {
      let size = Data(base64Encoded: chunk["data"]?["records"]?.string ?? "")?.count ?? 0
      #expect(size <= 16 * 1024)
    }
  }

  @Test func aFailedBatchFailsEveryCallerInItAndTheJournalTakesNoMore() throws {
    let home = try Home()
    let store = try home.store()
    let journal = try store.createRun(header("torn"), clock: SystemClock())
    // The home cluster starts failing every request, slowly: the appenders released together
    // all queue while the first write is in flight.
    home.server.faults.faults = FaultSet(api: [
      APIFault(errorRate: 1, errorCode: 500, latency: .milliseconds(300))
    ])
    let heard = Collected()
    let finished = StartBarrier.run(workers: 3) { index in
      do {
        try journal.append(.cluster(name: "c\(index)", state: "upgrading"))
        heard.add("c\(index) durable")
      } catch let error as JournalError {
        heard.add(error.message)
      } catch {
        heard.add("\(error)")
      }
    }
    #expect(finished)
    let errors = heard.items
    #expect(errors.count == 3)
    let failure =
      "cannot append to the journal of run torn in kube://sim-0001/fw: sim-0001: update Secret "
      + "fw/fleetwave-journal-00cc10cc5ab0a89fbf4d-0: 500 InternalError: an error on the "
      + "server (\"injected fault\") has prevented the request from succeeding"
    #expect(errors == [failure, failure, failure])
    // Nothing more is taken, and nothing more is promised.
    let refused: String?
    do {
      try journal.record(.cluster(name: "d", state: "upgrading"))
      refused = nil
    } catch {
      refused = error.message
    }
    #expect(refused == failure)
    home.server.faults.faults = FaultSet()
    #expect(try store.readRun("torn").records.count == 1)
  }
}
