// `fleetwave rbac` end to end: its output applied with the real kubectl to a TLS fleet-sim with
// RBAC, after which a ServiceAccount that could do nothing passes preflight and rolls out.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@Suite struct RbacCommandTests {
  let preflightFleet = PreflightCommandTests()

  /// A kubeconfig whose context per cluster authenticates with that cluster's `tokens` entry.
  func tokenKubeconfig(_ sim: KubeSim, tokens: [(cluster: String, token: String)]) throws
    -> String
  {
    let credentials = try #require(sim.server.credentials)
    let clusters = tokens.map { entry in
      """
      - name: \(entry.cluster)
        cluster:
          server: "\(sim.server.baseURL(for: entry.cluster, tls: true))"
          certificate-authority: "\(credentials.caCertificate)"
      """
    }
    let contexts = tokens.map {
      "- {name: \($0.cluster), context: {cluster: \($0.cluster), user: \($0.cluster)}}"
    }
    let users = tokens.map { "- name: \($0.cluster)\n  user: {token: \"\($0.token)\"}" }
    return try sim.directory.write(
      "token-kubeconfig",
      """
      apiVersion: v1
      kind: Config
      clusters:
      \(clusters.joined(separator: "\n"))
      contexts:
      \(contexts.joined(separator: "\n"))
      users:
      \(users.joined(separator: "\n"))
      current-context: \(tokens.first?.cluster ?? "")

      """)
  }

  func fleetwave(_ arguments: [String]) throws -> ProcessResult {
    try FleetwaveTestSupport.fleetwave(
      arguments, environment: ["FLEETWAVE_HELM": try #require(BuiltProducts.helm)], timeout: 180)
  }

  @Test func theGeneratedRbacIsExactlyWhatPreflightAndARolloutNeed() throws {
    let sim = try KubeSim(clusters: preflightFleet.clusters)
    let fleet = try preflightFleet.writeFleet(sim)
    var tokens: [(cluster: String, token: String)] = []
    for cluster in ["pf-a", "pf-b"] {
      try preflightFleet.kubectl(sim, cluster, ["create", "namespace", "ci"])
      try preflightFleet.kubectl(
        sim, cluster, ["create", "serviceaccount", "fleetwave-deployer", "-n", "ci"])
      let token = try preflightFleet.kubectl(
        sim, cluster, ["create", "token", "fleetwave-deployer", "-n", "ci"]
      ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
      tokens.append((cluster, token))
    }
    let deployer = try tokenKubeconfig(sim, tokens: tokens)
    let identity = "system:serviceaccount:ci:fleetwave-deployer"

    let denied = try fleetwave(["preflight", fleet, "--kubeconfig", deployer, "--cluster", "pf-a"])
    #expect(denied.status == 1)
    #expect(
      denied.stderr.hasPrefix(
        "pf-a: cannot get namespaces (as \(identity))\n"
          + "pf-a: cannot create configmaps in namespace shop (as \(identity))\n"),
      "\(denied.stderr)")

    let rbac = try fleetwave(["rbac", fleet, "--kubeconfig", sim.kubeconfig, "--namespace", "ci"])
    #expect(rbac.status == 0, "\(rbac.stderr)")
    #expect(rbac.stderr == "")
    let autoscalers = """
      - apiGroups:
        - autoscaling
        resources:
        - horizontalpodautoscalers
        verbs:
        - create
        - delete
        - get
        - patch

      """
    #expect(
      rbac.stdout
        == """
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: ci
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: fleetwave-deployer
          namespace: ci
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: fleetwave-deployer-checkout
          namespace: shop
        rules:
        - apiGroups:
          - ""
          resources:
          - configmaps
          - services
          verbs:
          - create
          - delete
          - get
          - patch
        - apiGroups:
          - ""
          resources:
          - secrets
          verbs:
          - create
          - list
          - patch
        - apiGroups:
          - ""
          resources:
          - resourcequotas
          verbs:
          - list
        - apiGroups:
          - apps
          resources:
          - deployments
          verbs:
          - create
          - delete
          - get
          - patch
        \(autoscalers)- apiGroups:
          - coordination.k8s.io
          resources:
          - leases
          verbs:
          - create
          - get
          - update
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: fleetwave-deployer-checkout
          namespace: shop
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: fleetwave-deployer-checkout
        subjects:
        - kind: ServiceAccount
          name: fleetwave-deployer
          namespace: ci
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: fleetwave-deployer-checkout
        rules:
        - apiGroups:
          - ""
          resources:
          - namespaces
          verbs:
          - get
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: fleetwave-deployer-checkout
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: fleetwave-deployer-checkout
        subjects:
        - kind: ServiceAccount
          name: fleetwave-deployer
          namespace: ci

        """
    )
    let list = try JSONReader.parse(
      try fleetwave([
        "rbac", fleet, "--kubeconfig", sim.kubeconfig, "-o", "json", "--namespace", "ci",
      ])
      .stdout)
    #expect(list["kind"] == "List")
    #expect(
      list["items"]?.sequence?.map { $0["kind"] }
        == [
          "Namespace", "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
          "ClusterRoleBinding",
        ])
    for cluster in ["pf-a", "pf-b"] {
      try preflightFleet.kubectl(sim, cluster, ["apply", "-f", "-"], input: rbac.stdout)
    }

    // QUOTA runs too: the stream grants the quota read preflight's headroom check needs.
    let allowed = try fleetwave(["preflight", fleet, "--kubeconfig", deployer])
    #expect(allowed.status == 0, "\(allowed.stderr)")
    #expect(
      allowed.stdout
        == """
        CLUSTER  IDENTITY                                     CONNECTION  KUBEVERSION  RENDER  PERMISSIONS  RELEASE  QUOTA  IMAGES
        pf-a     \(identity)  ok          ok           ok      ok           ok       ok     ok
        pf-b     \(identity)  ok          ok           ok      ok           ok       ok     ok

        """)
    let rollout = try fleetwave(["rollout", fleet, "--kubeconfig", deployer])
    #expect(rollout.status == 0, "\(rollout.stdout)\n\(rollout.stderr)")
    for cluster in ["pf-a", "pf-b"] {
      let live = try sim.deployment(cluster, namespace: "shop", name: "checkout")
      #expect(live?["metadata"]?["labels"]?["app.kubernetes.io/instance"] == "checkout")
    }

    // The issue's case: pf-b's Role loses the autoscalers; preflight names exactly that.
    try preflightFleet.kubectl(
      sim, "pf-b", ["apply", "-f", "-"],
      input: rbac.stdout.replacingOccurrences(of: autoscalers, with: ""))
    let missing = try fleetwave(["preflight", fleet, "--kubeconfig", deployer])
    #expect(missing.status == 1)
    #expect(
      missing.stderr
        == ["create", "delete", "get", "patch"].map {
          "pf-b: cannot \($0) horizontalpodautoscalers.autoscaling in namespace shop (as \(identity))\n"
        }.joined() + "preflight failed on 1 of 2 clusters\n")
  }
}
