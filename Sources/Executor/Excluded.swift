// Runs that act on a subset of the fleet (`--cluster`, `-l`): the plan's waves and budgets stay
// whole, the clusters outside the subset are recorded `excluded` and never touched.
import FleetCore

extension Executor {
  /// Records every cluster of `options.excluded` still pending as excluded, once, as the run
  /// starts; the journal keeps them so, and a resumed run (or a later --follow pass) finds
  /// them excluded again without recording them twice.
  func excludeClusters() {
    guard !options.excluded.isEmpty, options.resumeFrom == nil else { return }
    for slot in slots.indices
    where slots[slot].record.phase == .pending
      && options.excluded.contains(slots[slot].record.name)
    {
      setPhase(slot, .excluded)
    }
  }

  /// A wave none of whose clusters the run acts on changes nothing: it needs no approval and
  /// has nothing to bake or verify.
  func isWhollyExcluded(_ index: Int) -> Bool {
    let members = slots.lazy.filter { $0.record.wave == index }
    return !members.isEmpty && members.allSatisfy { $0.record.phase == .excluded }
  }
}
