// The run as one self-contained HTML page. It opens with what a reader came for: the verdict,
// then each failed cluster with its cause and the measurements that decided it, then a summary
// per wave. Every cluster's details follow collapsed, each with an anchor, under a filter.
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
      <meta name="viewport" content="width=device-width,initial-scale=1">
      <title>Fleetwave rollout \(e(summary.run)): \(summary.outcome.rawValue)</title>
      <style>
      body{font:14px/1.45 system-ui,sans-serif;margin:1.5em 2em;color:#1b1f24}
      h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}
      table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;
      text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
      .succeeded,.promoted{color:#1a7f37}.failed,.halted{color:#cf222e}.rolled-back{color:#9a6700}
      .skipped,.not-started,.interrupted,.waiting{color:#57606a}
      .verdict{border-left:5px solid #57606a;padding:.5em .9em;background:#f6f8fa;font-size:1.05em}
      .verdict.bad{border-color:#cf222e;background:#fff5f5}.verdict.good{border-color:#1a7f37;
      background:#f4fbf6}ul{margin:0;padding-left:1.2em}code{font-size:.95em}
      details{border-bottom:1px solid #eaeef2;padding:.2em 0}summary{cursor:pointer}
      details>div{margin:.3em 0 .5em 1.4em}#filter{margin:.3em 0;padding:.3em;width:20em}
      small{color:#57606a}
      </style></head><body>

      """
    html += "<h1>Rollout <code>\(e(summary.run))</code>: "
    html += "<span class=\"\(summary.outcome.rawValue)\">\(summary.outcome.rawValue)</span></h1>\n"
    html += verdict(summary, states: states)
    html += "<p>Fleet <b>\(e(summary.fleet))</b>, release <b>\(e(summary.release))</b>"
    if let version = summary.version { html += " \(e(version))" }
    let duration = DurationText.format(
      .milliseconds(Int64(summary.finishedAt.timeIntervalSince(summary.startedAt) * 1000)))
    html += ", driver <code>\(e(summary.driver))</code>, \(duration) "
    html += "(\(Timestamp.iso(summary.startedAt)) to \(Timestamp.iso(summary.finishedAt))).</p>\n"

    let failing = zip(summary.clusters, states).filter { record, state in
      state == .failed || ([.rolledBack, .uninstalled].contains(state) && record.error != nil)
    }
    if !failing.isEmpty {
      html += "<h2 id=\"failures\">Failures (\(failing.count))</h2>\n"
      html += "<table><tr><th>cluster</th><th>wave</th><th>state</th><th>cause</th>"
      html += "<th>measurements</th></tr>\n"
      for (record, state) in failing {
        html +=
          "<tr><td><a href=\"#\(anchor(record.name))\"><code>\(e(record.name))</code></a></td>"
        html += "<td>\(e(waveNames[record.wave] ?? String(record.wave)))</td>"
        html += "<td class=\"\(state.rawValue)\">\(state.rawValue)</td>"
        html += "<td>\(lines(cause(record)))</td><td>\(measurements(decisive(record)))</td></tr>\n"
      }
      html += "</table>\n"
    }
    html += deferredSection(summary, states: states, waveNames: waveNames)

    html += "<h2 id=\"waves\">Waves</h2>\n<table><tr><th>#</th><th>wave</th><th>state</th>"
    html += "<th>clusters</th><th>succeeded</th><th>failed</th><th>rolled back</th>"
    html += "<th>not run</th><th>failures (allowed)</th><th>note</th><th>wave gates</th></tr>\n"
    for wave in summary.waves {
      let memberStates = zip(summary.clusters, states).filter { $0.0.wave == wave.index }.map(\.1)
      func count(_ wanted: Set<ReportedState>) -> Int {
        memberStates.filter { wanted.contains($0) }.count
      }
      html += "<tr><td>\(wave.index)</td><td>\(e(wave.name))"
      html += wave.isCanary && wave.name != "canary" ? " (canary)" : ""
      html += "</td><td class=\"\(wave.phase.rawValue)\">\(wave.phase.rawValue)</td>"
      html += "<td class=\"n\">\(wave.clusters.count)</td>"
      html += "<td class=\"n\">\(count([.succeeded]))</td><td class=\"n\">\(count([.failed]))</td>"
      html += "<td class=\"n\">\(count([.rolledBack, .uninstalled]))</td>"
      html += "<td class=\"n\">\(count([.skipped, .notStarted, .excluded]))</td>"
      html += "<td>\(wave.failures) (\(wave.allowedFailures))</td>"
      html += "<td>\(e(wave.haltReason ?? ""))</td><td>\(gates(wave.gates))</td></tr>\n"
    }
    html += "</table>\n"

    html += "<h2 id=\"clusters\">All clusters</h2>\n"
    html += "<input id=\"filter\" type=\"search\" placeholder=\"filter: name, wave or state\""
    html += " aria-label=\"filter clusters\">\n<div id=\"cluster-list\">\n"
    for (record, state) in zip(summary.clusters, states) {
      let waveName = waveNames[record.wave] ?? String(record.wave)
      let revisions = [record.fromRevision, record.toRevision, record.rollbackRevision]
        .map { $0 ?? "-" }.joined(separator: " → ")
      html += "<details id=\"\(anchor(record.name))\" data-filter=\""
      html += "\(e("\(record.name) \(waveName) \(state.rawValue)".lowercased()))\">"
      html += "<summary><code>\(e(record.name))</code> <span class=\"\(state.rawValue)\">"
      html += "\(state.rawValue)</span> <small>wave \(e(waveName))</small></summary><div>"
      html += "revisions \(e(revisions))"
      let problem = cause(record)
      if !problem.isEmpty { html += "<br>\(lines(problem))" }
      html += measurements(record.measurements) + gates(record.gates.filter { !$0.passed })
      html += "</div></details>\n"
    }
    html += "</div>\n"
    html += """
      <script>
      // Filters the cluster list by name, wave or state; opens the target of a link.
      const box=document.getElementById('filter');
      box.addEventListener('input',()=>{const q=box.value.trim().toLowerCase();
      for(const d of document.querySelectorAll('#cluster-list details')){
      d.style.display=!q||d.dataset.filter.includes(q)?'':'none';}});
      function openTarget(){const t=document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if(t&&t.tagName==='DETAILS')t.open=true;}
      window.addEventListener('hashchange',openTarget);openTarget();
      </script>
      </body></html>

      """
    return html
  }

  /// The verdict in one sentence, coloured by whether the release is where it should be.
  static func verdict(_ summary: RunSummary, states: [ReportedState]) -> String {
    let e = MarkupText.escaped
    let total = states.count
    let succeeded = states.filter { $0 == .succeeded }.count
    let failed = states.filter { $0 == .failed }.count
    let rolledBack = states.filter { $0 == .rolledBack || $0 == .uninstalled }.count
    let notRun = states.filter { $0 == .skipped || $0 == .notStarted }.count
    let tone = summary.outcome == .succeeded ? "good" : failed > 0 ? "bad" : ""
    var text = "\(succeeded) of \(total) clusters upgraded"
    if failed > 0 { text += ", \(failed) failed" }
    if rolledBack > 0 { text += ", \(rolledBack) rolled back" }
    if notRun > 0 { text += ", \(notRun) not run" }
    text += "."
    if let reason = summary.reason { text += " " + ReportNumber.roundedInText(reason) }
    var html = "<p class=\"verdict \(tone)\"><b>\(summary.outcome.rawValue)</b>: \(e(text))"
    if let wave = summary.waitingForApproval {
      html += " Waiting for approval of wave <code>\(e(wave))</code>."
    }
    html += "</p>\n"
    if !summary.midUpgrade.isEmpty {
      html += "<p class=\"verdict bad\">Stopped mid-change (revision unknown): "
      html += summary.midUpgrade.map { "<code>\(e($0))</code>" }.joined(separator: ", ") + "</p>\n"
    }
    return html
  }

  /// Clusters deferred because their API could not be reached (`onUnreachable: defer`): how
  /// often, and why the last time; empty when none was.
  static func deferredSection(
    _ summary: RunSummary, states: [ReportedState], waveNames: [Int: String]
  ) -> String {
    let e = MarkupText.escaped
    let deferred = zip(summary.clusters, states).filter { $0.0.deferrals > 0 }
    guard !deferred.isEmpty else { return "" }
    var html = "<h2 id=\"deferred\">Deferred, unreachable (\(deferred.count))</h2>\n"
    html += "<table><tr><th>cluster</th><th>wave</th><th>state</th><th>deferrals</th>"
    html += "<th>last reason</th></tr>\n"
    for (record, state) in deferred {
      html += "<tr><td><code>\(e(record.name))</code></td>"
      html += "<td>\(e(waveNames[record.wave] ?? String(record.wave)))</td>"
      html += "<td class=\"\(state.rawValue)\">\(state.rawValue)</td>"
      html += "<td>\(record.deferrals)</td><td>\(e(record.deferralReason ?? ""))</td></tr>\n"
    }
    return html + "</table>\n"
  }

  /// Escaped, one `<br>` per line: a diagnosed failure's event lines stay lines.
  static func lines(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map {
      MarkupText.escaped(String($0))
    }.joined(separator: "<br>")
  }

  /// What went wrong with a cluster, upgrade and rollback together.
  static func cause(_ record: ClusterRunRecord) -> String {
    var cause = record.error.map(ReportNumber.roundedInText) ?? ""
    if let rollback = record.rollbackError {
      cause += (cause.isEmpty ? "" : "; ") + "rollback: " + rollback
    }
    return cause
  }

  /// The measurements that decided a failure: the failing ones, else all of them.
  static func decisive(_ record: ClusterRunRecord) -> [FleetCore.Measurement] {
    let bad = record.measurements.filter { $0.outcome != .passed }
    return bad.isEmpty ? record.measurements : bad
  }

  /// An element id for a cluster; names are DNS labels, but anything else is made safe.
  static func anchor(_ cluster: String) -> String {
    "cluster-"
      + String(
        cluster.unicodeScalars.map {
          CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" ? Character($0) : "_"
        })
  }

  /// `error-rate = 0.279: failed, 0.279 > 0.05 (2027-01-15T08:00:20.000Z)`, numbers rounded.
  static func measurementLine(_ m: FleetCore.Measurement) -> String {
    let value = m.value.map { " = " + ReportNumber.rounded($0) } ?? ""
    return "\(m.gate)\(value): \(m.outcome.rawValue), \(ReportNumber.roundedInText(m.detail))"
      + " (\(Timestamp.iso(m.at)))"
  }

  static func measurements(_ list: [FleetCore.Measurement]) -> String {
    guard !list.isEmpty else { return "" }
    let items = list.map { m in
      "<li class=\"\(m.outcome == .passed ? "succeeded" : "failed")\">"
        + MarkupText.escaped(measurementLine(m))
        // What was measured for this cluster: the query after substitution, not its template.
        + (m.query.map { "<br><code class=\"query\">" + MarkupText.escaped($0) + "</code>" } ?? "")
        + "</li>"
    }
    return "<ul>" + items.joined() + "</ul>"
  }

  static func gates(_ results: [GateResult]) -> String {
    guard !results.isEmpty else { return "" }
    let items = results.map { result in
      "<li class=\"\(result.passed ? "succeeded" : "failed")\">"
        + MarkupText.escaped("\(result.gate): \(ReportNumber.roundedInText(result.summary))")
        + measurements(result.measurements) + "</li>"
    }
    return "<ul>" + items.joined() + "</ul>"
  }
}
