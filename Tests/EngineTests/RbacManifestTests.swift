// The RBAC objects `fleetwave rbac` prints, from accesses as PermissionCheck derives them:
// a Role per namespace, a ClusterRole holding only the cluster-scoped accesses.
import FleetCore
import Testing

@testable import Engine

@Suite struct RbacManifestTests {
  func access(_ verbs: [String], _ group: String, _ resource: String, _ namespace: String?)
    -> [ResourceAccess]
  {
    verbs.map { ResourceAccess(verb: $0, group: group, resource: resource, namespace: namespace) }
  }

  @Test func aClusterScopedKindAndASecondNamespaceGetTheirOwnRules() {
    let object = ["create", "get", "patch", "delete"]
    let accesses =
      access(object, "", "configmaps", "shop") + access(object, "", "services", "shop")
      + access(object, "", "configmaps", "shop-jobs")
      + access(object, "scheduling.k8s.io", "priorityclasses", nil)
      + access(["get"], "", "namespaces", nil)
    let objects = RbacManifest.objects(
      accesses.sorted(), for: RbacSubject(serviceAccount: "deployer", namespace: "ci"),
      release: "checkout")

    let subjects: Value = [["kind": "ServiceAccount", "name": "deployer", "namespace": "ci"]]
    let verbs: Value = ["create", "delete", "get", "patch"]
    func role(_ namespace: String, _ resources: Value) -> [Value] {
      let metadata: Value = ["name": "deployer-checkout", "namespace": .string(namespace)]
      return [
        [
          "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata,
          "rules": [["apiGroups": [""], "resources": resources, "verbs": verbs]],
        ],
        [
          "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": metadata,
          "roleRef": [
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer-checkout",
          ],
          "subjects": subjects,
        ],
      ]
    }
    let expected: [Value] =
      ["ci", "shop", "shop-jobs"].map { name in
        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
      }
      + [
        [
          "apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": ["name": "deployer", "namespace": "ci"],
        ]
      ]
      + role("shop", ["configmaps", "services"]) + role("shop-jobs", ["configmaps"])
      + [
        [
          "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
          "metadata": ["name": "deployer-checkout"],
          "rules": [
            ["apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]],
            [
              "apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"],
              "verbs": verbs,
            ],
          ],
        ],
        [
          "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
          "metadata": ["name": "deployer-checkout"],
          "roleRef": [
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
            "name": "deployer-checkout",
          ],
          "subjects": subjects,
        ],
      ]
    #expect(objects == expected)
  }

  @Test func noClusterScopedAccessMeansNoClusterRole() {
    let objects = RbacManifest.objects(
      access(["get"], "", "configmaps", "shop"),
      for: RbacSubject(serviceAccount: "deployer", namespace: "shop"), release: "checkout")
    #expect(
      objects.map { $0["kind"] } == ["Namespace", "ServiceAccount", "Role", "RoleBinding"])
  }
}
