// Plan HTML shades maintenance windows and freezes on the timeline and says what a late bar
// waits for; checked in the markup and, laid out, in headless Chromium.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Planner
import Testing

@testable import Report

@Suite struct PlanHTMLWindowTests {
  let fleet = demoFleet()
  var page: String {
    PlanHTML.render(
      Planner().plan(fleet, start: utc("2026-03-27T08:00:00Z")), windows: fleet.windows)
  }

  @Test func windowsOpenInTheirTimeZone() {
    // Friday 22:00 in Tokyo is 13:00 UTC; the timeline ends at 13:25 UTC.
    let open = PlanHTML.openTimes(
      fleet.windows["ap-night"] ?? window("x", [], (0, 0), (0, 0), "UTC"),
      from: utc("2026-03-27T08:00:00Z"), to: utc("2026-03-27T13:25:00Z"))
    #expect(open.map(\.0) == [utc("2026-03-27T13:00:00Z")])
    #expect(open.map(\.1) == [utc("2026-03-27T13:25:00Z")])
    let week = PlanHTML.openTimes(
      window("night", [.saturday, .monday], (22, 0), (4, 0), "Europe/Berlin"),
      from: utc("2026-03-27T00:00:00Z"), to: utc("2026-04-01T00:00:00Z"))
    // Berlin moves to summer time on 29 March: Saturday's night opens at 21:00Z, Monday's at 20:00Z.
    #expect(
      week.map { [Plan.timestamp($0.0), Plan.timestamp($0.1)] } == [
        ["2026-03-28T21:00:00Z", "2026-03-29T02:00:00Z"],
        ["2026-03-30T20:00:00Z", "2026-03-31T02:00:00Z"],
      ])
  }

  @Test func markupShadesAndLabels() {
    let html = page
    #expect(
      html.contains(
        #"<rect class="window" data-window="ap-night" x="1023.8" y="22.0" width="66.2" height="264.0""#
      ))
    #expect(html.contains(#"<rect class="freeze" x="282.9" y="22.0" width="52.9" height="264.0""#))
    let waits = html.matches(of: /<text class="axis wait"[^>]*>([^<]*)<\/text>/).map {
      String($0.1)
    }
    #expect(waits == ["waits 15m for freeze deploy freeze", "waits 4h20m for window ap-night"])
  }

  /// Laid out by a browser, the window band covers the bar of the cluster that waits for it.
  @Test(.enabled(if: HeadlessChromium.isInstalled))
  func chromiumLaysTheWindowUnderTheWaitingCluster() throws {
    let dir = try TemporaryDirectory("plan-page")
    defer { dir.remove() }
    let probe = """
      <script>
      const band=document.querySelector('rect.window[data-window="ap-night"]').getBoundingClientRect();
      const bar=[...document.querySelectorAll('rect')].find(r=>
        (r.querySelector('title')||{}).textContent?.startsWith('prod-ap-1 ')).getBoundingClientRect();
      const waits=document.querySelectorAll('text.wait').length;
      document.title='window '+Math.round(band.left)+' '+Math.round(band.right)+' bar '
        +Math.round(bar.left)+' '+Math.round(bar.top)+' band-top '+Math.round(band.top)
        +' band-bottom '+Math.round(band.bottom)+' waits '+waits;
      </script>
      """
    let probed = try dir.write(
      "plan.html", page.replacingOccurrences(of: "</body>", with: probe + "</body>"))
    let dom = try HeadlessChromium.run(probed, ["--dump-dom"], in: dir, windowSize: "1400,1000")
    let title = try #require(
      dom.stdout.firstMatch(
        of:
          /<title>window (\d+) (\d+) bar (\d+) (\d+) band-top (\d+) band-bottom (\d+) waits (\d+)<\/title>/
      ))
    let (left, right, barLeft, barTop) = (Int(title.1), Int(title.2), Int(title.3), Int(title.4))
    let (bandTop, bandBottom) = (Int(title.5), Int(title.6))
    #expect(title.7 == "2")
    guard let left, let right, let barLeft, let barTop, let bandTop, let bandBottom else { return }
    #expect(right - left == 66)
    #expect(left <= barLeft && barLeft < right, "the bar starts inside the window")
    #expect(bandTop <= barTop && barTop < bandBottom, "the band spans the bar's row")
  }
}
