// The Kubernetes REST API of one virtual cluster: discovery, CRUD, patch, apply, watch.
import FleetCore
import Foundation

/// Answers Kubernetes API requests against one virtual cluster's store.
struct KubeAPI {
  let cluster: VirtualCluster
  let clock: any RolloutClock
  let serverAddress: String
  /// `/clusters/NAME`: the path every URL this cluster hands out starts with.
  var pathPrefix: String { "/clusters/\(cluster.name)" }
  /// Told about every workload write, so rollouts start.
  let onWorkloadWrite: @Sendable (VirtualCluster, ResourceType, Value) -> Void
  /// Who asks, after impersonation.
  let user: UserInfo
  /// The ServiceAccount tokens this server issued.
  let tokens: TokenBook

  var store: ClusterStore { cluster.store }
  /// The fixed catalog plus this cluster's established CRDs.
  var customResources: CustomResources { CustomResources(store: store) }

  private var now: Date { clock.now() }

  func handle(_ request: APIRequest, path: [String]) -> APIResult {
    // Authorization comes before routing, as in the API server: a caller that may not ask
    // learns nothing about what exists.
    if !user.isMaster {
      let attributes = RequestAttributes.of(request, path: path, user: user)
      let decision = rbac.authorize(attributes)
      guard decision.allowed else {
        return .error(APIError.forbidden(attributes, reason: decision.reason))
      }
    }
    do {
      let result = try route(request, path)
      // CRDs get their conditions from controllers that run after the write.
      if request.method != "GET", path.contains(CustomResources.definitionType.plural) {
        CRDController.reconcile(store, now: now)
      }
      return result
    } catch {
      return .error(error)
    }
  }

  private func route(_ request: APIRequest, _ path: [String]) throws(APIError) -> APIResult {
    switch path.first {
    case nil:
      return .json(200, ["paths": ["/api", "/api/v1", "/apis", "/healthz", "/readyz", "/version"]])
    case "version": return .json(200, Self.version(cluster))
    case "openapi" where path.count >= 2 && path[1] == "v3":
      if path.count == 2 { return .json(200, customResources.openAPIRoot(prefix: pathPrefix)) }
      let key = path.dropFirst(2).joined(separator: "/")
      let apiVersion =
        key == "api/v1" ? "v1" : key.hasPrefix("apis/") ? String(key.dropFirst(5)) : ""
      guard let document = customResources.openAPIDocument(apiVersion: apiVersion) else {
        throw APIError.unknownPath
      }
      return .json(200, document)
    case "healthz", "readyz", "livez": return .text(200, "ok")
    case "api":
      if path.count == 1 {
        return .json(200, ResourceCatalog.coreVersions(serverAddress: serverAddress))
      }
      guard path[1] == "v1" else { throw APIError.unknownPath }
      if path.count == 2, let list = ResourceCatalog.resourceList(apiVersion: "v1") {
        return .json(200, list)
      }
      return try resource(request, apiVersion: "v1", Array(path.dropFirst(2)))
    case "apis":
      if path.count == 1 { return .json(200, customResources.groupList()) }
      if path.count == 2 {
        guard let group = customResources.group(path[1]) else { throw APIError.unknownPath }
        return .json(200, group)
      }
      let apiVersion = "\(path[1])/\(path[2])"
      guard customResources.servesGroupVersion(apiVersion) else { throw APIError.unknownPath }
      if path.count == 3, let list = customResources.resourceList(apiVersion: apiVersion) {
        return .json(200, list)
      }
      return try resource(request, apiVersion: apiVersion, Array(path.dropFirst(3)))
    default: throw APIError.unknownPath
    }
  }

  /// The cluster's `/version`: 1.32, or what its `fleet-sim/kube-version` label says (`1.29.4`),
  /// so charts branching on `.Capabilities.KubeVersion` can be rehearsed per cluster.
  static func version(_ cluster: VirtualCluster) -> Value {
    guard let wanted = cluster.spec.labels["fleet-sim/kube-version"] else { return version }
    let parts = wanted.split(separator: ".").map(String.init)
    guard parts.count >= 2 else { return version }
    var answer = version
    answer.set(["major"], .string(parts[0]))
    answer.set(["minor"], .string(parts[1]))
    answer.set(["gitVersion"], .string("v\(wanted)-fleet-sim"))
    return answer
  }

