// Identities, RBAC and the review APIs, driven by the real kubectl over TLS: `auth whoami`,
// `auth can-i`, `create token`, impersonation, and the API server's exact Forbidden messages.
import FleetCore
import FleetwaveTestSupport
import Foundation
import Testing

@testable import FleetSim

@Suite struct AuthorizationTests {
  /// A kubeconfig for sim-0001 of `sim` over TLS whose only credentials are `user` (the YAML
  /// of a kubeconfig user: a token, or a client certificate and key).
  private func kubeconfig(_ sim: SimFixture, name: String, namespace: String, user: String)
    throws -> String
  {
    let credentials = try #require(sim.server.credentials)
    return try sim.directory.write(
      name,
      """
      apiVersion: v1
      kind: Config
      clusters:
      - name: sim
        cluster:
          server: "\(sim.server.baseURL(for: "sim-0001"))"
          certificate-authority: "\(credentials.caCertificate)"
      contexts:
      - name: sim
        context: {cluster: sim, user: someone, namespace: \(namespace)}
      users:
      - name: someone
        user: \(user)
      current-context: sim

      """)
  }

  @Test func canIFollowsRoleBindingsAndForbiddenIsWordedAsTheServer() throws {
    let sim = try SimFixture(tls: true)
    let whoami = try sim.kubectl(["auth", "whoami"])
    #expect(
      whoami.stdout
        == "ATTRIBUTE   VALUE\nUsername    fleet-sim-admin\n"
        + "Groups      [system:masters system:authenticated]\n", "\(whoami.stderr)")
    for arguments in [
      ["create", "namespace", "ci"], ["create", "namespace", "pay"],
      ["create", "serviceaccount", "deployer", "-n", "ci"],
    ] {
      let created = try sim.kubectl(arguments)
      #expect(created.status == 0, "\(created.stderr)")
    }
    let deployer = "--as=system:serviceaccount:ci:deployer"

