// `fleetwave history`: every run in a state directory, by start time, oldest first.
import ArgumentParser
import Engine
import FleetCore
import Foundation
import Journal

extension FleetwaveCommand {
  struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the runs: outcome, duration, version, start.")

    @OptionGroup var location: RunLocation

    func run() throws {
      let store = try location.stateStore
      let ids = store.listRuns()
      guard !ids.isEmpty else {
        print("no runs in \(store.location)")
        return
      }
      // New columns go last so that scripts reading the older ones by position keep working.
      var rows = [["RUN", "OUTCOME", "DURATION", "VERSION", "STARTED", "BY", "DRIVER", "ACTION"]]
      let runs = store.runsByStart()
      for stored in runs {
        let view = RunView(
          header: stored.header, state: stored.state, records: stored.records, store: store)
        rows.append([
          stored.header.id, view.condition, view.duration, stored.header.version ?? "-",
          Timestamp.iso(stored.header.startedAt), stored.header.user,
          stored.header.settings["driver"] ?? "-", stored.header.settings["action"] ?? "rollout",
        ])
      }
      // Runs whose journal cannot be read have no start time: listed last.
      let readable = Set(runs.map(\.header.id))
      for run in ids.sorted() where !readable.contains(run) {
        rows.append([run, "unreadable", "-", "-", "-", "-", "-", "-"])
      }
      let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
      for row in rows {
        let cells = row.enumerated().map { column, cell in
          column == row.count - 1
            ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
        }
        print(cells.joined(separator: "  "))
      }
    }
  }
}
