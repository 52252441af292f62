// The `rollout:` section into FleetCore's RolloutPolicy, WaveSpec, CanarySpec, FailurePolicy and
// health-check specs, with every selector checked against the fleet's clusters.
import FleetCore
import Foundation

enum PolicyReader {
  static let policyKeys =
    [
      "canary", "waves", "growth", "maxParallel", "spreadBy", "maxPerDomain", "priorityLabel",
      "bake",
      "failurePolicy", "health", "waveHealth", "expectedDuration", "clusterTimeout",
    ] + unreachableKeys

  /// `onUnreachable` and its attempts and backoff, read for the fleet and for each wave.
  static let unreachableKeys = [
    "onUnreachable", "deferAttempts", "deferBackoff", "deferMaxBackoff",
  ]

  static func read(_ value: Value, clusters: [Cluster], _ diagnostics: inout Diagnostics)
    -> RolloutPolicy
  {
    var policy = RolloutPolicy()
    guard let fields = Fields.open(value, as: "rollout", allowed: policyKeys, &diagnostics) else {
      return policy
    }
    policy.unreachable = unreachable(fields, over: policy.unreachable, &diagnostics)
    if let value = fields["canary"] {
      policy.canary = canary(
        value, clusters: clusters, unreachable: policy.unreachable, &diagnostics)
    }
    if let value = fields["waves"] {
      policy.waves = waves(
        value, clusters: clusters, hasSpread: fields.has("spreadBy"),
        unreachable: policy.unreachable, &diagnostics)
    }
    if let value = fields["growth"] { policy.growth = growth(value, &diagnostics) }
    policy.maxParallel = fields.int("maxParallel", minimum: 1, &diagnostics) ?? policy.maxParallel
    policy.spreadBy = fields.text("spreadBy", &diagnostics)
    policy.maxPerDomain = fields.int("maxPerDomain", minimum: 1, &diagnostics)
    policy.priorityLabel = fields.text("priorityLabel", &diagnostics)
    policy.bake = fields.duration("bake", &diagnostics) ?? policy.bake
    if let value = fields["failurePolicy"] {
      policy.failurePolicy = failurePolicy(value, &diagnostics)
    }
    if let value = fields["health"] { policy.health = health(value, &diagnostics) }
    if let value = fields["waveHealth"] {
      // A wave gate checks every cluster of the wave at once, so it may name them all.
      policy.waveHealth = health(
        value, variables: TemplateVariables.names.union([ClusterTemplate.clustersVariable]),
        &diagnostics)
    }
    policy.expectedDuration =
      fields.duration("expectedDuration", &diagnostics) ?? policy.expectedDuration
    policy.clusterTimeout = fields.duration("clusterTimeout", &diagnostics) ?? policy.clusterTimeout
    if policy.maxPerDomain != nil, policy.spreadBy == nil {
      diagnostics.error(
        "'maxPerDomain' needs 'spreadBy' (the label that names a cluster's failure domain)",
        at: fields.keyMark("maxPerDomain"))
    }
    if let label = policy.spreadBy, !clusters.isEmpty,
      !clusters.contains(where: { $0.labels[label] != nil })
    {
      diagnostics.error(
        "spreadBy label '\(label)' is set on no cluster", at: fields.mark(of: "spreadBy"))
    }
    return policy
  }

  /// A selector that selects nothing is almost always a typo, so it is an error.
  private static func checkMatches(
    _ selector: LabelSelector, clusters: [Cluster], _ diagnostics: inout Diagnostics
  ) {
    guard !clusters.contains(where: { selector.matches($0.labels) }) else { return }
    diagnostics.error("selector '\(selector.text)' matches no cluster", at: selector.mark)
  }