  static let version: Value = [
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-fleet-sim", "gitCommit": "fleet-sim",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.4",
    "compiler": "gc", "platform": "linux/amd64",
  ]

  // MARK: resource paths

  private struct Target {
    var type: ResourceType
    var namespace: String?
    var name: String?
    var subresource: String?
    /// Set when the path's version is served from another version's storage.
    var conversion: VersionConversion? = nil
  }

  private func resource(_ request: APIRequest, apiVersion: String, _ rest: [String])
    throws(APIError) -> APIResult
  {
    guard var target = parseTarget(apiVersion: apiVersion, rest) else { throw APIError.unknownPath }
    // A version kept in another version's storage (autoscaling/v1 HorizontalPodAutoscalers) is
    // handled as the storage type, converted on the way in and on the way out.
    guard let conversion = HorizontalPodAutoscalers.conversion(for: target.type) else {
      return try resource(request, target)
    }
    target.type = conversion.storage
    target.conversion = conversion
    return conversion.answer(try resource(request, target))
  }

  private func resource(_ request: APIRequest, _ target: Target) throws(APIError) -> APIResult {
    if let sub = target.subresource, !target.type.subresources.contains(sub) {
      throw APIError.unknownPath
    }
    if target.type.isReview { return try review(request, target.type) }
    if target.subresource == "token", let namespace = target.namespace, let name = target.name {
      return try tokenRequest(request, namespace: namespace, name: name)
    }
    if let namespace = target.namespace, target.type.namespaced, request.method != "GET",
      !store.namespaceExists(namespace)
    {
      throw APIError.namespaceNotFound(namespace)
    }
    switch (request.method, target.name) {
    case ("GET", nil):
      return try isWatch(request) ? watch(request, target) : list(request, target)
    case ("GET", let name?):
      if isWatch(request) {
        var named = target
        named.name = nil
        return try watch(request, named, name: name)
      }
      guard let object = store.get(target.type, namespace: target.namespace, name: name) else {
        throw APIError.notFound(target.type, name)
      }
      if target.subresource == "scale" { return .json(200, scale(of: object, target.type)) }
      if target.subresource == "log" { return try PodLogs.answer(object, request.query) }
      if target.subresource == nil, Self.wantsTable(request) {
        // A one-row Table, as the API server prints a single object for kubectl's default get.
        let revision = object.at("metadata", "resourceVersion")?.string.flatMap { Int64($0) } ?? 0
        return .json(
          200,
          TableView.table(
            target.type, [object], revision: revision, now: now,
            including: try Self.included(request),
            printerColumns: customResources.printerColumns(target.type)))
      }
      return .json(200, object)
    case ("POST", nil): return try create(request, target)
    case ("PUT", let name?): return try update(request, target, name: name)
    case ("PATCH", let name?): return try patch(request, target, name: name)
    case ("DELETE", let name?): return try delete(request, target, name: name)
    case ("DELETE", nil): return try deleteCollection(request, target)
    default: throw APIError.methodNotAllowed(request.method)
    }
  }

  private func parseTarget(apiVersion: String, _ rest: [String]) -> Target? {
    let custom = customResources
    func type(_ plural: String) -> ResourceType? {
      custom.find(apiVersion: apiVersion, plural: plural)
    }
    if rest.count >= 3, rest[0] == "namespaces", let namespaced = type(rest[2]),
      namespaced.namespaced
    {
      guard rest.count <= 5 else { return nil }
      return Target(
        type: namespaced, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil,
        subresource: rest.count > 4 ? rest[4] : nil)
    }
    guard let first = rest.first, let found = type(first), rest.count <= 3 else { return nil }
    // A namespaced type without a namespace in the path lists across all namespaces.
    if found.namespaced && rest.count > 1 { return nil }
    return Target(
      type: found, namespace: nil, name: rest.count > 1 ? rest[1] : nil,
      subresource: rest.count > 2 ? rest[2] : nil)
  }

