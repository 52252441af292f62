// One virtual cluster's objects, resource versions and watch streams, behind one lock.
import FleetCore
import Foundation

/// A change to an object, as a watch stream reports it.
struct WatchEvent: Sendable {
  enum Kind: String, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
  }
  var kind: Kind
  var type: ResourceType
  var object: Value
  var revision: Int64
}

/// Who listens to a watch, and which objects they asked for.
struct WatchFilter: Sendable {
  var type: ResourceType
  var namespace: String?
  var selector: LabelSelector?
  var name: String?

  func matches(_ type: ResourceType, _ object: Value) -> Bool {
    guard type == self.type else { return false }
    if let namespace, object.namespace != namespace { return false }
    if let name, object.name != name { return false }
    if let selector, !selector.matches(object.labels) { return false }
    return true
  }
}

/// The objects of one virtual cluster. Every method takes the lock. Watch sinks are called with
/// the lock held, so every watcher sees changes in resourceVersion order; they only enqueue a
/// write onto their connection's event loop and never call back into the store.
public final class ClusterStore: @unchecked Sendable {
  public let name: String
  public let labels: [String: String]
  private let lock = NSLock()
  private var revision: Int64 = 1
  private var objects: [ResourceType: [String: Value]] = [:]
  private var recent: [WatchEvent] = []
  private var watchers: [Int: (filter: WatchFilter, sink: @Sendable (WatchEvent) -> Void)] = [:]
  private var nextWatcher = 0
  private static let recentLimit = 256
  /// The CA's PEM, for each namespace's `kube-root-ca.crt`.
  let caBundle: String

