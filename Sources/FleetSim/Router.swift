// Which part of the emulator answers a request: a virtual cluster's API or application, the
// admin endpoints, or the fleet-wide metrics; and where injected API faults strike.
import FleetCore
import Foundation

struct Router: Sendable {
  let server: FleetSimServer
  /// The admin's bearer token (the generated kubeconfig's `fleet-sim-token` user), if any.
  let adminToken: String?
  /// Whether a request must bring credentials: on the TLS listener. On plain HTTP a request
  /// without any is the admin.
  let requiresCredentials: Bool

  /// `clientSubject`: the subject of the certificate the TLS peer presented, if our CA signed it.
  func route(_ request: APIRequest, clientSubject: CertificateSubject?) -> (
    APIResult, delay: Duration
  ) {
    let parts = request.path.split(separator: "/").map(String.init)
    let cluster = parts.first == "clusters" && parts.count >= 2 ? server.cluster(parts[1]) : nil
    guard
      let user = Authentication.user(
        request, subject: clientSubject, adminToken: adminToken,
        requireCredentials: requiresCredentials, cluster: cluster, tokens: server.tokens,
        now: server.options.clock.now())
    else {
      return (.error(.unauthorized), .zero)
    }
    switch parts.first {
    case "clusters":
      guard let cluster else { return (.error(.unknownPath), .zero) }
      return clusterRoute(request, cluster, Array(parts.dropFirst(2)), user: user)
    case "admin":
      // The emulator's own controls are the admin's alone.
      guard user.isMaster else { return (.text(403, "forbidden\n"), .zero) }
      return (admin(request, Array(parts.dropFirst())), .zero)
    case "metrics" where parts.count == 1:
      let now = server.options.clock.now()
      let faults = server.faults.faults
      let samples = server.clusterNames.compactMap { server.cluster($0) }.map {
        AppModel(cluster: $0, faults: faults, speed: server.options.speed).samples(
          now: now, withClusterLabel: true)
      }
      return (
        .text(200, AppModel.exposition(samples), contentType: "text/plain; version=0.0.4"), .zero
      )
    case "healthz" where parts.count == 1, "readyz" where parts.count == 1:
      return (.text(200, "ok"), .zero)
    default:
      return (.error(.unknownPath), .zero)
    }
  }

  private func clusterRoute(
    _ request: APIRequest, _ cluster: VirtualCluster, _ rest: [String], user: UserInfo
  ) -> (APIResult, delay: Duration) {
    let faults = server.faults.faults.apiFaults(cluster: cluster.name, labels: cluster.spec.labels)
    if faults.contains(where: \.unreachable) { return (.closeConnection, .zero) }
    if faults.contains(where: \.timeout) { return (.hang, .zero) }
    let delay = faults.map(\.latency).max() ?? .zero
    if rest.first == "app" { return (app(request, cluster, Array(rest.dropFirst())), delay) }
    var random = SystemRandomNumberGenerator()
    for fault in faults {
      if fault.throttleRate > 0, Double.random(in: 0..<1, using: &random) < fault.throttleRate {
        var error = APIError(
          code: 429, reason: "TooManyRequests",
          message: "the server has received too many requests and has asked us to try again later",
          details: ["retryAfterSeconds": .int(Int64(fault.retryAfterSeconds))])
        error.headers = [("Retry-After", String(fault.retryAfterSeconds))]
        return (.error(error), delay)
      }
      if fault.errorRate > 0, Double.random(in: 0..<1, using: &random) < fault.errorRate {
        let reason = fault.errorCode == 503 ? "ServiceUnavailable" : "InternalError"
        return (
          .error(
            APIError(
              code: fault.errorCode, reason: reason,
              message:
                "an error on the server (\"injected fault\") has prevented the "
                + "request from succeeding"
            )), delay
        )
      }
    }
    let caller: UserInfo
    do {
      caller = try Authentication.impersonate(request, user, RBAC(store: cluster.store))
    } catch {
      return (.error(error), delay)
    }
    let api = KubeAPI(
      cluster: cluster, clock: server.options.clock,
      serverAddress: "127.0.0.1:\(server.port)",
      onWorkloadWrite: { [controller = server.controller] cluster, type, object in
        controller.changed(cluster, type, object)
      }, user: caller, tokens: server.tokens)
    return (api.handle(request, path: rest), delay)
  }