    let before = try sim.kubectl(["auth", "can-i", "list", "pods", "-n", "pay", deployer])
    #expect(before.stdout == "no\n")
    #expect(before.status == 1)
    let forbidden = try sim.kubectl(["get", "pods", "-n", "pay", deployer])
    #expect(forbidden.status == 1)
    #expect(
      forbidden.stderr
        == "Error from server (Forbidden): pods is forbidden: User "
        + "\"system:serviceaccount:ci:deployer\" cannot list resource \"pods\" in API group \"\" "
        + "in the namespace \"pay\"\n")

    for arguments in [
      ["create", "role", "pod-reader", "-n", "pay", "--verb=get,list", "--resource=pods"],
      [
        "create", "rolebinding", "deployer-reads", "-n", "pay", "--role=pod-reader",
        "--serviceaccount=ci:deployer",
      ],
    ] {
      let created = try sim.kubectl(arguments)
      #expect(created.status == 0, "\(created.stderr)")
    }
    let after = try sim.kubectl(["auth", "can-i", "list", "pods", "-n", "pay", deployer])
    #expect(after.stdout == "yes\n", "\(after.stderr)")
    #expect(after.status == 0)
    let listed = try sim.kubectl(["get", "pods", "-n", "pay", deployer])
    #expect(listed.stderr == "No resources found in pay namespace.\n")
    // The binding is in `pay`: nothing is granted elsewhere, nor for other verbs or subresources.
    let cases: [([String], String)] = [
      (["list", "pods", "-n", "ci"], "no\n"), (["delete", "pods", "-n", "pay"], "no\n"),
      (["get", "pods", "--subresource=log", "-n", "pay"], "no\n"),
      (["get", "pods", "-n", "pay"], "yes\n"),
      (["create", "selfsubjectaccessreviews.authorization.k8s.io"], "yes\n"),
      (["get", "/healthz"], "yes\n"), (["get", "/metrics"], "no\n"),
    ]
    for (arguments, answer) in cases {
      let checked = try sim.kubectl(["auth", "can-i"] + arguments + [deployer])
      #expect(checked.stdout == answer, "can-i \(arguments)")
    }

    // The admin may ask about anyone: the allowed answer names the binding that allows it.
    let review = """
      {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "system:serviceaccount:ci:deployer", "groups": ["system:serviceaccounts"],
        "resourceAttributes": {"namespace": "pay", "verb": "get", "resource": "pods"}}}
      """
    let answered = try sim.kubectl(
      ["create", "-f", "-", "-o", "jsonpath={.status.allowed} {.status.reason}"], input: review)
    #expect(
      answered.stdout
        == "true RBAC: allowed by RoleBinding \"deployer-reads/pay\" of Role \"pod-reader\" to "
        + "ServiceAccount \"deployer/ci\"", "\(answered.stderr)")
    let rules = try sim.kubectl(["auth", "can-i", "--list", "-n", "pay", deployer])
    let expectedRules = """
      Resources                                       Non-Resource URLs   Resource Names   Verbs
      selfsubjectreviews.authentication.k8s.io        []                  []               [create]
      selfsubjectaccessreviews.authorization.k8s.io   []                  []               [create]
      selfsubjectrulesreviews.authorization.k8s.io    []                  []               [create]
      pods                                            []                  []               [get list]

      """
    #expect(rules.stdout.hasPrefix(expectedRules), "\(rules.stdout)")
    #expect(rules.stdout.contains("[/version]          []               [get]\n"))
    // The admin's rules come from the cluster-admin binding of system:masters.
    func row(_ resource: String, _ urls: String, _ verbs: String) -> String {
      func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
      }
      return pad(resource, 48) + pad(urls, 20) + pad("[]", 17) + verbs + "\n"
    }
    let admin = try sim.kubectl(["auth", "can-i", "--list"]).stdout
    #expect(admin.contains(row("*.*", "[]", "[*]")), "\(admin)")
    #expect(admin.contains(row("", "[*]", "[*]")), "\(admin)")
  }

  @Test func createdTokensAuthenticateAsTheServiceAccountUntilItGoes() throws {
    let sim = try SimFixture(tls: true)
    for arguments in [
      ["create", "namespace", "ci"], ["create", "namespace", "pay"],
      ["create", "serviceaccount", "deployer", "-n", "ci"],
    ] {
      #expect(try sim.kubectl(arguments).status == 0)
    }
    let tooShort = try sim.kubectl(["create", "token", "deployer", "-n", "ci", "--duration=5m"])
    #expect(
      tooShort.stderr
        == "error: failed to create token: TokenRequest.authentication.k8s.io \"deployer\" is "
        + "invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less "
        + "than 10 minutes\n")
    let missing = try sim.kubectl(["create", "token", "nobody", "-n", "ci"])
    #expect(
      missing.stderr
        == "error: failed to create token: serviceaccounts \"nobody\" not found\n")

    let created = try sim.kubectl(["create", "token", "deployer", "-n", "ci"])
    #expect(created.status == 0, "\(created.stderr)")
    let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(token.split(separator: ".").count == 3)
    let config = try kubeconfig(
      sim, name: "deployer-kubeconfig", namespace: "pay", user: "{token: \"\(token)\"}")

    let uid = try sim.kubectl([
      "get", "serviceaccount", "deployer", "-n", "ci", "-o", "jsonpath={.metadata.uid}",
    ]).stdout
    let whoami = try sim.kubectl(["auth", "whoami", "-o", "json"], kubeconfig: config)
    let review = try #require(try JSONReader.parse(whoami.stdout), "\(whoami.stderr)")
    #expect(review["kind"] == "SelfSubjectReview")
    #expect(review.at("status", "userInfo", "username") == "system:serviceaccount:ci:deployer")
    #expect(review.at("status", "userInfo", "uid") == .string(uid))
    #expect(
      review.at("status", "userInfo", "groups")
        == ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"])

    let forbidden = try sim.kubectl(["get", "pods"], kubeconfig: config)
    #expect(
      forbidden.stderr
        == "Error from server (Forbidden): pods is forbidden: User "
        + "\"system:serviceaccount:ci:deployer\" cannot list resource \"pods\" in API group \"\" "
        + "in the namespace \"pay\"\n")
    // Impersonation needs the `impersonate` verb on the user asked for.
    let impersonating = try sim.kubectl(["get", "pods", "--as=jane"], kubeconfig: config)
    #expect(impersonating.status == 1)
    #expect(
      impersonating.stderr
        == "Error from server (Forbidden): users \"jane\" is forbidden: User "
        + "\"system:serviceaccount:ci:deployer\" cannot impersonate resource \"users\" in API "
        + "group \"\" at the cluster scope\n")
    let asAccount = try sim.kubectl(
      ["get", "pods", "--as=system:serviceaccount:pay:default"], kubeconfig: config)
    #expect(
      asAccount.stderr
        == "Error from server (Forbidden): serviceaccounts \"default\" is forbidden: User "
        + "\"system:serviceaccount:ci:deployer\" cannot impersonate resource \"serviceaccounts\" "
        + "in API group \"\" in the namespace \"pay\"\n")

    // `edit` in pay lets the ServiceAccount list pods and impersonate pay's ServiceAccounts.
    let bound = try sim.kubectl([
      "create", "rolebinding", "deployer-edits", "-n", "pay", "--clusterrole=edit",
      "--serviceaccount=ci:deployer",
    ])
    #expect(bound.status == 0, "\(bound.stderr)")
    #expect(
      try sim.kubectl(["get", "pods"], kubeconfig: config).stderr
        == "No resources found in pay namespace.\n")
    let whoIsIt = try sim.kubectl(
      ["auth", "whoami", "--as=system:serviceaccount:pay:default"], kubeconfig: config)
    #expect(
      whoIsIt.stdout
        == "ATTRIBUTE   VALUE\nUsername    system:serviceaccount:pay:default\n"
        + "Groups      [system:serviceaccounts system:serviceaccounts:pay system:authenticated]\n",
      "\(whoIsIt.stderr)")

    // kubectl will not send groups without a user; the server refuses them with a 500.
    let groupOnly = try sim.kubectl(["get", "pods", "--as-group=devs"], kubeconfig: config)
    #expect(
      groupOnly.stderr
        == "error: requesting uid, groups or user-extra for someone without impersonating a user\n")
    let sent = try HTTPExchange.send(
      "GET", sim.url("sim-0001", "/api/v1/namespaces/pay/pods"),
      headers: ["Impersonate-Group": "devs"])
    #expect(sent.status == 500)
    #expect(
      sent.json?["message"]
        == "Internal error occurred: requested [{Group  devs    }] without impersonating a user")

    // A token dies with its ServiceAccount.
    #expect(try sim.kubectl(["delete", "serviceaccount", "deployer", "-n", "ci"]).status == 0)
    let gone = try sim.kubectl(["get", "pods"], kubeconfig: config)
    #expect(gone.status == 1)
    #expect(gone.stderr.contains("error: You must be logged in to the server (Unauthorized)"))
  }

  @Test func aClientCertificateIsItsCNInItsOs() throws {
    let sim = try SimFixture(tls: true)
    let credentials = try #require(sim.server.credentials)
    // A second client certificate from the emulator's CA, as an administrator would issue one.
    let key = sim.directory.file("jane.key")
    let request = sim.directory.file("jane.csr")
    let certificate = sim.directory.file("jane.crt")
    for arguments in [
      [
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        key, "-out", request, "-subj", "/O=devs/O=ops/CN=jane",
      ],
      [
        "x509", "-req", "-in", request, "-CA", credentials.caCertificate, "-CAkey",
        credentials.directory + "/ca.key", "-CAcreateserial", "-out", certificate, "-days", "1",
      ],
    ] {
      let made = try runProcess("/usr/bin/env", ["openssl"] + arguments)
      #expect(made.status == 0, "\(made.stderr)")
    }
    let config = try kubeconfig(
      sim, name: "jane-kubeconfig", namespace: "default",
      user: "{client-certificate: \"\(certificate)\", client-key: \"\(key)\"}")
    let whoami = try sim.kubectl(["auth", "whoami"], kubeconfig: config)
    #expect(
      whoami.stdout
        == "ATTRIBUTE   VALUE\nUsername    jane\nGroups      [devs ops system:authenticated]\n",
      "\(whoami.stderr)")
    let forbidden = try sim.kubectl(["get", "namespaces"], kubeconfig: config)
    #expect(
      forbidden.stderr
        == "Error from server (Forbidden): namespaces is forbidden: User \"jane\" cannot list "
        + "resource \"namespaces\" in API group \"\" at the cluster scope\n")
    let granted = try sim.kubectl([
      "create", "clusterrolebinding", "ops-view", "--clusterrole=view", "--group=ops",
    ])
    #expect(granted.status == 0, "\(granted.stderr)")
    let listed = try sim.kubectl(["get", "namespace", "default", "-o", "name"], kubeconfig: config)
    #expect(listed.stdout == "namespace/default\n", "\(listed.stderr)")
    let secrets = try sim.kubectl(["auth", "can-i", "list", "secrets"], kubeconfig: config)
    #expect(secrets.stdout == "no\n")
  }

  @Test func clientCertificatesNameTheUserAndGroups() throws {
    let sim = try SimFixture(tls: true)
    let subject = CertificateSubject(commonName: "jane", organizations: ["devs", "ops"])
    #expect(
      subject.user == UserInfo(name: "jane", groups: ["devs", "ops", "system:authenticated"]))
    let request = APIRequest(method: "GET", uri: "/clusters/sim-0001/api", headers: [], body: [])
    let cluster = try #require(sim.server.cluster("sim-0001"))
    func user(_ request: APIRequest, subject: CertificateSubject?, tls: Bool) -> UserInfo? {
      Authentication.user(
        request, subject: subject, adminToken: "admin-token", requireCredentials: tls,
        cluster: cluster, tokens: sim.server.tokens, now: Date())
    }
    #expect(user(request, subject: subject, tls: true)?.name == "jane")
    #expect(user(request, subject: nil, tls: true) == nil)
    #expect(user(request, subject: nil, tls: false) == .admin)
    var withToken = request
    withToken.headers = [("Authorization", "Bearer admin-token")]
    #expect(user(withToken, subject: nil, tls: true) == .admin)
    withToken.headers = [("Authorization", "Bearer forged")]
    #expect(user(withToken, subject: nil, tls: false) == nil)
  }

  @Test func namespacesStartWithTheDefaultServiceAccountAndTheRootCA() throws {
    let sim = try SimFixture(tls: true)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    let names = try sim.kubectl(["get", "serviceaccounts,configmaps", "-n", "shop", "-o", "name"])
    #expect(names.stdout == "serviceaccount/default\nconfigmap/kube-root-ca.crt\n")
    let ca = try sim.kubectl([
      "get", "configmap", "kube-root-ca.crt", "-n", "kube-system", "-o",
      "jsonpath={.data.ca\\.crt}",
    ])
    let credentials = try #require(sim.server.credentials)
    #expect(ca.stdout == (try String(contentsOfFile: credentials.caCertificate, encoding: .utf8)))
    #expect(ca.stdout.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
    // A re-created namespace gets them again.
    #expect(try sim.kubectl(["delete", "namespace", "shop"]).status == 0)
    #expect(try sim.kubectl(["create", "namespace", "shop"]).status == 0)
    let again = try sim.kubectl(["get", "serviceaccount", "default", "-n", "shop", "-o", "name"])
    #expect(again.stdout == "serviceaccount/default\n")
  }
}