  private static func canary(
    _ value: Value, clusters: [Cluster], unreachable fleetUnreachable: UnreachablePolicy,
    _ diagnostics: inout Diagnostics
  ) -> CanarySpec? {
    let allowed =
      ["selector", "count", "maxFailures", "bake", "approval", "oneDomainPerWave"]
      + unreachableKeys
    guard let fields = Fields.open(value, as: "rollout.canary", allowed: allowed, &diagnostics)
    else { return nil }
    let selector = fields.selector("selector", &diagnostics)
    if let selector { checkMatches(selector, clusters: clusters, &diagnostics) }
    let count = fields.int("count", minimum: 1, &diagnostics)
    if !fields.has("selector") && !fields.has("count") {
      diagnostics.error("rollout.canary needs 'selector' or 'count'", at: fields.mark)
    }
    var canary = CanarySpec(
      selector: selector, count: count,
      maxFailures: fields.failureLimit("maxFailures", &diagnostics) ?? .count(0),
      bake: fields.duration("bake", &diagnostics),
      approval: fields.bool("approval", &diagnostics) ?? false,
      oneDomainPerWave: fields.bool("oneDomainPerWave", &diagnostics) ?? false, mark: value.mark)
    if unreachableKeys.contains(where: fields.has) {
      canary.unreachable = unreachable(fields, over: fleetUnreachable, &diagnostics)
    }
    return canary
  }

  private static func waves(
    _ value: Value, clusters: [Cluster], hasSpread: Bool,
    unreachable fleetUnreachable: UnreachablePolicy,
    _ diagnostics: inout Diagnostics
  ) -> [WaveSpec] {
    guard let items = value.sequence else {
      diagnostics.error("'waves' must be a list of waves, found \(value.kindName)", at: value.mark)
      return []
    }
    let allowed =
      [
        "name", "selector", "percent", "count", "maxParallel", "maxPerDomain", "bake",
        "maxFailures",
        "approval",
      ] + unreachableKeys
    var waves: [WaveSpec] = []
    var names: [String: SourceMark?] = [:]
    for (index, item) in items.enumerated() {
      let what = item["name"]?.string.map { "wave '\($0)'" } ?? "wave \(index + 1)"
      guard let fields = Fields.open(item, as: what, allowed: allowed, &diagnostics) else {
        continue
      }
      let name = fields.text("name", &diagnostics) ?? "wave-\(index + 1)"
      if let first = names[name] {
        diagnostics.error(
          "duplicate wave name '\(name)'", at: fields.mark(of: "name"),
          notes: first.map { [.note("'\(name)' was first defined here", at: $0)] } ?? [])
      } else {
        names[name] = fields.mark(of: "name")
      }
      let given = ["selector", "percent", "count"].filter { fields.has($0) }
      if given.count > 1 {
        diagnostics.error(
          "\(what) has both '\(given[0])' and '\(given[1])'; a wave takes one of 'selector',"
            + " 'percent', 'count' (or none, for the rest of the fleet)",
          at: fields.keyMark(given[1]))
        continue
      }
      if fields.has("maxPerDomain"), !hasSpread {
        diagnostics.error(
          "'maxPerDomain' in \(what) needs rollout.spreadBy (the label that names a cluster's"
            + " failure domain)", at: fields.keyMark("maxPerDomain"))
      }
      var members = WaveSpec.Members.rest
      if let selector = fields.selector("selector", &diagnostics) {
        checkMatches(selector, clusters: clusters, &diagnostics)
        members = .selector(selector)
      } else if let percent = fields.percent("percent", &diagnostics) {
        members = .percent(percent)
      } else if let count = fields.int("count", minimum: 1, &diagnostics) {
        members = .count(count)
      }
      waves.append(
        WaveSpec(
          name: name, members: members,
          maxParallel: fields.int("maxParallel", minimum: 1, &diagnostics),
          maxPerDomain: fields.int("maxPerDomain", minimum: 1, &diagnostics),
          bake: fields.duration("bake", &diagnostics),
          maxFailures: fields.failureLimit("maxFailures", &diagnostics),
          approval: fields.bool("approval", &diagnostics) ?? false,
          unreachable: unreachableKeys.contains(where: fields.has)
            ? unreachable(fields, over: fleetUnreachable, &diagnostics) : nil,
          mark: item.mark))
    }
    return waves
  }

