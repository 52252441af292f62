// Server-side printing: the `Table` kubectl asks for (`Accept: ...;as=Table`) when it prints rows.
import FleetCore
import Foundation

enum TableView {
  private struct Column {
    var name: String
    var type: String = "string"
    var format: String = ""
    var priority: Int = 0
    var cell: (Value) -> Value
  }

  /// What each row carries besides its cells, from the request's `includeObject` (the API
  /// server's default is `Metadata`; kubectl asks for `Object` when it sorts by a field).
  enum Included: String {
    case none = "None"
    case metadata = "Metadata"
    case object = "Object"
  }

  static func table(
    _ type: ResourceType, _ items: [Value], revision: Int64, now: Date,
    including included: Included = .metadata, printerColumns: [Value]? = nil
  ) -> Value {
    let columns =
      printerColumns.map { Self.printerColumns($0, now: now) } ?? self.columns(type, now: now)
    let definitions: [Value] = columns.map {
      [
        "name": .string($0.name), "type": .string($0.type), "format": .string($0.format),
        "description": "", "priority": .int(Int64($0.priority)),
      ]
    }
    let rows: [Value] = items.map { item in
      var row: Value = ["cells": .sequence(columns.map { $0.cell(item) })]
      switch included {
      case .none: break
      case .object: row.set(["object"], item)
      case .metadata:
        var metadata = item["metadata"] ?? [:]
        metadata.set(["managedFields"], nil)
        row.set(
          ["object"],
          [
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
          ])
      }
      return row
    }
    return [
      "kind": "Table", "apiVersion": "meta.k8s.io/v1",
      "metadata": ["resourceVersion": .string(String(revision))],
      "columnDefinitions": .sequence(definitions), "rows": .sequence(rows),
    ]
  }

  private static func int(_ object: Value, _ path: String...) -> Int64 { object.at(path)?.int ?? 0 }

