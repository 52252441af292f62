// The run as one self-contained HTML page: outcome, waves, and every cluster with the
// measurements that decided it, so a halt is explained by numbers to whoever opens the file.
import FleetCore
import Foundation

public enum RunHTML {
  public static func string(_ summary: RunSummary) -> String {
    let e = MarkupText.escaped
    let states = summary.clusters.map { ReportedState($0, outcome: summary.outcome) }
    let waveNames = Dictionary(summary.waves.map { ($0.index, $0.name) }) { first, _ in first }
    var html = """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8">
      <title>Fleetwave rollout \(e(summary.run)): \(summary.outcome.rawValue)</title>
      <style>
      body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}
      h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
      table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.3em .6em;
      text-align:left;vertical-align:top}th{background:#f6f8fa}
      .succeeded{color:#1a7f37}.failed,.halted{color:#cf222e}.rolled-back{color:#9a6700}
      .skipped,.not-started{color:#57606a}.reason{border-left:4px solid #cf222e;padding:.4em .8em;
      background:#fff5f5}ul{margin:0;padding-left:1.2em}code{font-size:.95em}
      </style></head><body>

      """
    html += "<h1>Rollout <code>\(e(summary.run))</code>: "
    html += "<span class=\"\(summary.outcome.rawValue)\">\(summary.outcome.rawValue)</span></h1>\n"
    html += "<p>Fleet <b>\(e(summary.fleet))</b>, release <b>\(e(summary.release))</b>"
    if let version = summary.version { html += " \(e(version))" }
    let duration = DurationText.format(
      .milliseconds(Int64(summary.finishedAt.timeIntervalSince(summary.startedAt) * 1000)))
    html += ", driver <code>\(e(summary.driver))</code>, \(duration) "
    html += "(\(Timestamp.iso(summary.startedAt)) to \(Timestamp.iso(summary.finishedAt))).</p>\n"
    if let reason = summary.reason { html += "<p class=\"reason\">\(e(reason))</p>\n" }
    if !summary.midUpgrade.isEmpty {
      html += "<p class=\"reason\">Stopped mid-change (revision unknown): "
      html += summary.midUpgrade.map { "<code>\(e($0))</code>" }.joined(separator: ", ") + "</p>\n"
    }

    html += "<table><tr><th>state</th><th>clusters</th></tr>\n"
    for state in ReportedState.allCases {
      let count = states.filter { $0 == state }.count
      if count > 0 {
        html += "<tr><td class=\"\(state.rawValue)\">\(state.rawValue)</td><td>\(count)</td></tr>\n"
      }
    }
    html += "</table>\n"

    html += "<h2>Waves</h2>\n<table><tr><th>#</th><th>wave</th><th>state</th><th>clusters</th>"
    html += "<th>failures (allowed)</th><th>note</th><th>wave gates</th></tr>\n"
    for wave in summary.waves {
      html += "<tr><td>\(wave.index)</td><td>\(e(wave.name))"
      html += wave.isCanary && wave.name != "canary" ? " (canary)" : ""
      html += "</td><td class=\"\(wave.phase.rawValue)\">\(wave.phase.rawValue)</td>"
      html += "<td>\(wave.clusters.count)</td><td>\(wave.failures) (\(wave.allowedFailures))</td>"
      html += "<td>\(e(wave.haltReason ?? ""))</td><td>\(gates(wave.gates))</td></tr>\n"
    }
    html += "</table>\n"

    html += "<h2>Clusters</h2>\n<table><tr><th>cluster</th><th>wave</th><th>state</th>"
    html += "<th>revision</th><th>error</th><th>measurements</th></tr>\n"
    for (record, state) in zip(summary.clusters, states) {
      let revisions = [record.fromRevision, record.toRevision, record.rollbackRevision]
        .map { $0 ?? "-" }.joined(separator: " → ")
      var error = record.error ?? ""
      if let rollback = record.rollbackError {
        error += (error.isEmpty ? "" : "; ") + "rollback: " + rollback
      }
      html += "<tr><td><code>\(e(record.name))</code></td>"
      html += "<td>\(e(waveNames[record.wave] ?? String(record.wave)))</td>"
      html += "<td class=\"\(state.rawValue)\">\(state.rawValue)</td><td>\(e(revisions))</td>"
      html += "<td>\(e(error))</td><td>\(measurements(record.measurements))</td></tr>\n"
    }
    html += "</table>\n</body></html>\n"
    return html
  }

  static func measurements(_ list: [FleetCore.Measurement]) -> String {
    guard !list.isEmpty else { return "" }
    let items = list.map { m in
      let value = m.value.map { " = " + Value.format($0) } ?? ""
      return "<li class=\"\(m.outcome == .passed ? "succeeded" : "failed")\">"
        + "\(MarkupText.escaped(m.gate))\(MarkupText.escaped(value)): \(m.outcome.rawValue), "
        + "\(MarkupText.escaped(m.detail)) <small>(\(Timestamp.iso(m.at)))</small></li>"
    }
    return "<ul>" + items.joined() + "</ul>"
  }

  static func gates(_ results: [GateResult]) -> String {
    guard !results.isEmpty else { return "" }
    let items = results.map { result in
      "<li class=\"\(result.passed ? "succeeded" : "failed")\">"
        + "\(MarkupText.escaped(result.gate)): \(MarkupText.escaped(result.summary))"
        + measurements(result.measurements) + "</li>"
    }
    return "<ul>" + items.joined() + "</ul>"
  }
}