  init(name: String, labels: [String: String], caBundle: String = "", now: Date) {
    self.name = name
    self.labels = labels
    self.caBundle = caBundle
    guard let namespaces = ResourceCatalog.find(apiVersion: "v1", kind: "Namespace") else { return }
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
      var object: Value = [
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": ["name": .string(ns), "labels": ["kubernetes.io/metadata.name": .string(ns)]],
        "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
      ]
      stamp(&object, now: now)
      objects[namespaces, default: [:]][Self.key(nil, ns)] = object
      _ = addNamespaceDefaults(ns, now: now)
    }
  }

  /// Called with the lock held when a namespace appears: stores what the controllers would put
  /// in it and returns the events to send.
  private func addNamespaceDefaults(_ namespace: String, now: Date) -> [WatchEvent] {
    var events: [WatchEvent] = []
    for (type, object) in NamespaceDefaults.objects(namespace: namespace, caBundle: caBundle) {
      let key = Self.key(namespace, object.name)
      guard objects[type]?[key] == nil else { continue }
      var stored = object
      stamp(&stored, now: now)
      objects[type, default: [:]][key] = stored
      events.append(WatchEvent(kind: .added, type: type, object: stored, revision: revision))
    }
    return events
  }

  private static func isNamespace(_ type: ResourceType) -> Bool {
    type.kind == "Namespace" && type.group.isEmpty
  }

  private static func key(_ namespace: String?, _ name: String) -> String {
    "\(namespace ?? "")/\(name)"
  }

  private func stamp(_ object: inout Value, now: Date) {
    revision += 1
    object.set(["metadata", "resourceVersion"], .string(String(revision)))
    if object.at("metadata", "uid") == nil {
      object.set(["metadata", "uid"], .string(UUID().uuidString.lowercased()))
      object.set(["metadata", "creationTimestamp"], .string(KubeTime.format(now)))
    }
  }

  public var currentRevision: Int64 {
    lock.lock()
    defer { lock.unlock() }
    return revision
  }

  func get(_ type: ResourceType, namespace: String?, name: String) -> Value? {
    lock.lock()
    defer { lock.unlock() }
    return objects[type]?[Self.key(namespace, name)]
  }

  func namespaceExists(_ name: String) -> Bool {
    guard let type = ResourceCatalog.find(apiVersion: "v1", kind: "Namespace") else { return false }
    return get(type, namespace: nil, name: name) != nil
  }

  /// Objects of a type, sorted by namespace and name as etcd returns them, plus the list revision.
  func list(_ filter: WatchFilter) -> (items: [Value], revision: Int64) {
    lock.lock()
    defer { lock.unlock() }
    let items = (objects[filter.type] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
      .filter { filter.matches(filter.type, $0) }
    return (items, revision)
  }

  func count() -> Int {
    lock.lock()
    defer { lock.unlock() }
    return objects.values.reduce(0) { $0 + $1.count }
  }

  /// Inserts a new object; fails when the name is taken.
  func create(_ type: ResourceType, _ object: Value, now: Date) throws(APIError) -> Value {
    lock.lock()
    let key = Self.key(object.namespace, object.name)
    if objects[type]?[key] != nil {
      lock.unlock()
      throw .alreadyExists(type, object.name)
    }
    var stored = object
    stamp(&stored, now: now)
    objects[type, default: [:]][key] = stored
    var events = [WatchEvent(kind: .added, type: type, object: stored, revision: revision)]
    if Self.isNamespace(type) { events += addNamespaceDefaults(stored.name, now: now) }
    for event in events {
      for sink in record(event) { sink(event) }
    }
    lock.unlock()
    return stored
  }

  /// Reads, transforms and writes one object atomically. `transform` sees the current object (or
  /// nil) and returns the new one, or nil to leave it unchanged. Returns (old, new).
  @discardableResult
  func modify(
    _ type: ResourceType, namespace: String?, name: String, now: Date,
    _ transform: (Value?) throws(APIError) -> Value?
  ) throws(APIError) -> (old: Value?, new: Value?) {
    lock.lock()
    let key = Self.key(namespace, name)
    let old = objects[type]?[key]
    let result: Value?
    do {
      result = try transform(old)
    } catch {
      lock.unlock()
      throw error
    }
    guard var updated = result else {
      lock.unlock()
      return (old, old)
    }
    if let old, updated == old {
      lock.unlock()
      return (old, old)
    }
    stamp(&updated, now: now)
    objects[type, default: [:]][key] = updated
    var events = [
      WatchEvent(
        kind: old == nil ? .added : .modified, type: type, object: updated, revision: revision)
    ]
    if old == nil, Self.isNamespace(type) { events += addNamespaceDefaults(name, now: now) }
    for event in events {
      for sink in record(event) { sink(event) }
    }
    lock.unlock()
    return (old, updated)
  }

  func delete(_ type: ResourceType, namespace: String?, name: String) -> Value? {
    lock.lock()
    let key = Self.key(namespace, name)
    guard var old = objects[type]?.removeValue(forKey: key) else {
      lock.unlock()
      return nil
    }
    revision += 1
    old.set(["metadata", "resourceVersion"], .string(String(revision)))
    var events = [WatchEvent(kind: .deleted, type: type, object: old, revision: revision)]
    // A namespace takes its objects with it; the real server does this through finalizers.
    if Self.isNamespace(type) {
      for (otherType, items) in objects where otherType.namespaced {
        for (itemKey, item) in items where item.namespace == name {
          objects[otherType]?[itemKey] = nil
          revision += 1
          events.append(
            WatchEvent(kind: .deleted, type: otherType, object: item, revision: revision))
        }
      }
    }
    for event in events {
      for sink in record(event) { sink(event) }
    }
    lock.unlock()
    return old
  }

  /// Registers a watch. Events newer than `since` still in the recent window are replayed first;
  /// returns nil when `since` is older than that window (the client must relist: 410 Gone).
  func watch(
    _ filter: WatchFilter, since: Int64?, sink: @escaping @Sendable (WatchEvent) -> Void
  ) -> Int? {
    lock.lock()
    var replay: [WatchEvent] = []
    if let since, since < revision {
      if let oldest = recent.first, oldest.revision > since + 1, recent.count >= Self.recentLimit {
        lock.unlock()
        return nil
      }
      replay = recent.filter { $0.revision > since && filter.matches($0.type, $0.object) }
    }
    nextWatcher += 1
    let id = nextWatcher
    watchers[id] = (filter, sink)
    for event in replay { sink(event) }
    lock.unlock()
    return id
  }

  func stopWatching(_ id: Int) {
    lock.lock()
    watchers[id] = nil
    lock.unlock()
  }

  /// Called with the lock held: remembers the event and returns the sinks that want it.
  private func record(_ event: WatchEvent) -> [@Sendable (WatchEvent) -> Void] {
    recent.append(event)
    if recent.count > Self.recentLimit { recent.removeFirst(recent.count - Self.recentLimit) }
    return watchers.values.filter { $0.filter.matches(event.type, event.object) }.map(\.sink)
  }

  /// Every object of the workload types, for the controller.
  func all(_ type: ResourceType) -> [Value] {
    lock.lock()
    defer { lock.unlock() }
    return Array((objects[type] ?? [:]).values)
  }
}
