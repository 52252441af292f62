// The endpoints and endpointslice controllers: every Service with a selector gets an `Endpoints`
// object and a `discovery.k8s.io/v1` EndpointSlice listing the pods it selects, ready ones as
// addresses and the others as not ready, rewritten whenever its pods or the Service change.
import FleetCore
import Foundation

enum ServiceEndpoints {
  static let serviceNameLabel = "kubernetes.io/service-name"
  static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
  static let managedBy = "endpointslice-controller.k8s.io"

  private static var serviceType: ResourceType? {
    ResourceCatalog.find(apiVersion: "v1", kind: "Service")
  }
  private static var endpointsType: ResourceType? {
    ResourceCatalog.find(apiVersion: "v1", kind: "Endpoints")
  }
  private static var sliceType: ResourceType? {
    ResourceCatalog.find(apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice")
  }
  private static var podType: ResourceType? { ResourceCatalog.find(apiVersion: "v1", kind: "Pod") }

  /// The address the virtual network gives a pod: stable for its namespace and name.
  static func podIP(namespace: String, name: String) -> String {
    let hash = TemplateHash.fnv(namespace + "/" + name)
    return "10.244.\((hash >> 8) & 0xff).\(max(2, hash & 0xff))"
  }

  /// Rewrites the Endpoints and EndpointSlices of every Service in the namespace, and removes
  /// those whose Service is gone.
  static func refresh(_ store: ClusterStore, namespace: String, now: Date) {
    guard let serviceType, let endpointsType, let sliceType, let podType else { return }
    let services = store.list(WatchFilter(type: serviceType, namespace: namespace)).items
      .filter { $0.at("spec", "selector")?.mapping?.isEmpty == false }
    let slices = store.list(WatchFilter(type: sliceType, namespace: namespace)).items
      .filter { $0.labels[managedByLabel] == managedBy }
    let names = Set(services.map(\.name))
    for slice in slices where !names.contains(slice.labels[serviceNameLabel] ?? "") {
      _ = store.delete(sliceType, namespace: namespace, name: slice.name)
      // Endpoints a client wrote itself (no slice of ours) are left alone.
      _ = store.delete(
        endpointsType, namespace: namespace, name: slice.labels[serviceNameLabel] ?? "")
    }
    guard !services.isEmpty else { return }
    let pods = store.list(WatchFilter(type: podType, namespace: namespace)).items.filter {
      !["Succeeded", "Failed"].contains($0.at("status", "phase")?.string ?? "")
    }
    for service in services {
      let selector = service.at("spec", "selector")?.mapping ?? Mapping()
      let selected = pods.filter { pod in
        let labels = pod.labels
        return selector.allSatisfy { labels[$0.key] == $0.value.scalarText }
      }.sorted { ip($0) < ip($1) }
      write(store, endpointsType, endpoints(service, selected), now: now)
      write(store, sliceType, slice(service, selected), now: now)
    }
  }

  private static func write(_ store: ClusterStore, _ type: ResourceType, _ object: Value, now: Date)
  {
    _ = try? store.modify(type, namespace: object.namespace, name: object.name, now: now) {
      (current: Value?) throws(APIError) -> Value? in
      guard let current else { return object }
      var updated = current
      for key in ["subsets", "endpoints", "ports", "addressType"] {
        updated.set([key], object[key])
      }
      updated.set(["metadata", "labels"], object.at("metadata", "labels"))
      if updated == current { return nil }
      return updated
    }
  }

  private static func ip(_ pod: Value) -> String {
    pod.at("status", "podIP")?.string
      ?? podIP(namespace: pod.namespace ?? "default", name: pod.name)
  }

  private static func isReady(_ pod: Value) -> Bool {
    (pod.at("status", "conditions")?.sequence ?? []).contains {
      $0["type"]?.string == "Ready" && $0["status"]?.string == "True"
    }
  }

  /// The Service's ports with each `targetPort` resolved against the pods: a number as it is, a
  /// name through the first selected pod's container port of that name.
  private static func ports(_ service: Value, _ pods: [Value]) -> [Value] {
    let containerPorts = (pods.first?.at("spec", "containers")?.sequence ?? []).flatMap {
      $0["ports"]?.sequence ?? []
    }
    return (service.at("spec", "ports")?.sequence ?? []).compactMap { port in
      let target = port["targetPort"] ?? port["port"]
      let number: Value?
      if let name = target?.string {
        number = containerPorts.first { $0["name"]?.string == name }?["containerPort"]
      } else {
        number = target
      }
      guard let number else { return nil }
      var entry: Value = ["port": number, "protocol": port["protocol"] ?? "TCP"]
      if let name = port["name"] { entry.set(["name"], name) }
      return entry
    }
  }

  private static func targetRef(_ pod: Value) -> Value {
    [
      "kind": "Pod", "namespace": .string(pod.namespace ?? "default"), "name": .string(pod.name),
      "uid": pod.at("metadata", "uid") ?? "",
    ]
  }

  private static func endpoints(_ service: Value, _ pods: [Value]) -> Value {
    func address(_ pod: Value) -> Value {
      var address: Value = ["ip": .string(ip(pod)), "targetRef": targetRef(pod)]
      if let node = pod.at("spec", "nodeName") { address.set(["nodeName"], node) }
      return address
    }
    var object: Value = [
      "apiVersion": "v1", "kind": "Endpoints",
      "metadata": [
        "name": .string(service.name), "namespace": .string(service.namespace ?? "default"),
        "labels": service.at("metadata", "labels") ?? [:],
      ],
    ]
    // The endpoints controller writes no subset for a Service without pods.
    let ready = pods.filter(isReady).map(address)
    let notReady = pods.filter { !isReady($0) }.map(address)
    if !ready.isEmpty || !notReady.isEmpty {
      var subset: Value = ["ports": .sequence(ports(service, pods))]
      if !ready.isEmpty { subset.set(["addresses"], .sequence(ready)) }
      if !notReady.isEmpty { subset.set(["notReadyAddresses"], .sequence(notReady)) }
      object.set(["subsets"], [subset])
    }
    return object
  }

  private static func slice(_ service: Value, _ pods: [Value]) -> Value {
    var labels = service.at("metadata", "labels")?.mapping ?? Mapping()
    labels[serviceNameLabel] = .string(service.name)
    labels[managedByLabel] = .string(managedBy)
    let endpoints: [Value] = pods.map { pod in
      let ready = isReady(pod)
      var endpoint: Value = [
        "addresses": [.string(ip(pod))],
        "conditions": ["ready": .bool(ready), "serving": .bool(ready), "terminating": false],
        "targetRef": targetRef(pod),
      ]
      if let node = pod.at("spec", "nodeName") { endpoint.set(["nodeName"], node) }
      return endpoint
    }
    let hash = TemplateHash.of(.string(service.name)).prefix(5)
    return [
      "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
      "metadata": [
        "name": .string("\(service.name)-\(hash)"),
        "namespace": .string(service.namespace ?? "default"), "labels": .mapping(labels),
        "ownerReferences": [
          [
            "apiVersion": "v1", "kind": "Service", "name": .string(service.name),
            "uid": service.at("metadata", "uid") ?? "", "controller": true,
            "blockOwnerDeletion": true,
          ]
        ],
      ],
      "addressType": "IPv4", "endpoints": .sequence(endpoints),
      "ports": .sequence(ports(service, pods)),
    ]
  }
}