  /// `onUnreachable: fail | defer`, `deferAttempts`, `deferBackoff` and `deferMaxBackoff` in
  /// `fields`, over `base` (the defaults, or the fleet's for a wave): a key not given keeps
  /// the base's value.
  private static func unreachable(
    _ fields: Fields, over base: UnreachablePolicy, _ diagnostics: inout Diagnostics
  ) -> UnreachablePolicy {
    var policy = base
    if let action = choice("onUnreachable", in: fields, UnreachableAction.self, &diagnostics) {
      policy.action = action
    }
    policy.attempts = fields.int("deferAttempts", minimum: 1, &diagnostics) ?? policy.attempts
    for key in ["deferBackoff", "deferMaxBackoff"] {
      guard let duration = fields.duration(key, &diagnostics) else { continue }
      guard duration > .zero else {
        diagnostics.error(
          "'\(key)' in \(fields.what) must be longer than 0s, found \(DurationText.format(duration))",
          at: fields.mark(of: key))
        continue
      }
      if key == "deferBackoff" { policy.backoff = duration } else { policy.maxBackoff = duration }
    }
    if policy.maxBackoff < policy.backoff,
      let key = ["deferMaxBackoff", "deferBackoff"].first(where: fields.has)
    {
      diagnostics.error(
        "'deferMaxBackoff' (\(DurationText.format(policy.maxBackoff))) in \(fields.what) is shorter"
          + " than 'deferBackoff' (\(DurationText.format(policy.backoff)))",
        at: fields.mark(of: key))
    }
    return policy
  }

  private static func growth(_ value: Value, _ diagnostics: inout Diagnostics) -> WaveGrowth {
    var growth = WaveGrowth()
    let allowed = ["initial", "factor", "maxWaveSize"]
    guard let fields = Fields.open(value, as: "rollout.growth", allowed: allowed, &diagnostics)
    else { return growth }
    growth.initial = fields.int("initial", minimum: 1, &diagnostics) ?? growth.initial
    if let factor = fields.double("factor", &diagnostics) {
      if factor < 1 {
        diagnostics.error(
          "'factor' in rollout.growth must be at least 1, found \(Value.format(factor))",
          at: fields.mark(of: "factor"))
      } else {
        growth.factor = factor
      }
    }
    growth.maxWaveSize = fields.int("maxWaveSize", minimum: 1, &diagnostics)
    return growth
  }

  private static func failurePolicy(_ value: Value, _ diagnostics: inout Diagnostics)
    -> FailurePolicy
  {
    var policy = FailurePolicy()
    let allowed = ["maxFailuresPerWave", "maxFailuresTotal", "rollback", "inFlight"]
    guard
      let fields = Fields.open(value, as: "rollout.failurePolicy", allowed: allowed, &diagnostics)
    else { return policy }
    policy.maxFailuresPerWave =
      fields.failureLimit("maxFailuresPerWave", &diagnostics) ?? policy.maxFailuresPerWave
    policy.maxFailuresTotal = fields.failureLimit("maxFailuresTotal", &diagnostics)
    if let scope = choice("rollback", in: fields, RollbackScope.self, &diagnostics) {
      policy.rollback = scope
    }
    if let inFlight = choice("inFlight", in: fields, InFlightPolicy.self, &diagnostics) {
      policy.inFlight = inFlight
    }
    return policy
  }

  /// One of an enum's raw values, with a suggestion for a misspelling.
  static func choice<Choice: RawRepresentable & CaseIterable>(
    _ key: String, in fields: Fields, _ type: Choice.Type, _ diagnostics: inout Diagnostics
  ) -> Choice? where Choice.RawValue == String {
    guard let text = fields.text(key, &diagnostics) else { return nil }
    if let choice = Choice(rawValue: text) { return choice }
    let names = Choice.allCases.map(\.rawValue)
    var message = "invalid '\(key)' value '\(text)'"
    if let suggestion = Suggestion.closest(to: text, among: names) {
      message += "; did you mean '\(suggestion)'?"
    } else {
      message += "; expected one of " + names.joined(separator: ", ")
    }
    diagnostics.error(message, at: fields.mark(of: key))
    return nil
  }

