// Cluster templates split once into text and lookups, for filling them across large fleets.
import FleetCore
import FleetYAML
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A `{{ .field }}` template (see FleetCore's ClusterTemplate) parsed once, so filling it for
/// 100,000 clusters costs a few appends each. Anything unusual (a syntax problem, a missing
/// label, an unknown field) is handed to ClusterTemplate itself, so messages stay identical.
struct CompiledTemplate: Sendable {
  private enum Piece: Sendable {
    case text(String)
    case name, context, server
    case label(String)
    case variable(String)
  }

  let source: String
  let mark: SourceMark?
  let sink: TemplateSink
  /// Nil when the template has a syntax problem or a sink that escapes (URLs, PromQL, shell):
  /// rendering then goes through ClusterTemplate.
  private let pieces: [Piece]?

  init(_ source: String, mark: SourceMark?, sink: TemplateSink = .text) {
    self.source = source
    self.mark = mark
    self.sink = sink
    pieces = sink == .text || sink == .path ? Self.compile(source) : nil
  }

  private static func compile(_ source: String) -> [Piece]? {
    var pieces: [Piece] = []
    var rest = Substring(source)
    while let open = rest.range(of: "{{") {
      if open.lowerBound > rest.startIndex {
        pieces.append(.text(String(rest[..<open.lowerBound])))
      }
      guard let close = rest[open.upperBound...].range(of: "}}") else { return nil }
      let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      guard expression.hasPrefix("."), !expression.contains("|") else { return nil }
      let path = String(expression.dropFirst())
      switch path {
      case "name": pieces.append(.name)
      case "context": pieces.append(.context)
      case "server": pieces.append(.server)
      default:
        if path.hasPrefix("labels.") {
          pieces.append(.label(String(path.dropFirst("labels.".count))))
        } else {
          pieces.append(.variable(path))
        }
      }
      rest = rest[close.upperBound...]
    }
    if !rest.isEmpty { pieces.append(.text(String(rest))) }
    return pieces
  }

  func render(_ cluster: Cluster, variables: [String: String] = [:]) throws(Diagnostic) -> String {
    guard let pieces else { return try slowRender(cluster, variables) }
    var out = ""
    out.reserveCapacity(source.utf8.count + 24)
    for piece in pieces {
      switch piece {
      case .text(let text): out += text
      case .name:
        guard passes(cluster.name) else { return try slowRender(cluster, variables) }
        out += cluster.name
      case .context:
        guard let context = cluster.context, passes(context) else {
          return try slowRender(cluster, variables)
        }
        out += context
      case .server:
        guard let server = cluster.server, passes(server) else {
          return try slowRender(cluster, variables)
        }
        out += server
      case .label(let key):
        guard let value = cluster.labels[key], passes(value) else {
          return try slowRender(cluster, variables)
        }
        out += value
      case .variable(let name):
        guard let value = variables[name], passes(value) else {
          return try slowRender(cluster, variables)
        }
        out += value
      }
    }
    return out
  }

  /// Whether `value` goes into this template's sink unchanged; anything else takes the slow
  /// path, which escapes it or says why it cannot.
  private func passes(_ value: String) -> Bool {
    for byte in value.utf8 where byte < 0x20 || byte == 0x7F || (sink == .path && byte == 0x2F) {
      return false
    }
    return sink == .text || (value != "." && value != "..")
  }

  private func slowRender(_ cluster: Cluster, _ variables: [String: String]) throws(Diagnostic)
    -> String
  {
    try ClusterTemplate.render(
      source, cluster: cluster, variables: variables, mark: mark, sink: sink)
  }
}
