// Wave entry: checks run over a wave's pending clusters just before they start (preflight),
// after the wave's approval. A failed check stops the run unfinished, so it can be resumed
// once the problem is fixed, with none of the wave's clusters touched.
import FleetCore

extension Executor {
  /// Runs the wave's entry gates unless they already passed in this pass or nothing of the
  /// wave is left to start; true when they run, and `beginWave` is called again once they
  /// pass.
  func enterWave(_ index: Int) -> Bool {
    guard !waveEntryGates.isEmpty, !enteredWaves.contains(index) else { return false }
    let clusters = slots.filter { $0.record.wave == index && $0.record.phase == .pending }
      .map(\.cluster)
    guard !clusters.isEmpty else { return false }
    stage = .entering(index)
    let cancellation = Cancellation()
    // Only a wait, like a wave gate after its bake: the first interrupt ends it.
    waveGateCancellation = cancellation
    runGates(waveEntryGates, over: clusters, cancellation: cancellation) { [self] results in
      waveGateCancellation = nil
      emitWaveGateResults(index, results)
      guard stage == .entering(index) else {
        step()
        return
      }
      if let failed = results.first(where: { !$0.passed }) {
        finish(
          .interrupted,
          "wave '\(plan.waves[index].name)' did not start: \(failed.gate) failed: "
            + failed.summary)
        return
      }
      enteredWaves.insert(index)
      beginWave(index)
    }
    return true
  }
}