  private static func health(
    _ value: Value, variables: Set<String> = TemplateVariables.names,
    _ diagnostics: inout Diagnostics
  ) -> [HealthCheckSpec] {
    guard let items = value.sequence else {
      diagnostics.error(
        "health checks must be a list, found \(value.kindName)", at: value.mark)
      return []
    }
    var checks: [HealthCheckSpec] = []
    var named: [String: SourceMark?] = [:]
    for item in items {
      let kinds = ["http", "prometheus", "command", "helmTest"]
      guard
        let fields = Fields.open(
          item, as: "a health check", allowed: kinds + ["name"], &diagnostics)
      else { continue }
      let name = gateName(fields, taken: &named, &diagnostics)
      let given = kinds.filter { fields.has($0) }
      guard given.count == 1, let kind = given.first, let body = fields[kind] else {
        diagnostics.error(
          "a health check needs exactly one of 'http', 'prometheus', 'command', 'helmTest'",
          at: item.mark)
        continue
      }
      let check: HealthCheckSpec?
      switch kind {
      case "http": check = http(body, variables, &diagnostics).map(HealthCheckSpec.http)
      case "prometheus":
        check = prometheus(body, variables, &diagnostics).map(HealthCheckSpec.prometheus)
      case "helmTest": check = helmTest(body, &diagnostics).map(HealthCheckSpec.helmTest)
      default: check = command(body, variables, &diagnostics).map(HealthCheckSpec.command)
      }
      if var check {
        check.rename(name)
        checks.append(check)
      }
    }
    return checks
  }

  /// A health check's `name:`, checked: label syntax (it appears in tables, logs and file
  /// names) and unique within its list (reports and the live view tell gates apart by it).
  private static func gateName(
    _ fields: Fields, taken: inout [String: SourceMark?], _ diagnostics: inout Diagnostics
  ) -> String? {
    guard fields.has("name"), let name = fields.text("name", &diagnostics) else { return nil }
    let mark = fields.mark(of: "name")
    if name.isEmpty {
      diagnostics.error("a health check's 'name' is empty", at: mark)
      return nil
    }
    if let why = LabelSyntax.problem(value: name) {
      diagnostics.error("invalid health check name '\(name)': it \(why)", at: mark)
      return nil
    }
    if let first = taken[name] {
      diagnostics.error(
        "duplicate health check name '\(name)'", at: mark,
        notes: first.map { [.note("'\(name)' was first defined here", at: $0)] } ?? [])
      return nil
    }
    taken[name] = mark
    return name
  }

  private static func template(
    _ fields: Fields, _ key: String, _ variables: Set<String>, sink: TemplateSink,
    _ diagnostics: inout Diagnostics
  ) -> String? {
    guard let text = fields.requiredText(key, &diagnostics), let value = fields[key] else {
      return nil
    }
    let problems = ClusterTemplate.check(
      text, variables: variables, mark: Fields.contentMark(of: value), sink: sink)
    diagnostics.append(contentsOf: problems)
    return problems.isEmpty ? text : nil
  }

  private static func http(
    _ value: Value, _ variables: Set<String>, _ diagnostics: inout Diagnostics
  ) -> HTTPProbeSpec? {
    let allowed = [
      "url", "expectStatus", "bodyContains", "jsonField", "jsonValue", "maxLatency", "successes",
      "interval", "timeout", "insecureSkipTLSVerify", "caFile",
    ]
    guard let fields = Fields.open(value, as: "http health check", allowed: allowed, &diagnostics)
    else { return nil }
    let url = template(fields, "url", variables, sink: .url, &diagnostics)
    if let url, !url.hasPrefix("http://"), !url.hasPrefix("https://") {
      diagnostics.error(
        "health check URL '\(url)' must start with http:// or https://", at: fields.mark(of: "url"))
    }
    var spec = HTTPProbeSpec(url: url ?? "", mark: value.mark)
    if let status = fields["expectStatus"] {
      if let range = statusRange(status) {
        spec.expectStatus = range
      } else {
        diagnostics.error(
          "invalid 'expectStatus' '\(status.scalarText ?? status.kindName)' (expected a status such"
            + " as 200 or a range such as 200-299)", at: status.mark)
      }
    }
    spec.bodyContains = fields.text("bodyContains", &diagnostics)
    spec.jsonField = fields.text("jsonField", &diagnostics)
    spec.jsonValue = fields.text("jsonValue", &diagnostics)
    if (spec.jsonField == nil) != (spec.jsonValue == nil) {
      diagnostics.error("'jsonField' and 'jsonValue' go together", at: fields.mark)
    }
    spec.maxLatency = fields.duration("maxLatency", &diagnostics)
    spec.successes = fields.int("successes", minimum: 1, &diagnostics) ?? spec.successes
    spec.interval = fields.duration("interval", &diagnostics) ?? spec.interval
    spec.timeout = fields.duration("timeout", &diagnostics) ?? spec.timeout
    spec.insecureSkipTLSVerify = fields.bool("insecureSkipTLSVerify", &diagnostics) ?? false
    spec.caFile = fields.text("caFile", &diagnostics)
    return url == nil ? nil : spec
  }

