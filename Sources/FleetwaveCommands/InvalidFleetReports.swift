// The reports a rollout writes when its fleet does not load, so a CI job that stops there still
// shows why in its test report and step summary.
import FleetCore
import Foundation
import Report

struct InvalidFleetReports {
  var junit: String?
  var markdown: String?

  /// Writes the JUnit file and appends to the Markdown summary; a report that cannot be written
  /// is reported but does not hide the fleet's own errors.
  func write(fleet: String, diagnostics: [Diagnostic]) {
    let lines = diagnostics.map(\.description)
    let name = URL(fileURLWithPath: fleet).lastPathComponent
    if let junit {
      let xml = RunJUnit.invalidFleet(fleet: name, diagnostics: lines, at: Date())
      do {
        try xml.write(toFile: junit, atomically: true, encoding: .utf8)
      } catch {
        printError("error: cannot write \(junit): \(error.localizedDescription)")
      }
    }
    if let markdown {
      if !FileManager.default.fileExists(atPath: markdown) {
        _ = FileManager.default.createFile(atPath: markdown, contents: nil)
      }
      guard let handle = FileHandle(forWritingAtPath: markdown) else {
        printError("error: cannot write \(markdown)")
        return
      }
      defer { try? handle.close() }
      _ = try? handle.seekToEnd()
      try? handle.write(
        contentsOf: Data(RunMarkdown.invalidFleet(fleet: name, diagnostics: lines).utf8))
    }
  }
}
