// Starting an emulator for a test, and running the real kubectl and helm against it.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// One emulator in a temporary directory, with a kubeconfig and isolated kubectl/helm caches.
final class SimFixture: @unchecked Sendable {
  let directory: TemporaryDirectory
  let server: FleetSimServer
  let kubeconfig: String

  init(
    clusters: [VirtualClusterSpec] = VirtualClusterSpec.numbered(2), tls: Bool = false,
    speed: Double = 50, clock: any RolloutClock = SystemClock(), faults: FaultSet = FaultSet()
  ) throws {
    directory = try TemporaryDirectory("fleet-sim-test")
    server = try FleetSimServer.start(
      clusters: clusters,
      options: FleetSimOptions(
        tls: tls, stateDirectory: directory.file("state"), speed: speed, clock: clock,
        faults: faults,
        threads: 2))
    kubeconfig = directory.file("kubeconfig")
    try server.writeKubeconfig(to: kubeconfig)
  }

  deinit {
    server.shutdown()
    directory.remove()
  }

  var environment: [String: String] {
    [
      "KUBECONFIG": kubeconfig, "HOME": directory.path,
      "KUBECACHEDIR": directory.file("kube-cache"),
      "HELM_CACHE_HOME": directory.file("helm/cache"),
      "HELM_CONFIG_HOME": directory.file("helm/config"),
      "HELM_DATA_HOME": directory.file("helm/data"),
    ]
  }

  /// Runs the real kubectl with this fixture's kubeconfig.
  @discardableResult
  func kubectl(_ arguments: [String], kubeconfig: String? = nil, input: String? = nil) throws
    -> ProcessResult
  {
    var environment = self.environment
    if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
    return try runProcess(
      "/usr/bin/env", ["kubectl", "--request-timeout=30s"] + arguments, environment: environment,
      input: input, timeout: 90)
  }

  /// Runs the real helm (v4) with this fixture's kubeconfig.
  @discardableResult
  func helm(_ arguments: [String]) throws -> ProcessResult {
    let helm = try #require(
      BuiltProducts.helm, "helm not found: run Scripts/install-helm.sh or set FLEETWAVE_HELM")
    return try runProcess(helm, arguments, environment: environment, timeout: 120)
  }

  func url(_ cluster: String, _ path: String) -> String {
    server.baseURL(for: cluster, tls: false) + path
  }
}

/// A plain HTTP exchange, for requests no client library would send.
struct HTTPExchange {
  var status: Int
  var headers: [String: String]
  var body: String

  var json: Value? { try? JSONReader.parse(body) }

  static func send(
    _ method: String, _ url: String, body: String? = nil, contentType: String? = nil,
    headers: [String: String] = [:], bodyBytes: Data? = nil, timeout: TimeInterval = 30
  ) throws -> HTTPExchange {
    var request = URLRequest(url: try #require(URL(string: url)))
    request.httpMethod = method
    request.timeoutInterval = timeout
    if let body { request.httpBody = Data(body.utf8) }
    if let bodyBytes { request.httpBody = bodyBytes }
    if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let done = DispatchSemaphore(value: 0)
    let box = ExchangeBox()
    URLSession.shared.dataTask(with: request) { data, response, error in
      box.set(data, response as? HTTPURLResponse, error)
      done.signal()
    }.resume()
    done.wait()
    let (data, response, error) = box.get()
    if let error { throw error }
    let http = try #require(response)
    var headers: [String: String] = [:]
    for (key, value) in http.allHeaderFields {
      headers[String(describing: key).lowercased()] = String(describing: value)
    }
    return HTTPExchange(
      status: http.statusCode, headers: headers,
      body: String(decoding: data ?? Data(), as: UTF8.self))
  }
}

private final class ExchangeBox: @unchecked Sendable {
  private let lock = NSLock()
  private var value: (Data?, HTTPURLResponse?, Error?) = (nil, nil, nil)
  func set(_ data: Data?, _ response: HTTPURLResponse?, _ error: Error?) {
    lock.lock()
    value = (data, response, error)
    lock.unlock()
  }
  func get() -> (Data?, HTTPURLResponse?, Error?) {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}

let webDeployment = """
  apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: default
    labels: {app: web, tier: front}
  spec:
    replicas: 3
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - name: web
          image: IMAGE
  ---
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: web-config, namespace: default, labels: {app: web}}
  data: {mode: blue}
  ---
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: other, namespace: default, labels: {app: other}}
  data: {mode: green}

  """

func manifest(image: String) -> String {
  webDeployment.replacingOccurrences(of: "IMAGE", with: image)
}