  private func isWatch(_ request: APIRequest) -> Bool {
    request.query["watch"] == "true" || request.query["watch"] == "1"
  }

  private func filter(_ request: APIRequest, _ target: Target) throws(APIError) -> (
    WatchFilter, [(String, String)]
  ) {
    var filter = WatchFilter(
      type: target.type, namespace: target.namespace, selector: nil, name: nil)
    if let text = request.query["labelSelector"], !text.isEmpty {
      do {
        filter.selector = try LabelSelector.parse(text)
      } catch {
        throw APIError.badRequest("unable to parse requirement: \(error.message)")
      }
    }
    var fields: [(String, String)] = []
    if let text = request.query["fieldSelector"], !text.isEmpty {
      for term in text.split(separator: ",") {
        let parts = term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw APIError.badRequest("invalid field selector: '\(term)'")
        }
        var key = String(parts[0])
        if key.hasSuffix("=") { key.removeLast() }
        let value =
          String(parts[1]).hasPrefix("=") ? String(parts[1].dropFirst()) : String(parts[1])
        if key == "metadata.name" {
          filter.name = value
        } else if key == "metadata.namespace" {
          filter.namespace = value
        } else {
          fields.append((key, value))
        }
      }
    }
    return (filter, fields)
  }

  private static func matchesFields(_ object: Value, _ fields: [(String, String)]) -> Bool {
    fields.allSatisfy { key, value in
      (object.at(key.split(separator: ".").map(String.init))?.scalarText ?? "") == value
    }
  }

  private static func wantsTable(_ request: APIRequest) -> Bool {
    request.header("Accept")?.contains("as=Table") ?? false
  }

  /// The `includeObject` query parameter, refused as the API server refuses an unknown policy.
  private static func included(_ request: APIRequest) throws(APIError) -> TableView.Included {
    guard let text = request.query["includeObject"], !text.isEmpty else { return .metadata }
    guard let policy = TableView.Included(rawValue: text) else {
      throw APIError.badRequest(
        "includeObject: Unsupported value: \"\(text)\": supported values: \"Metadata\", "
          + "\"None\", \"Object\"")
    }
    return policy
  }

  private func list(_ request: APIRequest, _ target: Target) throws(APIError) -> APIResult {
    let (filter, fields) = try filter(request, target)
    let (items, revision) = store.list(filter)
    var selected = items.filter { Self.matchesFields($0, fields) }
    var metadata: Value = ["resourceVersion": .string(String(revision))]
    // Pages continue after the last (namespace, name) handed out. Unlike etcd, later pages show
    // the current state rather than a snapshot at the first page's revision.
    if let token = request.query["continue"], !token.isEmpty {
      guard let data = Data(base64Encoded: token), let after = String(data: data, encoding: .utf8)
      else {
        throw APIError.badRequest("continue key is not valid: illegal base64 data")
      }
      selected = selected.filter { "\($0.namespace ?? "")/\($0.name)" > after }
    }
    if let limit = request.query["limit"].flatMap(Int.init), limit > 0, selected.count > limit {
      let last = selected[limit - 1]
      let key = "\(last.namespace ?? "")/\(last.name)"
      metadata.set(["continue"], .string(Data(key.utf8).base64EncodedString()))
      metadata.set(["remainingItemCount"], .int(Int64(selected.count - limit)))
      selected = Array(selected.prefix(limit))
    }
    if Self.wantsTable(request) {
      var table = TableView.table(
        target.type, selected, revision: revision, now: now, including: try Self.included(request),
        printerColumns: customResources.printerColumns(target.type))
      table.set(["metadata"], metadata)
      return .json(200, table)
    }
    let list: Value = [
      "kind": .string(target.type.kind + "List"), "apiVersion": .string(target.type.apiVersion),
      "metadata": metadata, "items": .sequence(selected),
    ]
    return .json(200, list)
  }

  private func watch(_ request: APIRequest, _ target: Target, name: String? = nil)
    throws(APIError) -> APIResult
  {
    var (filter, _) = try filter(request, target)
    if let name { filter.name = name }
    let requested = request.query["resourceVersion"].flatMap { Int64($0) }
    let sendInitial = request.query["sendInitialEvents"] == "true"
    var initial: [Value] = []
    var since = requested
    if requested == nil || requested == 0 || sendInitial {
      let (items, revision) = store.list(filter)
      initial = items
      since = revision
    }
    let timeout = request.query["timeoutSeconds"].flatMap { Int64($0) } ?? 1800
    var plan = WatchPlan(
      store: store, filter: filter, since: since, initial: initial,
      initialEventsEndBookmark: sendInitial, timeoutSeconds: max(1, timeout))
    if Self.wantsTable(request) {
      // Each event's object becomes a one-row Table, as the API server prints watch events for
      // `kubectl get -w`; ages are taken when the event is sent.
      let (type, clock, included) = (target.type, clock, try Self.included(request))
      plan.render = { object in
        let revision = object.at("metadata", "resourceVersion")?.string.flatMap { Int64($0) } ?? 0
        return TableView.table(
          type, [object], revision: revision, now: clock.now(), including: included)
      }
    }
    return .watch(plan)
  }

  // MARK: writes

  func body(_ request: APIRequest) throws(APIError) -> Value {
    guard !request.body.isEmpty else { throw APIError.badRequest("the request body is empty") }
    if request.contentType == "application/vnd.kubernetes.protobuf" {
      return try ProtobufRequest.decode(request.body)
    }
    try ProtobufRequest.checkMediaType(request)
    let value: Value
    do {
      // kubectl and helm send JSON even under the YAML media type; JSON is also valid YAML.
      if request.contentType.contains("yaml"), request.body.first != UInt8(ascii: "{") {
        value = try YAMLBody.parse(request.body)
      } else {
        value = try JSONReader.parse(request.body, path: "request body")
      }
    } catch {
      throw APIError.badRequest(
        "the object provided is unrecognized or malformed: \(error.headline)")
    }
    return value
  }

  /// A create, update or apply body, in the storage version.
  private func objectBody(_ request: APIRequest, _ target: Target) throws(APIError) -> Value {
    let object = try body(request)
    return try target.conversion?.stored(object) ?? object
  }

  private func checkIdentity(_ object: Value, _ target: Target, name: String?) throws(APIError) {
    guard object.mapping != nil else {
      throw APIError.badRequest("the object provided is not a JSON object")
    }
    if let apiVersion = object["apiVersion"]?.string, apiVersion != target.type.apiVersion {
      throw APIError.badRequest(
        "the API version in the data (\(apiVersion)) does not match the expected API version "
          + "(\(target.type.apiVersion))")
    }
    if let kind = object["kind"]?.string, kind != target.type.kind {
      throw APIError.badRequest(
        "the kind in the data (\(kind)) does not match the expected kind (\(target.type.kind))")
    }
    if target.type.namespaced, let ns = object.namespace, !ns.isEmpty, ns != target.namespace {
      throw APIError.badRequest(
        "the namespace of the provided object does not match the namespace sent on the request")
    }
    if let name, !object.name.isEmpty, object.name != name {
      throw APIError.badRequest(
        "the name of the object (\(object.name)) does not match the name on "
          + "the URL (\(name))")
    }
  }

  private func validateName(_ type: ResourceType, _ name: String) throws(APIError) {
    if let problem = NameSyntax.subdomainProblem(name) {
      throw APIError.invalid(type, name, "metadata.name", "Invalid value: \"\(name)\": \(problem)")
    }
  }

  private func create(_ request: APIRequest, _ target: Target) throws(APIError) -> APIResult {
    // Read before the store is locked for the write.
    let admission = customResources.admission(target.type)
    var object = try objectBody(request, target)
    try checkIdentity(object, target, name: nil)
    let warnings: [(String, String)]
    (object, warnings) = try FieldValidation.admit(request, target.type, object)
    // Admission sees the name asked for, or the generateName prefix.
    let requestedName =
      object.name.isEmpty ? (object.at("metadata", "generateName")?.string ?? "") : object.name
    if object.name.isEmpty {
      guard let prefix = object.at("metadata", "generateName")?.string, !prefix.isEmpty else {
        throw APIError.invalid(
          target.type, "", "metadata.name", "Required value: name or generateName is required")
      }
      object.set(["metadata", "name"], .string(prefix + Self.randomSuffix()))
    }
    try validateName(target.type, object.name)
    object = prepareNew(object, target)
    object = try admission.admit(request, object)
    try Validation.check(target.type, object, old: nil)
    try ResourceQuotas.admit(store, target.type, object, name: requestedName)
    FieldOwnership.recordUpdate(
      old: nil, new: &object, manager: request.fieldManager ?? request.defaultManager,
      apiVersion: target.type.apiVersion, now: KubeTime.format(now))
    if request.isDryRun { return .json(201, object, headers: warnings) }
    var stored = try store.create(target.type, object, now: now)
    if target.type.isControlled { onWorkloadWrite(cluster, target.type, stored) }
    if let namespace = stored.namespace {
      ResourceQuotas.refresh(store, namespace: namespace, now: now)
      // A new quota answers with its first status.
      if stored.at("status", "used") == nil, target.type == ResourceQuotas.quotaType,
        let counted = store.get(target.type, namespace: namespace, name: stored.name)
      {
        stored = counted
      }
    }
    return .json(201, stored, headers: warnings)
  }

  /// Fills what the API server fills on create: identity, defaults, generation, initial status.
  private func prepareNew(_ input: Value, _ target: Target) -> Value {
    var object = input
    object.set(["apiVersion"], .string(target.type.apiVersion))
    object.set(["kind"], .string(target.type.kind))
    if target.type.namespaced {
      object.set(["metadata", "namespace"], target.namespace.map { .string($0) })
    }
    for key in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"] {
      object.set(["metadata", key], nil)
    }
    if target.type.hasSpec { object.set(["metadata", "generation"], 1) }
    object = Defaults.apply(target.type, object)
    if target.type.group == "batch", target.type.kind == "Job" {
      object = JobDefaults.onCreate(object)
    }
    // A new workload has no status until the controller observes it; whatever the client sent
    // there is not the controller's to keep.
    if target.type.isWorkload { object.set(["status"], [:]) }
    return object
  }

  private static func randomSuffix() -> String {
    let letters = Array("bcdfghjklmnpqrstvwxz2456789")
    return String((0..<5).map { _ in letters.randomElement() ?? "x" })
  }

  /// Carries over what a client cannot change, bumps generation on spec changes, keeps status
  /// (or only status, for the status subresource).
  private func merge(old: Value, new input: Value, _ target: Target) -> Value {
    var object = input
    if target.subresource == "status" {
      var kept = old
      kept.set(["status"], input["status"])
      return kept
    }
    object.set(["apiVersion"], .string(target.type.apiVersion))
    object.set(["kind"], .string(target.type.kind))
    for key in ["uid", "creationTimestamp", "name", "namespace", "generation"] {
      object.set(["metadata", key], old.at("metadata", key))
    }
    object = Defaults.apply(target.type, object)
    if target.type.subresources.contains("status") || target.type.isWorkload {
      object.set(["status"], old["status"])
    }
    if target.type.hasSpec, object["spec"] != old["spec"] {
      object.set(
        ["metadata", "generation"], .int((old.at("metadata", "generation")?.int ?? 0) + 1))
    }
    return object
  }

  private func checkRevision(_ object: Value, against old: Value, _ type: ResourceType)
    throws(APIError)
  {
    if let wanted = object.at("metadata", "resourceVersion")?.string, !wanted.isEmpty,
      wanted != old.at("metadata", "resourceVersion")?.string
    {
      throw APIError.conflict(type, old.name)
    }
  }

  private func update(_ request: APIRequest, _ target: Target, name: String) throws(APIError)
    -> APIResult
  {
    // Read before the store is locked for the write.
    let admission = customResources.admission(target.type)
    var input = try objectBody(request, target)
    try checkIdentity(input, target, name: name)
    if target.subresource == "scale" {
      return try scaleUpdate(request, target, name: name) { _ in input.at("spec", "replicas") }
    }
    input.set(["metadata", "name"], .string(name))
    let warnings: [(String, String)]
    (input, warnings) = try fieldsAdmitted(request, target, input)
    let manager = request.fieldManager ?? request.defaultManager
    let result = try write(request, target, name: name) { (old: Value) throws(APIError) -> Value in
      try checkRevision(input, against: old, target.type)
      var merged = try admission.admit(request, merge(old: old, new: input, target))
      try Validation.check(target.type, merged, old: old)
      FieldOwnership.recordUpdate(
        old: old, new: &merged, manager: manager, apiVersion: target.type.apiVersion,
        now: KubeTime.format(now), subresource: target.subresource)
      return merged
    }
    return .json(200, result, headers: warnings)
  }

  /// Unknown fields of a write to the object itself; a subresource's body is another kind.
  private func fieldsAdmitted(_ request: APIRequest, _ target: Target, _ object: Value)
    throws(APIError) -> (Value, [(String, String)])
  {
    guard target.subresource == nil else { return (object, []) }
    return try FieldValidation.admit(request, target.type, object)
  }

  /// Runs a read-modify-write on an existing object; honours dryRun; tells the controller.
  private func write(
    _ request: APIRequest, _ target: Target, name: String,
    _ transform: (Value) throws(APIError) -> Value
  ) throws(APIError) -> Value {
    if request.isDryRun {
      guard let old = store.get(target.type, namespace: target.namespace, name: name) else {
        throw APIError.notFound(target.type, name)
      }
      return try transform(old)
    }
    let (_, new) = try store.modify(target.type, namespace: target.namespace, name: name, now: now)
    {
      (old: Value?) throws(APIError) -> Value? in
      guard let old else { throw APIError.notFound(target.type, name) }
      return try transform(old)
    }
    guard let new else { throw APIError.notFound(target.type, name) }
    if target.type.isControlled { onWorkloadWrite(cluster, target.type, new) }
    return new
  }

  private func patch(_ request: APIRequest, _ target: Target, name: String) throws(APIError)
    -> APIResult
  {
    // Read before the store is locked for the write.
    let admission = customResources.admission(target.type)
    let kind = request.contentType
    guard APIError.patchMediaTypes.contains(kind) else {
      throw APIError.unsupportedMediaType(accepted: APIError.patchMediaTypes)
    }
    let patch = try body(request)
    if kind == "application/apply-patch+yaml" {
      return try apply(request, target, name: name, target.conversion?.stored(patch) ?? patch)
    }
    if target.subresource == "scale" {
      return try scaleUpdate(request, target, name: name) {
        (scale: Value) throws(APIError) -> Value? in
        try Self.applyPatch(kind, patch, to: scale).at("spec", "replicas")
      }
    }
    let manager = request.fieldManager ?? request.defaultManager
    var warnings: [(String, String)] = []
    let result = try write(request, target, name: name) { (old: Value) throws(APIError) -> Value in
      var patched = try patchedInStorage(kind, patch, old, target)
      try checkIdentity(patched, target, name: name)
      (patched, warnings) = try fieldsAdmitted(request, target, patched)
      try checkRevision(patched, against: old, target.type)
      var merged = try admission.admit(request, merge(old: old, new: patched, target))
      try Validation.check(target.type, merged, old: old)
      merged.set(["metadata", "resourceVersion"], old.at("metadata", "resourceVersion"))
      FieldOwnership.recordUpdate(
        old: old, new: &merged, manager: manager, apiVersion: target.type.apiVersion,
        now: KubeTime.format(now), subresource: target.subresource)
      return merged
    }
    return .json(200, result, headers: warnings)
  }

  /// A patch applies to the object as the path's version shows it.
  private func patchedInStorage(_ kind: String, _ patch: Value, _ old: Value, _ target: Target)
    throws(APIError) -> Value
  {
    guard let conversion = target.conversion else {
      return try Self.applyPatch(kind, patch, to: old)
    }
    return try conversion.stored(Self.applyPatch(kind, patch, to: conversion.toServed(old)))
  }

  private static func applyPatch(_ kind: String, _ patch: Value, to old: Value) throws(APIError)
    -> Value
  {
    do {
      switch kind {
      case "application/json-patch+json": return try JSONPatch.apply(patch, to: old)
      case "application/merge-patch+json":
        guard patch.mapping != nil else {
          throw PatchError.invalid("merge patch must be a JSON object")
        }
        return MergePatch.apply(patch, to: old)
      default:
        guard patch.mapping != nil else {
          throw PatchError.invalid("strategic merge patch must be a JSON object")
        }
        return try StrategicMergePatch.apply(patch, to: old)
      }
    } catch let PatchError.invalid(message) {
      throw APIError(code: 422, reason: "Invalid", message: message)
    } catch {
      throw APIError(code: 500, reason: "InternalError", message: "patch failed")
    }
  }

  private func apply(_ request: APIRequest, _ target: Target, name: String, _ applied: Value)
    throws(APIError) -> APIResult
  {
    // Read before the store is locked for the write.
    let admission = customResources.admission(target.type)
    guard let manager = request.fieldManager else {
      throw APIError(
        code: 422, reason: "Invalid",
        message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
          + "required for apply patch")
    }
    try checkIdentity(applied, target, name: name)
    guard applied["apiVersion"] != nil, applied["kind"] != nil else {
      throw APIError.badRequest("apiVersion and kind must be set in an applied configuration")
    }
    if target.subresource == nil {
      try FieldValidation.admitApplied(
        request, target.type, namespace: target.namespace, name: name, applied)
    }
    let force = request.query["force"] == "true"
    var created = false
    let stamp = KubeTime.format(now)
    func merged(_ old: Value?) throws(APIError) -> Value {
      if let old { try checkRevision(applied, against: old, target.type) }
      var input = applied
      input.set(["metadata", "resourceVersion"], nil)
      input.set(["metadata", "name"], .string(name))
      let result: Value
      do {
        result = try FieldOwnership.apply(
          input, to: old, manager: manager, force: force, apiVersion: target.type.apiVersion,
          now: stamp)
      } catch {
        var failure = APIError(code: 409, reason: "Conflict", message: error.message)
        failure.details = ["causes": .sequence(error.causes)]
        throw failure
      }
      guard let old else {
        var fresh = prepareNew(result, target)
        fresh.set(["metadata", "managedFields"], result.at("metadata", "managedFields"))
        fresh = try admission.admit(request, fresh)
        try Validation.check(target.type, fresh, old: nil)
        return fresh
      }
      var final = merge(old: old, new: result, target)
      final.set(["metadata", "managedFields"], result.at("metadata", "managedFields"))
      final = try admission.admit(request, final)
      try Validation.check(target.type, final, old: old)
      return final
    }
    let existing = store.get(target.type, namespace: target.namespace, name: name)
    if existing == nil {
      var fresh = applied
      fresh.set(["metadata", "namespace"], target.namespace.map { .string($0) })
      try ResourceQuotas.admit(store, target.type, fresh, name: name)
    }
    if request.isDryRun { return .json(200, try merged(existing)) }
    try validateName(target.type, name)
    let (_, new) = try store.modify(target.type, namespace: target.namespace, name: name, now: now)
    {
      (old: Value?) throws(APIError) -> Value? in
      created = old == nil
      return try merged(old)
    }
    guard let new else { throw APIError.notFound(target.type, name) }
    if target.type.isControlled { onWorkloadWrite(cluster, target.type, new) }
    if let namespace = target.namespace {
      ResourceQuotas.refresh(store, namespace: namespace, now: now)
    }
    return .json(created ? 201 : 200, new)
  }

  private func scale(of object: Value, _ type: ResourceType) -> Value {
    [
      "kind": "Scale", "apiVersion": "autoscaling/v1",
      "metadata": [
        "name": .string(object.name), "namespace": .string(object.namespace ?? ""),
        "uid": object.at("metadata", "uid") ?? .null,
        "resourceVersion": object.at("metadata", "resourceVersion") ?? .null,
        "creationTimestamp": object.at("metadata", "creationTimestamp") ?? .null,
      ],
      "spec": ["replicas": object.at("spec", "replicas") ?? 1],
      "status": [
        "replicas": object.at("status", "replicas") ?? 0,
        "selector": .string(
          (object.at("spec", "selector", "matchLabels")?.mapping ?? Mapping())
            .map { "\($0.key)=\($0.value.scalarText ?? "")" }.joined(separator: ",")),
      ],
    ]
  }

  private func scaleUpdate(
    _ request: APIRequest, _ target: Target, name: String,
    _ replicas: (Value) throws(APIError) -> Value?
  ) throws(APIError) -> APIResult {
    var specTarget = target
    specTarget.subresource = nil
    let result = try write(request, specTarget, name: name) {
      (old: Value) throws(APIError) -> Value in
      guard let wanted = try replicas(scale(of: old, target.type)), let count = wanted.int,
        count >= 0
      else {
        throw APIError.invalid(target.type, name, "spec.replicas", "Invalid value: must be >= 0")
      }
      var updated = old
      updated.set(["spec", "replicas"], .int(count))
      return merge(old: old, new: updated, specTarget)
    }
    return .json(200, scale(of: result, target.type))
  }

  private func delete(_ request: APIRequest, _ target: Target, name: String) throws(APIError)
    -> APIResult
  {
    guard let current = store.get(target.type, namespace: target.namespace, name: name) else {
      throw APIError.notFound(target.type, name)
    }
    if !request.body.isEmpty {
      let options = try body(request)
      if let policy = options["propagationPolicy"]?.string,
        !["Foreground", "Background", "Orphan"].contains(policy)
      {
        throw APIError(
          code: 422, reason: "Invalid",
          message:
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: "
            + "\"\(policy)\": supported values: \"Foreground\", \"Background\", \"Orphan\"")
      }
      if let wanted = options.at("preconditions", "resourceVersion")?.string,
        wanted != current.at("metadata", "resourceVersion")?.string
      {
        throw APIError.conflict(target.type, name)
      }
    }
    if request.isDryRun { return .json(200, current) }
    guard let deleted = store.delete(target.type, namespace: target.namespace, name: name) else {
      throw APIError.notFound(target.type, name)
    }
    // The controller collects the workload's pods, as the garbage collector would; a namespace
    // takes every controller's state for it along.
    if target.type.isControlled || target.type.kind == "Namespace" && target.type.group.isEmpty {
      onWorkloadWrite(cluster, target.type, deleted)
    }
    if target.type == CustomResources.definitionType {
      CRDController.removeInstances(of: deleted, store)
    }
    if let namespace = target.namespace {
      ResourceQuotas.refresh(store, namespace: namespace, now: now)
    }
    return .json(200, deleted)
  }

  private func deleteCollection(_ request: APIRequest, _ target: Target) throws(APIError)
    -> APIResult
  {
    let (filter, fields) = try filter(request, target)
    let (items, revision) = store.list(filter)
    var deleted: [Value] = []
    for item in items where Self.matchesFields(item, fields) {
      if request.isDryRun {
        deleted.append(item)
      } else if let gone = store.delete(target.type, namespace: item.namespace, name: item.name) {
        deleted.append(gone)
      }
    }
    for namespace in Set(deleted.compactMap(\.namespace)) {
      ResourceQuotas.refresh(store, namespace: namespace, now: now)
    }
    return .json(
      200,
      [
        "kind": .string(target.type.kind + "List"), "apiVersion": .string(target.type.apiVersion),
        "metadata": ["resourceVersion": .string(String(revision))], "items": .sequence(deleted),
      ])
  }
}