/// RBAC rule matching and role resolution, against a store, without a server.
@Suite struct RBACTests {
  private let store = ClusterStore(name: "c", labels: [:], now: Date(timeIntervalSince1970: 0))

  private func add(_ kind: String, _ object: Value) throws {
    let type = try #require(
      ResourceCatalog.find(
        apiVersion: kind == "Role" || kind == "RoleBinding" || kind.hasPrefix("Cluster")
          ? "rbac.authorization.k8s.io/v1" : "v1", kind: kind))
    _ = try store.create(type, object, now: Date(timeIntervalSince1970: 0))
  }

  private func ask(
    _ user: UserInfo, _ verb: String, _ resource: String, sub: String = "", group: String = "",
    namespace: String = "pay", name: String = "", path: String = ""
  ) -> RBAC.Decision {
    RBAC(store: store).authorize(
      RequestAttributes(
        user: user, verb: verb, isResourceRequest: path.isEmpty, path: path, namespace: namespace,
        apiGroup: group, resource: resource, subresource: sub, name: name))
  }

  private let jane = UserInfo(name: "jane", groups: ["devs", "system:authenticated"])

  @Test func rulesMatchVerbsGroupsSubresourcesNamesAndURLs() throws {
    try add(
      "Role",
      [
        "metadata": ["name": "logs", "namespace": "pay"],
        "rules": [
          ["verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]],
          [
            "verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments"],
            "resourceNames": ["web"],
          ],
          ["verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]],
        ],
      ])
    try add(
      "RoleBinding",
      [
        "metadata": ["name": "devs-logs", "namespace": "pay"],
        "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "logs"],
        "subjects": [["kind": "Group", "name": "devs"]],
      ])
    #expect(
      ask(jane, "get", "pods", sub: "log").reason
        == "RBAC: allowed by RoleBinding \"devs-logs/pay\" of Role \"logs\" to Group \"devs\"")
    #expect(!ask(jane, "get", "pods").allowed)
    #expect(!ask(jane, "get", "pods", sub: "log", namespace: "ci").allowed)
    #expect(ask(jane, "delete", "deployments", group: "apps", name: "web").allowed)
    #expect(!ask(jane, "delete", "deployments", group: "apps", name: "api").allowed)
    #expect(!ask(jane, "list", "deployments", group: "apps").allowed)
    #expect(ask(jane, "update", "statefulsets", sub: "scale", group: "apps").allowed)
    #expect(!ask(jane, "update", "statefulsets", group: "apps").allowed)
    // Every authenticated user may discover the API, and nothing more at the cluster scope.
    #expect(ask(jane, "get", "", namespace: "", path: "/apis/apps/v1").allowed)
    #expect(!ask(jane, "get", "", namespace: "", path: "/metrics").allowed)
    #expect(!ask(jane, "list", "namespaces", namespace: "").allowed)
  }

  @Test func missingRolesAreNamedInTheReasonAndAggregationGathersRules() throws {
    try add(
      "ClusterRoleBinding",
      [
        "metadata": ["name": "jane-ghost"],
        "roleRef": [
          "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ghost",
        ],
        "subjects": [["kind": "User", "name": "jane"]],
      ])
    let denied = ask(jane, "list", "pods")
    #expect(!denied.allowed)
    #expect(denied.reason == "RBAC: clusterrole.rbac.authorization.k8s.io \"ghost\" not found")
    #expect(
      APIError.forbidden(
        RequestAttributes(
          user: jane, verb: "list", isResourceRequest: true, path: "", namespace: "",
          apiGroup: "apps", resource: "deployments", subresource: "", name: ""),
        reason: denied.reason
      ).message
        == "deployments.apps is forbidden: User \"jane\" cannot list resource \"deployments\" in "
        + "API group \"apps\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "
        + "\"ghost\" not found")

    try add(
      "ClusterRole",
      [
        "metadata": ["name": "ghost"],
        "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["ghost": "true"]]]],
      ])
    try add(
      "ClusterRole",
      [
        "metadata": ["name": "ghost-pods", "labels": ["ghost": "true"]],
        "rules": [["verbs": ["list"], "apiGroups": [""], "resources": ["pods"]]],
      ])
    #expect(
      ask(jane, "list", "pods").reason
        == "RBAC: allowed by ClusterRoleBinding \"jane-ghost\" of ClusterRole \"ghost\" to User "
        + "\"jane\"")
    #expect(!ask(jane, "get", "pods").allowed)
  }
}
