// Injected trouble: images that never start, crash, or roll out slowly or serve errors; API errors,
// throttling, latency, timeouts and unreachable clusters; per cluster or label selector.
import FleetCore
import Foundation

/// Which virtual clusters a fault applies to: listed names, a label selector, or (neither) all.
public struct ClusterScope: Sendable, Equatable {
  public var clusters: [String]
  public var selector: LabelSelector?

  public init(clusters: [String] = [], selector: LabelSelector? = nil) {
    self.clusters = clusters
    self.selector = selector
  }

  public func contains(_ name: String, labels: [String: String]) -> Bool {
    if !clusters.isEmpty, !clusters.contains(name) { return false }
    if let selector, !selector.matches(labels) { return false }
    return true
  }
}

/// What an image matching a rule does once deployed.
public enum ImageEffect: String, Sendable, Equatable {
  /// Pods stay in ImagePullBackOff; the rollout stalls until its progress deadline.
  case neverReady = "never-ready"
  /// Pods start and crash; the rollout stalls as in Kubernetes (CrashLoopBackOff).
  case crashLoop = "crash-loop"
  /// Pods stay Pending, unscheduled (`PodScheduled` False, `Unschedulable`, a
  /// `FailedScheduling` event); the rollout stalls. Workload pods only.
  case unschedulable
  /// Pods run but their readiness probe keeps failing (an `Unhealthy` event); the rollout
  /// stalls. Workload pods only.
  case probeFailing = "probe-failing"
  /// Each replica takes `slowFactor` times as long.
  case slow
  /// Pods become ready, but the application's error ratio rises to `errorRatio`.
  case errors
}

public struct ImageFault: Sendable, Equatable {
  /// A glob over the image reference (`*` matches any run of characters): `*:2.0.0-bad`.
  public var match: String
  public var effect: ImageEffect
  public var slowFactor: Double
  public var errorRatio: Double
  public var scope: ClusterScope

  public init(
    match: String, effect: ImageEffect, slowFactor: Double = 10, errorRatio: Double = 0.25,
    scope: ClusterScope = ClusterScope()
  ) {
    self.match = match
    self.effect = effect
    self.slowFactor = slowFactor
    self.errorRatio = errorRatio
    self.scope = scope
  }

  public func matches(image: String) -> Bool { Glob.matches(match, image) }
}

public struct APIFault: Sendable, Equatable {
  public var scope: ClusterScope
  /// Share of requests answered with `errorCode` (a 5xx).
  public var errorRate: Double
  public var errorCode: Int
  /// Share of requests answered 429 with `Retry-After: retryAfterSeconds`.
  public var throttleRate: Double
  public var retryAfterSeconds: Int
  /// Added before every answer.
  public var latency: Duration
  /// Requests are never answered.
  public var timeout: Bool
  /// Connections are closed without an answer, as for a cluster that cannot be reached.
  public var unreachable: Bool

  public init(
    scope: ClusterScope = ClusterScope(), errorRate: Double = 0, errorCode: Int = 500,
    throttleRate: Double = 0, retryAfterSeconds: Int = 1, latency: Duration = .zero,
    timeout: Bool = false, unreachable: Bool = false
  ) {
    self.scope = scope
    self.errorRate = errorRate
    self.errorCode = errorCode
    self.throttleRate = throttleRate
    self.retryAfterSeconds = retryAfterSeconds
    self.latency = latency
    self.timeout = timeout
    self.unreachable = unreachable
  }
}

/// The whole faults file.
public struct FaultSet: Sendable, Equatable {
  public var images: [ImageFault]
  public var api: [APIFault]
  /// Strict images: when not empty, only images matching one of these globs can be pulled;
  /// any other image behaves as `never-ready` (ErrImagePull, then ImagePullBackOff), as on a
  /// cluster whose registries or admission policy refuse it.
  public var allowedImages: [String]

  public init(images: [ImageFault] = [], api: [APIFault] = [], allowedImages: [String] = []) {
    self.images = images
    self.api = api
    self.allowedImages = allowedImages
  }

  /// What an image does in a cluster: refused by the allow-list, else the first matching rule.
  public func imageFault(_ image: String, cluster: String, labels: [String: String]) -> ImageFault?
  {
    if !allowedImages.isEmpty, !allowedImages.contains(where: { Glob.matches($0, image) }) {
      return ImageFault(match: image, effect: .neverReady)
    }
    return images.first { $0.scope.contains(cluster, labels: labels) && $0.matches(image: image) }
  }

  public func apiFaults(cluster: String, labels: [String: String]) -> [APIFault] {
    api.filter { $0.scope.contains(cluster, labels: labels) }
  }

