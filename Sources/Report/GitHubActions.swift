// GitHub Actions: `::error`/`::warning` workflow commands for what failed, so a run's failures
// show on the workflow page and the pull request, and the Markdown report in the step summary.
import FleetCore
import Foundation

public struct GitHubActions: Sendable {
  /// `$GITHUB_STEP_SUMMARY`: the file whose Markdown GitHub shows on the run's page.
  public let stepSummary: String?

  /// Present only inside a GitHub Actions job (`GITHUB_ACTIONS=true`).
  public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
    guard environment["GITHUB_ACTIONS"] == "true" else { return nil }
    stepSummary = environment["GITHUB_STEP_SUMMARY"].flatMap { $0.isEmpty ? nil : $0 }
  }

  /// GitHub shows at most ten error and ten warning annotations of a step; past that, one line
  /// of each kind counts the rest (the step summary lists them all).
  public static let shownPerKind = 9

  /// Workflow commands for the run: an error for every cluster and wave gate that failed and for
  /// a halt; a warning for clusters rolled back with their wave, cancelled or left mid-change,
  /// and for a run that stopped and can be resumed. `file` is the fleet file they point at.
  /// `resumeCommand` is how to go on with a stopped run (`fleetwave resume RUN` by default).
  public static func annotations(
    _ summary: RunSummary, file: String?, resumeCommand: String? = nil
  ) -> [String] {
    let resume = resumeCommand ?? "fleetwave resume \(summary.run)"
    var errors: [Annotation] = []
    var warnings: [Annotation] = []
    let waveNames = Dictionary(summary.waves.map { ($0.index, $0.name) }) { first, _ in first }
    if summary.outcome == .halted, let reason = summary.reason {
      errors.append(Annotation(title: "rollout \(summary.run) halted", message: reason))
    }
    for wave in summary.waves {
      for gate in wave.gates where !gate.passed {
        errors.append(
          Annotation(
            title: "wave \(wave.name): gate failed",
            message: "\(GateText.name(gate)): \(GateText.verdict(gate))"))
      }
    }
    for cluster in summary.clusters {
      let wave = "wave \(waveNames[cluster.wave] ?? "?")"
      if cluster.interruptedMidUpgrade {
        warnings.append(
          Annotation(
            title: "cluster \(cluster.name) stopped mid-change",
            message: "\(wave): \(cluster.error ?? "its revision is unknown")"))
        continue
      }
      guard let error = cluster.error else {
        if cluster.phase == .rolledBack {
          warnings.append(
            Annotation(
              title: "cluster \(cluster.name) rolled back",
              message: "\(wave): rolled back with its wave"
                + (cluster.rollbackRevision.map { " to revision \($0)" } ?? "")))
        }
        continue
      }
      if error.hasPrefix("cancelled") {
        warnings.append(
          Annotation(title: "cluster \(cluster.name) cancelled", message: "\(wave): \(error)"))
        continue
      }
      var message = "\(wave): "
      if let gate = cluster.gates.first(where: { !$0.passed }) {
        message += "gate \(GateText.name(gate)) failed: \(GateText.verdict(gate))"
      } else {
        message += ReportNumber.roundedInText(error)
      }
      switch cluster.phase {
      case .rolledBack:
        message += "; rolled back" + (cluster.rollbackRevision.map { " to revision \($0)" } ?? "")
      case .rollbackFailed:
        message += "; its rollback failed: \(cluster.rollbackError ?? "unknown error")"
      default: break
      }
      errors.append(Annotation(title: "cluster \(cluster.name) failed", message: message))
    }
    if summary.outcome == .interrupted {
      let message =
        summary.waitingForApproval.map {
          "wave \($0) waits for approval: fleetwave approve \(summary.run) --wave \($0), "
            + "then \(resume)"
        } ?? "continue it with: \(resume)"
      warnings.append(Annotation(title: "rollout \(summary.run) stopped", message: message))
    }
    return capped(errors, "error", file: file) + capped(warnings, "warning", file: file)
  }

  /// Appends the run's Markdown report to the step summary file, if the job has one.
  public func appendStepSummary(_ summary: RunSummary) throws {
    guard let stepSummary else { return }
    try Self.append(RunMarkdown.string(summary), to: stepSummary)
  }

  /// Appends `text` to `path`, creating it if needed (a Markdown summary accumulates per step).
  public static func append(_ text: String, to path: String) throws {
    if !FileManager.default.fileExists(atPath: path) {
      guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
      }
    }
    guard let handle = FileHandle(forWritingAtPath: path) else {
      throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
    }
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(text.utf8))
  }

  /// An `::error` for every error of a fleet that did not load, at its file, line and column.
  public static func annotations(_ diagnostics: [Diagnostic]) -> [String] {
    let errors = diagnostics.filter { $0.severity == .error }.map { diagnostic in
      Annotation(
        title: "invalid fleet",
        message: ([diagnostic.message] + diagnostic.notes.map(\.message)).joined(separator: "; "),
        file: diagnostic.mark?.file.path, line: diagnostic.mark?.line,
        column: diagnostic.mark?.column)
    }
    return capped(errors, "error", file: nil)
  }

  private struct Annotation {
    var title: String
    var message: String
    var file: String? = nil
    var line: Int? = nil
    var column: Int? = nil
  }

  private static func capped(_ annotations: [Annotation], _ kind: String, file: String?)
    -> [String]
  {
    var lines = annotations.prefix(shownPerKind).map { command(kind, $0, file: file) }
    if annotations.count > shownPerKind {
      let more = annotations.count - shownPerKind
      lines.append(
        command(
          kind,
          Annotation(
            title: "\(more) more", message: "\(more) more \(kind)s; the step summary lists them"),
          file: file))
    }
    return lines
  }

  private static func command(_ kind: String, _ annotation: Annotation, file: String?) -> String {
    var properties: [String] = []
    if let file = annotation.file ?? file { properties.append("file=" + escapeProperty(file)) }
    if let line = annotation.line { properties.append("line=\(line)") }
    if let column = annotation.column { properties.append("col=\(column)") }
    properties.append("title=" + escapeProperty(annotation.title))
    return "::\(kind) \(properties.joined(separator: ","))::\(escapeData(annotation.message))"
  }

  /// A workflow command's message: `%`, CR and LF percent-encoded, as the runner decodes them.
  static func escapeData(_ text: String) -> String {
    text.replacingOccurrences(of: "%", with: "%25")
      .replacingOccurrences(of: "\r", with: "%0D")
      .replacingOccurrences(of: "\n", with: "%0A")
  }

  /// A property value (`file=`, `title=`): also `:` and `,`, which end a value otherwise.
  static func escapeProperty(_ text: String) -> String {
    escapeData(text)
      .replacingOccurrences(of: ":", with: "%3A")
      .replacingOccurrences(of: ",", with: "%2C")
  }
}