  private func app(_ request: APIRequest, _ cluster: VirtualCluster, _ rest: [String]) -> APIResult
  {
    let model = AppModel(
      cluster: cluster, faults: server.faults.faults, speed: server.options.speed)
    switch rest {
    case ["healthz"]:
      return model.isHealthy(model.images) ? .text(200, "ok\n") : .text(503, "unhealthy\n")
    case ["metrics"]:
      let samples = model.samples(now: server.options.clock.now(), withClusterLabel: false)
      return .text(200, AppModel.exposition([samples]), contentType: "text/plain; version=0.0.4")
    default:
      return .text(404, "404 page not found\n")
    }
  }

  private func admin(_ request: APIRequest, _ rest: [String]) -> APIResult {
    switch (request.method, rest) {
    case ("GET", ["faults"]): return .json(200, server.faults.faults.value)
    case ("PUT", ["faults"]), ("POST", ["faults"]):
      do throws(Diagnostic) {
        let document = try FaultsFile.parse(request.body, path: "request body")
        server.faults.faults = try FaultSet.parse(document)
        return .json(200, server.faults.faults.value)
      } catch {
        return .text(400, error.description + "\n")
      }
    case ("DELETE", ["faults"]):
      server.faults.faults = FaultSet()
      return .json(200, server.faults.faults.value)
    case ("GET", ["clusters"]):
      let items: [Value] = server.clusterNames.compactMap { server.cluster($0) }.map { cluster in
        var labels = Mapping()
        for (key, value) in cluster.spec.labels.sorted(by: { $0.key < $1.key }) {
          labels[key] = .string(value)
        }
        return [
          "name": .string(cluster.name), "labels": .mapping(labels),
          "server": .string(server.baseURL(for: cluster.name)),
          "objects": .int(Int64(cluster.store.count())),
        ]
      }
      return .json(200, ["clusters": .sequence(items)])
    default:
      return .text(404, "404 page not found\n")
    }
  }
}

/// Reads a faults file, JSON or YAML.
public enum FaultsFile {
  public static func parse(_ bytes: [UInt8], path: String) throws(Diagnostic) -> Value {
    if path.hasSuffix(".json") || bytes.first == UInt8(ascii: "{") {
      return try JSONReader.parse(bytes, path: path)
    }
    return try YAMLBody.parse(bytes, path: path)
  }

  public static func load(_ path: String) throws -> FaultSet {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try FaultSet.parse(try parse(Array(data), path: path))
  }
}

extension FaultSet {
  /// The faults as a document in the faults file format.
  public var value: Value {
    func scope(_ scope: ClusterScope, into mapping: inout Mapping) {
      if !scope.clusters.isEmpty {
        mapping["clusters"] = .sequence(scope.clusters.map { .string($0) })
      }
      if let selector = scope.selector { mapping["selector"] = .string(selector.text) }
    }
    let imageRules: [Value] = images.map { rule in
      var mapping = Mapping()
      mapping["match"] = .string(rule.match)
      mapping["effect"] = .string(rule.effect.rawValue)
      if rule.effect == .slow { mapping["slowFactor"] = .double(rule.slowFactor) }
      if rule.effect == .errors { mapping["errorRatio"] = .double(rule.errorRatio) }
      scope(rule.scope, into: &mapping)
      return .mapping(mapping)
    }
    let apiRules: [Value] = api.map { rule in
      var mapping = Mapping()
      scope(rule.scope, into: &mapping)
      if rule.errorRate > 0 {
        mapping["errorRate"] = .double(rule.errorRate)
        mapping["errorCode"] = .int(Int64(rule.errorCode))
      }
      if rule.throttleRate > 0 {
        mapping["throttleRate"] = .double(rule.throttleRate)
        mapping["retryAfterSeconds"] = .int(Int64(rule.retryAfterSeconds))
      }
      if rule.latency > .zero { mapping["latency"] = .string(DurationText.format(rule.latency)) }
      if rule.timeout { mapping["timeout"] = true }
      if rule.unreachable { mapping["unreachable"] = true }
      return .mapping(mapping)
    }
    var document: Value = ["images": .sequence(imageRules), "api": .sequence(apiRules)]
    if !allowedImages.isEmpty {
      document.set(["allowedImages"], .sequence(allowedImages.map { .string($0) }))
    }
    return document
  }
}
