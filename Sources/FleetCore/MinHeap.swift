// A binary min-heap: the planner's running clusters by finish time, the manual clock's timers.

/// An array where each parent precedes its two children under `precedes`: O(log n) push and
/// pop, O(1) peek.
public struct MinHeap<Element> {
  private var items: [Element] = []
  private let precedes: (Element, Element) -> Bool

  /// `precedes(a, b)` is true when `a` must come out before `b`.
  public init(by precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

  public var count: Int { items.count }
  public var peek: Element? { items.first }

  /// How many elements satisfy `predicate`, in no particular order: O(n).
  public func count(where predicate: (Element) -> Bool) -> Int {
    items.lazy.filter(predicate).count
  }

  public mutating func push(_ item: Element) {
    items.append(item)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard precedes(items[child], items[parent]) else { return }
      items.swapAt(child, parent)
      child = parent
    }
  }

  /// Removes the first element, if any.
  public mutating func pop() {
    guard !items.isEmpty else { return }
    items.swapAt(0, items.count - 1)
    items.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var first = parent
      if left < items.count, precedes(items[left], items[first]) { first = left }
      if right < items.count, precedes(items[right], items[first]) { first = right }
      if first == parent { return }
      items.swapAt(parent, first)
      parent = first
    }
  }
}
