// Strings gathered from many threads: who won a race, which errors were seen.
import Foundation

public final class Collected: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [String] = []

  public init() {}

  public func add(_ item: String) { lock.withLock { stored.append(item) } }

  /// Everything added so far, in the order it was added.
  public var items: [String] { lock.withLock { stored } }
}
