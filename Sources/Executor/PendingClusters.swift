// The clusters of the current wave still waiting to start, in plan order.

/// An order-preserving queue of cluster slots. Taking the front is O(1) (a head index moves
/// past it), so starting a first wave of 100,000 clusters does not shift the array each time;
/// taking one further back (a cluster started while those before it are passed over for a
/// full domain or a closed window) still shifts the clusters behind it.
struct PendingClusters: Sequence {
  private var slots: [Int] = []
  /// Index in `slots` of the first cluster still pending; everything before it has started.
  private var head = 0

  init() {}

  init(_ slots: [Int]) { self.slots = slots }

  var isEmpty: Bool { head == slots.count }

  var count: Int { slots.count - head }

  /// The cluster `offset` places behind the front.
  subscript(offset: Int) -> Int { slots[head + offset] }

  /// Takes out the cluster `offset` places behind the front, keeping the others' order.
  mutating func remove(at offset: Int) {
    if offset == 0 {
      head += 1
      // Reclaim the started prefix once it is most of the array, so memory stays bounded by
      // what is pending while each removal stays O(1) amortised.
      if head > 1024 && head * 2 > slots.count {
        slots.removeFirst(head)
        head = 0
      }
    } else {
      slots.remove(at: head + offset)
    }
  }

  /// Puts a cluster at the back: one deferred because its API could not be reached goes
  /// behind the clusters still waiting for their first try.
  mutating func append(_ slot: Int) { slots.append(slot) }

  func makeIterator() -> ArraySlice<Int>.Iterator { slots[head...].makeIterator() }
}
