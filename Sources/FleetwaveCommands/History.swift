// `fleetwave history`: every run in a state directory, oldest first.
import ArgumentParser
import FleetCore
import Foundation
import Journal

extension FleetwaveCommand {
  struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the runs: outcome, duration, version, start.")

    @OptionGroup var location: RunLocation

    func run() throws {
      let store = location.store
      let runs = store.runIDs()
      guard !runs.isEmpty else {
        print("no runs in \(store.runsDirectory)")
        return
      }
      // DRIVER comes last so that scripts reading the older columns by position keep working.
      var rows = [["RUN", "OUTCOME", "DURATION", "VERSION", "STARTED", "BY", "DRIVER"]]
      for run in runs {
        guard let contents = try? JournalFile.read(path: store.journalPath(run)) else {
          rows.append([run, "unreadable", "-", "-", "-", "-", "-"])
          continue
        }
        let state = RunState(records: contents.records)
        guard let header = state.header else { continue }
        let view = RunView(header: header, state: state, store: store)
        rows.append([
          run, view.condition, view.duration, header.version ?? "-",
          Timestamp.iso(header.startedAt), header.user, header.settings["driver"] ?? "-",
        ])
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