  static func statusRange(_ value: Value) -> ClosedRange<Int>? {
    if case .int(let i) = value.kind, (100...599).contains(i) { return Int(i)...Int(i) }
    guard let text = value.string else { return nil }
    let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let low = parts[0], let high = parts[1], 100 <= low, low <= high,
      high <= 599
    else { return nil }
    return low...high
  }

  private static func prometheus(
    _ value: Value, _ variables: Set<String>, _ diagnostics: inout Diagnostics
  )
    -> PrometheusAnalysisSpec?
  {
    let allowed = [
      "url", "query", "failIf", "successIf", "interval", "count", "failureLimit",
      "consecutiveErrorLimit", "initialDelay", "inconclusive",
    ]
    guard
      let fields = Fields.open(value, as: "prometheus health check", allowed: allowed, &diagnostics)
    else { return nil }
    let url = template(fields, "url", variables, sink: .url, &diagnostics)
    let query = template(fields, "query", variables, sink: .promql, &diagnostics)
    var verdict: PrometheusAnalysisSpec.Verdict?
    let given = ["failIf", "successIf"].filter { fields.has($0) }
    if given.count != 1 {
      diagnostics.error(
        "a prometheus health check needs exactly one of 'failIf', 'successIf'", at: fields.mark)
    } else if let key = given.first, let text = fields.text(key, &diagnostics) {
      if let condition = MetricCondition(parsing: text) {
        verdict = key == "failIf" ? .failIf(condition) : .successIf(condition)
      } else {
        diagnostics.error(
          "invalid condition '\(text)' for '\(key)' (expected a comparison such as '> 0.01')",
          at: fields.mark(of: key))
      }
    }
    var spec = PrometheusAnalysisSpec(
      url: url ?? "", query: query ?? "", verdict: verdict ?? .failIf(MetricCondition(.greater, 0)),
      mark: value.mark)
    spec.interval = fields.duration("interval", &diagnostics) ?? spec.interval
    spec.count = fields.int("count", minimum: 1, &diagnostics) ?? spec.count
    spec.failureLimit = fields.int("failureLimit", minimum: 0, &diagnostics) ?? spec.failureLimit
    spec.consecutiveErrorLimit =
      fields.int("consecutiveErrorLimit", minimum: 0, &diagnostics) ?? spec.consecutiveErrorLimit
    spec.initialDelay = fields.duration("initialDelay", &diagnostics) ?? spec.initialDelay
    if let inconclusive = choice(
      "inconclusive", in: fields, PrometheusAnalysisSpec.Inconclusive.self, &diagnostics)
    {
      spec.inconclusive = inconclusive
    }
    guard url != nil, query != nil, verdict != nil else { return nil }
    return spec
  }

  private static func command(
    _ value: Value, _ variables: Set<String>, _ diagnostics: inout Diagnostics
  ) -> CommandCheckSpec? {
    if let text = value.string {
      let problems = ClusterTemplate.check(
        text, variables: variables, mark: Fields.contentMark(of: value), sink: .shell)
      diagnostics.append(contentsOf: problems)
      return problems.isEmpty ? CommandCheckSpec(command: text, mark: value.mark) : nil
    }
    guard
      let fields = Fields.open(
        value, as: "command health check", allowed: ["run", "timeout"], &diagnostics)
    else { return nil }
    guard let run = template(fields, "run", variables, sink: .shell, &diagnostics) else {
      return nil
    }
    var spec = CommandCheckSpec(command: run, mark: value.mark)
    spec.timeout = fields.duration("timeout", &diagnostics) ?? spec.timeout
    return spec
  }

  /// `helmTest: {}` or `helmTest: {timeout: 2m}`.
  private static func helmTest(_ value: Value, _ diagnostics: inout Diagnostics) -> HelmTestSpec? {
    var spec = HelmTestSpec(mark: value.mark)
    if value.isNull { return spec }
    guard
      let fields = Fields.open(
        value, as: "helmTest health check", allowed: ["timeout"], &diagnostics)
    else { return nil }
    spec.timeout = fields.duration("timeout", &diagnostics) ?? spec.timeout
    return spec
  }
}