  /// Reads the faults file format (documented in docs/fleet-sim.md) from a parsed document.
  public static func parse(_ document: Value) throws(Diagnostic) -> FaultSet {
    guard let root = document.mapping else {
      throw Diagnostic.error(
        "a faults file must be a mapping with 'images' and 'api'", at: document.mark)
    }
    try checkKeys(root, document, allowed: ["images", "api", "allowedImages"])
    var set = FaultSet()
    for glob in root["allowedImages"]?.sequence ?? [] {
      guard let text = glob.string else {
        throw Diagnostic.error("'allowedImages' lists image globs (strings)", at: glob.mark)
      }
      set.allowedImages.append(text)
    }
    for rule in root["images"]?.sequence ?? [] {
      guard let mapping = rule.mapping else {
        throw Diagnostic.error("an image fault must be a mapping", at: rule.mark)
      }
      try checkKeys(
        mapping, rule,
        allowed: ["match", "effect", "slowFactor", "errorRatio", "clusters", "selector"])
      guard let match = mapping["match"]?.string else {
        throw Diagnostic.error(
          "an image fault needs 'match', a glob over image references", at: rule.mark)
      }
      let effectText = mapping["effect"]?.string ?? "errors"
      guard let effect = ImageEffect(rawValue: effectText) else {
        throw Diagnostic.error(
          "unknown image effect '\(effectText)'; expected never-ready, crash-loop, "
            + "unschedulable, probe-failing, slow or errors",
          at: mapping["effect"]?.mark)
      }
      set.images.append(
        ImageFault(
          match: match, effect: effect, slowFactor: try number(mapping, "slowFactor") ?? 10,
          errorRatio: try number(mapping, "errorRatio") ?? 0.25, scope: try scope(mapping)))
    }
    for rule in root["api"]?.sequence ?? [] {
      guard let mapping = rule.mapping else {
        throw Diagnostic.error("an API fault must be a mapping", at: rule.mark)
      }
      try checkKeys(
        mapping, rule,
        allowed: [
          "clusters", "selector", "errorRate", "errorCode", "throttleRate", "retryAfterSeconds",
          "latency", "timeout", "unreachable",
        ])
      var fault = APIFault(scope: try scope(mapping))
      fault.errorRate = try number(mapping, "errorRate") ?? 0
      fault.errorCode = Int(try number(mapping, "errorCode") ?? 500)
      fault.throttleRate = try number(mapping, "throttleRate") ?? 0
      fault.retryAfterSeconds = Int(try number(mapping, "retryAfterSeconds") ?? 1)
      if let latency = mapping["latency"] {
        guard let text = latency.scalarText, let duration = DurationText.parse(text) else {
          throw Diagnostic.error(
            "invalid duration for 'latency'; write e.g. 250ms or 2s", at: latency.mark)
        }
        fault.latency = duration
      }
      fault.timeout = mapping["timeout"]?.bool ?? false
      fault.unreachable = mapping["unreachable"]?.bool ?? false
      set.api.append(fault)
    }
    return set
  }

  private static func checkKeys(_ mapping: Mapping, _ node: Value, allowed: [String])
    throws(Diagnostic)
  {
    for entry in mapping.entries where !allowed.contains(entry.key) {
      throw Diagnostic.error(
        "unknown key '\(entry.key)'; expected one of \(allowed.joined(separator: ", "))",
        at: entry.keyMark ?? node.mark)
    }
  }

  private static func number(_ mapping: Mapping, _ key: String) throws(Diagnostic) -> Double? {
    guard let value = mapping[key] else { return nil }
    guard let number = value.double else {
      throw Diagnostic.error("'\(key)' must be a number, not \(value.kindName)", at: value.mark)
    }
    return number
  }

  private static func scope(_ mapping: Mapping) throws(Diagnostic) -> ClusterScope {
    var scope = ClusterScope()
    scope.clusters = (mapping["clusters"]?.sequence ?? []).compactMap(\.scalarText)
    if let text = mapping["selector"]?.string {
      scope.selector = try LabelSelector.parse(text, mark: mapping["selector"]?.mark)
    }
    return scope
  }
}

/// The current faults, replaceable at run time through the admin endpoint.
public final class FaultBook: @unchecked Sendable {
  private let lock = NSLock()
  private var current: FaultSet

  public init(_ faults: FaultSet) { current = faults }

  public var faults: FaultSet {
    get {
      lock.lock()
      defer { lock.unlock() }
      return current
    }
    set {
      lock.lock()
      current = newValue
      lock.unlock()
    }
  }
}

enum Glob {
  /// `*` matches any run of characters (including none); everything else matches itself.
  static func matches(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.utf8)
    let t = Array(text.utf8)
    var pi = 0
    var ti = 0
    var star = -1
    var mark = 0
    while ti < t.count {
      if pi < p.count, p[pi] == UInt8(ascii: "*") {
        star = pi
        mark = ti
        pi += 1
      } else if pi < p.count, p[pi] == t[ti] {
        pi += 1
        ti += 1
      } else if star >= 0 {
        pi = star + 1
        mark += 1
        ti = mark
      } else {
        return false
      }
    }
    while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
  }
}