  private static func columns(_ type: ResourceType, now: Date) -> [Column] {
    let name = Column(name: "Name", format: "name") { .string($0.name) }
    let age = Column(name: "Age") { object in
      .string(Self.age(object.at("metadata", "creationTimestamp")?.string, now: now))
    }
    // `-o wide`: what a Deployment's or ReplicaSet's pods run, and its selector.
    let wide = [
      Column(name: "Containers", priority: 1) { o in
        .string(containers(o).map { $0["name"]?.string ?? "" }.joined(separator: ","))
      },
      Column(name: "Images", priority: 1) { o in
        .string(containers(o).map { $0["image"]?.string ?? "" }.joined(separator: ","))
      },
      Column(name: "Selector", priority: 1) { .string(selector($0.at("spec", "selector"))) },
    ]
    switch (type.group, type.kind) {
    case ("apps", "Deployment"):
      return [
        name,
        Column(name: "Ready") { o in
          .string("\(int(o, "status", "readyReplicas"))/\(int(o, "spec", "replicas"))")
        },
        Column(name: "Up-to-date", type: "integer") { o in .int(int(o, "status", "updatedReplicas"))
        },
        Column(name: "Available", type: "integer") { o in
          .int(int(o, "status", "availableReplicas"))
        },
        age,
      ] + wide
    case ("apps", "ReplicaSet"):
      // printReplicaSet: desired, current and ready replicas.
      return [
        name,
        Column(name: "Desired", type: "integer") { .int(int($0, "spec", "replicas")) },
        Column(name: "Current", type: "integer") { .int(int($0, "status", "replicas")) },
        Column(name: "Ready", type: "integer") { .int(int($0, "status", "readyReplicas")) },
        age,
      ] + wide
    case ("apps", "ControllerRevision"):
      return [
        name,
        Column(name: "Controller") { o in
          let owner = o.at("metadata", "ownerReferences")?.sequence?.first
          guard let owner else { return "" }
          let group = (owner["apiVersion"]?.string ?? "").split(separator: "/").dropLast().first
          let kind = (owner["kind"]?.string ?? "").lowercased()
          return .string(
            "\(kind)\(group.map { ".\($0)" } ?? "")/\(owner["name"]?.string ?? "")")
        },
        Column(name: "Revision", type: "integer") { .int(int($0, "revision")) }, age,
      ]
    case ("apps", "StatefulSet"):
      return [
        name,
        Column(name: "Ready") { o in
          .string("\(int(o, "status", "readyReplicas"))/\(int(o, "spec", "replicas"))")
        },
        age,
      ]
    case ("", "Pod"):
      return [
        name,
        Column(name: "Ready") { o in
          let statuses = o.at("status", "containerStatuses")?.sequence ?? []
          return .string("\(statuses.filter { $0["ready"] == true }.count)/\(statuses.count)")
        },
        Column(name: "Status") { o in
          let waiting = (o.at("status", "containerStatuses")?.sequence ?? [])
            .compactMap { $0.at("state", "waiting", "reason")?.string }.first
          let terminated = o.at("status", "phase")?.string == "Succeeded" ? "Completed" : nil
          return .string(waiting ?? terminated ?? o.at("status", "phase")?.string ?? "")
        },
        Column(name: "Restarts", type: "integer") { o in
          .int(
            (o.at("status", "containerStatuses")?.sequence ?? []).reduce(0) {
              $0 + ($1["restartCount"]?.int ?? 0)
            })
        },
        age,
      ]
    case ("", "Event"):
      return [
        Column(name: "Last Seen") { o in .string(Self.age(o["lastTimestamp"]?.string, now: now)) },
        Column(name: "Type") { .string($0["type"]?.string ?? "") },
        Column(name: "Reason") { .string($0["reason"]?.string ?? "") },
        Column(name: "Object") { o in
          let kind = (o.at("involvedObject", "kind")?.string ?? "").lowercased()
          return .string("\(kind)/\(o.at("involvedObject", "name")?.string ?? "")")
        },
        Column(name: "Message") { .string($0["message"]?.string ?? "") },
      ]
    case ("", "Namespace"):
      return [
        name, Column(name: "Status") { .string($0.at("status", "phase")?.string ?? "") }, age,
      ]
    case ("", "ResourceQuota"):
      // printResourceQuota: `used/hard` per resource, limits.* in their own column.
      func usage(_ quota: Value, limits: Bool) -> Value {
        let hard = quota.at("spec", "hard")?.mapping?.map(\.key) ?? []
        return .string(
          hard.sorted().filter { $0.hasPrefix("limits.") == limits }.map { key in
            let used = quota.at("status", "used", key)?.scalarText ?? "0"
            let limit = quota.at("status", "hard", key)?.scalarText ?? "0"
            return "\(key): \(used)/\(limit)"
          }.joined(separator: ", "))
      }
      return [
        name, age, Column(name: "Request") { usage($0, limits: false) },
        Column(name: "Limit") { usage($0, limits: true) },
      ]
    case ("", "Endpoints"):
      // printEndpoints: each ready address with each port, at most three.
      return [
        name,
        Column(name: "Endpoints") { o in
          var listed: [String] = []
          for subset in o["subsets"]?.sequence ?? [] {
            let addresses = (subset["addresses"]?.sequence ?? []).compactMap { $0["ip"]?.string }
            let ports = (subset["ports"]?.sequence ?? []).compactMap { $0["port"]?.scalarText }
            if ports.isEmpty { listed += addresses }
            for port in ports { listed += addresses.map { "\($0):\(port)" } }
          }
          return .string(atMostThree(listed, none: "<none>"))
        },
        age,
      ]
    case ("discovery.k8s.io", "EndpointSlice"):
      // printEndpointSlice: address type, ports and addresses, at most three.
      return [
        name, Column(name: "AddressType") { .string($0["addressType"]?.string ?? "") },
        Column(name: "Ports") { o in
          let ports = (o["ports"]?.sequence ?? []).compactMap { $0["port"]?.scalarText }
          return .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ","))
        },
        Column(name: "Endpoints") { o in
          let addresses = (o["endpoints"]?.sequence ?? []).flatMap {
            ($0["addresses"]?.sequence ?? []).compactMap(\.string)
          }
          return .string(atMostThree(addresses, none: "<unset>"))
        },
        age,
      ]
    case ("", "ConfigMap"):
      return [
        name,
        Column(name: "Data", type: "integer") { .int(Int64($0["data"]?.mapping?.count ?? 0)) }, age,
      ]
    case ("", "Secret"):
      return [
        name, Column(name: "Type") { .string($0["type"]?.string ?? "") },
        Column(name: "Data", type: "integer") { .int(Int64($0["data"]?.mapping?.count ?? 0)) }, age,
      ]
    case ("", "Service"):
      return [
        name, Column(name: "Type") { .string($0.at("spec", "type")?.string ?? "") },
        Column(name: "Cluster-IP") { .string($0.at("spec", "clusterIP")?.string ?? "") }, age,
      ]
    case ("autoscaling", "HorizontalPodAutoscaler"):
      // printHorizontalPodAutoscaler: `Deployment/web`, the metrics, min and max, replicas.
      return [
        name,
        Column(name: "Reference") { o in
          let target = o.at("spec", "scaleTargetRef")
          return .string("\(target?["kind"]?.string ?? "")/\(target?["name"]?.string ?? "")")
        },
        Column(name: "Targets") { .string(HorizontalPodAutoscalers.targets($0)) },
        Column(name: "MinPods") { .string($0.at("spec", "minReplicas")?.scalarText ?? "<unset>") },
        Column(name: "MaxPods", type: "integer") { .int(int($0, "spec", "maxReplicas")) },
        Column(name: "Replicas", type: "integer") { .int(int($0, "status", "currentReplicas")) },
        age,
      ]
    default:
      return [name, age]
    }
  }

  /// A label selector as kubectl prints it (`app=web,tier in (a,b)`), requirements by key.
  static func selector(_ selector: Value?) -> String {
    var requirements: [(key: String, text: String)] = []
    for entry in selector?["matchLabels"]?.mapping ?? Mapping() {
      requirements.append((entry.key, "\(entry.key)=\(entry.value.scalarText ?? "")"))
    }
    for expression in selector?["matchExpressions"]?.sequence ?? [] {
      let key = expression["key"]?.string ?? ""
      let values = (expression["values"]?.sequence ?? []).compactMap(\.string).sorted()
      let text: String
      switch expression["operator"]?.string {
      case "In": text = "\(key) in (\(values.joined(separator: ",")))"
      case "NotIn": text = "\(key) notin (\(values.joined(separator: ",")))"
      case "DoesNotExist": text = "!\(key)"
      default: text = key
      }
      requirements.append((key, text))
    }
    return requirements.sorted { $0.key < $1.key }.map(\.text).joined(separator: ",")
  }

  /// kubectl's `a,b,c + 2 more...`.
  private static func atMostThree(_ items: [String], none: String) -> String {
    guard !items.isEmpty else { return none }
    let shown = items.prefix(3).joined(separator: ",")
    return items.count > 3 ? "\(shown) + \(items.count - 3) more..." : shown
  }

  /// A custom resource's columns: Name, then its CRD's `additionalPrinterColumns`, each cell read
  /// at the column's JSONPath (`.spec.cronSpec`); `date` cells shown as ages, as the
  /// apiextensions-apiserver's table convertor shows them.
  private static func printerColumns(_ printer: [Value], now: Date) -> [Column] {
    let name = Column(name: "Name", format: "name") { .string($0.name) }
    return [name]
      + printer.map { column in
        let path = (column["jsonPath"]?.string ?? "").split(separator: ".").map(String.init)
        let type = column["type"]?.string ?? "string"
        return Column(
          name: column["name"]?.string ?? "", type: type,
          format: column["format"]?.string ?? "", priority: Int(column["priority"]?.int ?? 0)
        ) { object in
          guard let value = object.at(path) else { return .null }
          return type == "date" ? .string(Self.age(value.string, now: now)) : value
        }
      }
  }

  private static func containers(_ object: Value) -> [Value] {
    object.at("spec", "template", "spec", "containers")?.sequence ?? []
  }

  /// `5s`, `3m12s`, `2d4h`, as kubectl prints ages.
  static func age(_ timestamp: String?, now: Date) -> String {
    guard let timestamp, let created = ISO8601DateFormatter().date(from: timestamp) else {
      return "<unknown>"
    }
    let seconds = max(0, Int(now.timeIntervalSince(created)))
    if seconds < 120 { return "\(seconds)s" }
    let minutes = seconds / 60
    if minutes < 10 { return "\(minutes)m\(seconds % 60)s" }
    if minutes < 180 { return "\(minutes)m" }
    let hours = minutes / 60
    if hours < 48 { return "\(hours)h" }
    return "\(hours / 24)d"
  }
}
