// Field tables for the protobuf messages fleet-sim decodes, one per message, with the field
// numbers of k8s.io/api's and k8s.io/apimachinery's generated.proto. A kind served later only
// needs its tables and a line in `kinds`.
import FleetCore

enum ProtobufSchemas {
  typealias F = ProtobufBody.Field

  /// The message for an enveloped object's type; DeleteOptions arrives under several versions.
  static func message(apiVersion: String, kind: String) -> ProtobufMessage? {
    kinds["\(apiVersion) \(kind)"] ?? kinds[kind]
  }

  static let kinds: [String: ProtobufMessage] = [
    "DeleteOptions": deleteOptions,
    "v1 Namespace": object(spec: [1: ("finalizers", .strings)]),
    "v1 ConfigMap": [
      1: ("metadata", .message(objectMeta)), 2: ("data", .stringMap),
      3: ("binaryData", .bytesMap), 4: ("immutable", .optionalBool),
    ],
    "v1 Secret": [
      1: ("metadata", .message(objectMeta)), 2: ("data", .bytesMap), 3: ("type", .string),
      4: ("stringData", .stringMap), 5: ("immutable", .optionalBool),
    ],
    "v1 ServiceAccount": [
      1: ("metadata", .message(objectMeta)), 2: ("secrets", .messages(objectReference)),
      3: ("imagePullSecrets", .messages(localObjectReference)),
      4: ("automountServiceAccountToken", .optionalBool),
    ],
    "v1 Service": object(spec: serviceSpec),
    "v1 Pod": object(spec: podSpec),
    "v1 Event": [
      1: ("metadata", .message(objectMeta)), 2: ("involvedObject", .message(objectReference)),
      3: ("reason", .string), 4: ("message", .string),
      5: ("source", .message([1: ("component", .string), 2: ("host", .string)])),
      6: ("firstTimestamp", .time), 7: ("lastTimestamp", .time), 8: ("count", .int),
      9: ("type", .string), 10: ("eventTime", .time), 12: ("action", .string),
      13: ("related", .message(objectReference)), 14: ("reportingComponent", .string),
      15: ("reportingInstance", .string),
    ],
    "v1 Endpoints": [
      1: ("metadata", .message(objectMeta)),
      2: (
        "subsets",
        .messages([
          1: ("addresses", .messages(endpointAddress)),
          2: ("notReadyAddresses", .messages(endpointAddress)),
          3: (
            "ports",
            .messages([
              1: ("name", .string), 2: ("port", .int), 3: ("protocol", .string),
              4: ("appProtocol", .optionalString),
            ])
          ),
        ])
      ),
    ],
    "v1 PersistentVolumeClaim": object(spec: persistentVolumeClaimSpec),
    "v1 Node": object(spec: [
      1: ("podCIDR", .string), 7: ("podCIDRs", .strings), 3: ("providerID", .string),
      4: ("unschedulable", .bool),
      5: (
        "taints",
        .messages([
          1: ("key", .string), 2: ("value", .string), 3: ("effect", .string),
          4: ("timeAdded", .time),
        ])
      ),
    ]),
    "apps/v1 Deployment": object(spec: [
      1: ("replicas", .optionalInt), 2: ("selector", .message(labelSelector)),
      3: ("template", .message(podTemplateSpec)),
      4: (
        "strategy",
        .message([
          1: ("type", .string),
          2: (
            "rollingUpdate",
            .message([1: ("maxUnavailable", .intOrString), 2: ("maxSurge", .intOrString)])
          ),
        ])
      ),
      5: ("minReadySeconds", .int), 6: ("revisionHistoryLimit", .optionalInt),
      7: ("paused", .bool), 9: ("progressDeadlineSeconds", .optionalInt),
    ]),
    "apps/v1 StatefulSet": object(spec: [
      1: ("replicas", .optionalInt), 2: ("selector", .message(labelSelector)),
      3: ("template", .message(podTemplateSpec)),
      4: ("volumeClaimTemplates", .messages(object(spec: persistentVolumeClaimSpec))),
      5: ("serviceName", .string), 6: ("podManagementPolicy", .string),
      7: (
        "updateStrategy",
        .message([
          1: ("type", .string),
          2: (
            "rollingUpdate",
            .message([1: ("partition", .optionalInt), 2: ("maxUnavailable", .intOrString)])
          ),
        ])
      ),
      8: ("revisionHistoryLimit", .optionalInt), 9: ("minReadySeconds", .int),
      10: ("persistentVolumeClaimRetentionPolicy", .ignored), 11: ("ordinals", .ignored),
    ]),
    "apps/v1 DaemonSet": object(spec: [
      1: ("selector", .message(labelSelector)), 2: ("template", .message(podTemplateSpec)),
      3: (
        "updateStrategy",
        .message([
          1: ("type", .string),
          2: (
            "rollingUpdate",
            .message([1: ("maxUnavailable", .intOrString), 2: ("maxSurge", .intOrString)])
          ),
        ])
      ),
      4: ("minReadySeconds", .int), 6: ("revisionHistoryLimit", .optionalInt),
    ]),
    "apps/v1 ReplicaSet": object(spec: [
      1: ("replicas", .optionalInt), 2: ("selector", .message(labelSelector)),
      3: ("template", .message(podTemplateSpec)), 4: ("minReadySeconds", .int),
    ]),
    "batch/v1 Job": object(spec: jobSpec),
    "batch/v1 CronJob": object(spec: [
      1: ("schedule", .string), 8: ("timeZone", .optionalString),
      2: ("startingDeadlineSeconds", .optionalInt), 3: ("concurrencyPolicy", .string),
      4: ("suspend", .optionalBool),
      5: (
        "jobTemplate",
        .message([1: ("metadata", .message(objectMeta)), 2: ("spec", .message(jobSpec))])
      ),
      6: ("successfulJobsHistoryLimit", .optionalInt), 7: ("failedJobsHistoryLimit", .optionalInt),
    ]),
    "coordination.k8s.io/v1 Lease": [
      1: ("metadata", .message(objectMeta)),
      2: (
        "spec",
        .message([
          1: ("holderIdentity", .optionalString), 2: ("leaseDurationSeconds", .optionalInt),
          3: ("acquireTime", .time), 4: ("renewTime", .time), 5: ("leaseTransitions", .optionalInt),
        ])
      ),
    ],
    "events.k8s.io/v1 Event": [
      1: ("metadata", .message(objectMeta)), 2: ("eventTime", .time),
      4: ("reportingController", .string), 5: ("reportingInstance", .string),
      6: ("action", .string), 7: ("reason", .string), 8: ("regarding", .message(objectReference)),
      9: ("related", .message(objectReference)), 10: ("note", .string), 11: ("type", .string),
      13: ("deprecatedFirstTimestamp", .time), 14: ("deprecatedLastTimestamp", .time),
      15: ("deprecatedCount", .int),
    ],
    "networking.k8s.io/v1 Ingress": object(spec: [
      4: ("ingressClassName", .optionalString), 1: ("defaultBackend", .message(ingressBackend)),
      2: ("tls", .messages([1: ("hosts", .strings), 2: ("secretName", .string)])),
      3: (
        "rules",
        .messages([
          1: ("host", .string),
          // IngressRuleValue is embedded: `http` sits directly in the rule.
          2: (
            "ingressRuleValue",
            .inline([
              1: (
                "http",
                .message([
                  1: (
                    "paths",
                    .messages([
                      1: ("path", .string), 3: ("pathType", .optionalString),
                      2: ("backend", .message(ingressBackend)),
                    ])
                  )
                ])
              )
            ])
          ),
        ])
      ),
    ]),
    "networking.k8s.io/v1 NetworkPolicy": object(spec: [
      1: ("podSelector", .message(labelSelector)),
      2: (
        "ingress",
        .messages([
          1: ("ports", .messages(networkPolicyPort)), 2: ("from", .messages(networkPolicyPeer)),
        ])
      ),
      3: (
        "egress",
        .messages([
          1: ("ports", .messages(networkPolicyPort)), 2: ("to", .messages(networkPolicyPeer)),
        ])
      ),
      4: ("policyTypes", .strings),
    ]),
    "policy/v1 PodDisruptionBudget": object(spec: [
      1: ("minAvailable", .intOrString), 2: ("selector", .message(labelSelector)),
      3: ("maxUnavailable", .intOrString), 4: ("unhealthyPodEvictionPolicy", .optionalString),
    ]),
    "autoscaling/v1 HorizontalPodAutoscaler": object(spec: [
      1: ("scaleTargetRef", .message(crossVersionObjectReference)),
      2: ("minReplicas", .optionalInt), 3: ("maxReplicas", .int),
      4: ("targetCPUUtilizationPercentage", .optionalInt),
    ]),
    "autoscaling/v2 HorizontalPodAutoscaler": object(spec: [
      1: ("scaleTargetRef", .message(crossVersionObjectReference)),
      2: ("minReplicas", .optionalInt), 3: ("maxReplicas", .int),
      4: (
        "metrics",
        .messages([
          1: ("type", .string), 2: ("object", .ignored), 3: ("pods", .ignored),
          5: ("external", .ignored), 7: ("containerResource", .ignored),
          4: (
            "resource",
            .message([
              1: ("name", .string),
              2: (
                "target",
                .message([
                  1: ("type", .string), 2: ("value", .quantity), 3: ("averageValue", .quantity),
                  4: ("averageUtilization", .optionalInt),
                ])
              ),
            ])
          ),
        ])
      ),
      5: ("behavior", .ignored),
    ]),
    "rbac.authorization.k8s.io/v1 Role": [
      1: ("metadata", .message(objectMeta)), 2: ("rules", .messages(policyRule)),
    ],
    "rbac.authorization.k8s.io/v1 ClusterRole": [
      1: ("metadata", .message(objectMeta)), 2: ("rules", .messages(policyRule)),
      3: ("aggregationRule", .message([1: ("clusterRoleSelectors", .messages(labelSelector))])),
    ],
    "v1 ResourceQuota": object(spec: [
      1: ("hard", .quantityMap), 2: ("scopes", .strings), 3: ("scopeSelector", .ignored),
    ]),
    "authentication.k8s.io/v1 TokenRequest": object(spec: [
      1: ("audiences", .strings), 4: ("expirationSeconds", .optionalInt),
      3: (
        "boundObjectRef",
        .message([
          1: ("kind", .string), 2: ("apiVersion", .string), 3: ("name", .string),
          4: ("uid", .string),
        ])
      ),
    ]),
    "authentication.k8s.io/v1 SelfSubjectReview": [
      1: ("metadata", .message(objectMeta)), 2: ("status", .ignored),
    ],
    "authentication.k8s.io/v1 TokenReview": object(spec: [
      1: ("token", .string), 2: ("audiences", .strings),
    ]),
    "authorization.k8s.io/v1 SelfSubjectAccessReview": object(spec: [
      1: ("resourceAttributes", .message(resourceAttributes)),
      2: ("nonResourceAttributes", .message(nonResourceAttributes)),
    ]),
    "authorization.k8s.io/v1 SubjectAccessReview": object(spec: [
      1: ("resourceAttributes", .message(resourceAttributes)),
      2: ("nonResourceAttributes", .message(nonResourceAttributes)), 3: ("user", .string),
      4: ("groups", .strings), 5: ("extra", .ignored), 6: ("uid", .string),
    ]),
    "authorization.k8s.io/v1 SelfSubjectRulesReview": object(spec: [1: ("namespace", .string)]),
    "rbac.authorization.k8s.io/v1 RoleBinding": roleBinding,
    "rbac.authorization.k8s.io/v1 ClusterRoleBinding": roleBinding,
  ]

  /// metadata=1, spec=2, status=3: the shape of most kinds. The server keeps its own status.
  static func object(spec: ProtobufMessage) -> ProtobufMessage {
    [1: ("metadata", .message(objectMeta)), 2: ("spec", .message(spec)), 3: ("status", .ignored)]
  }

  // MARK: meta/v1

  static let objectMeta: ProtobufMessage = [
    1: ("name", .string), 2: ("generateName", .string), 3: ("namespace", .string),
    4: ("selfLink", .ignored), 5: ("uid", .string), 6: ("resourceVersion", .string),
    7: ("generation", .int), 8: ("creationTimestamp", .time), 9: ("deletionTimestamp", .ignored),
    10: ("deletionGracePeriodSeconds", .ignored), 11: ("labels", .stringMap),
    12: ("annotations", .stringMap), 13: ("ownerReferences", .messages(ownerReference)),
    14: ("finalizers", .strings), 17: ("managedFields", .ignored),
  ]

  static let ownerReference: ProtobufMessage = [
    5: ("apiVersion", .string), 1: ("kind", .string), 3: ("name", .string), 4: ("uid", .string),
    6: ("controller", .optionalBool), 7: ("blockOwnerDeletion", .optionalBool),
  ]

  static let labelSelector: ProtobufMessage = [
    1: ("matchLabels", .stringMap),
    2: (
      "matchExpressions",
      .messages([1: ("key", .string), 2: ("operator", .string), 3: ("values", .strings)])
    ),
  ]

  static let deleteOptions: ProtobufMessage = [
    1: ("gracePeriodSeconds", .optionalInt),
    2: (
      "preconditions",
      .message([1: ("uid", .optionalString), 2: ("resourceVersion", .optionalString)])
    ),
    3: ("orphanDependents", .optionalBool), 4: ("propagationPolicy", .optionalString),
    5: ("dryRun", .strings),
  ]

  // MARK: core/v1

  static let objectReference: ProtobufMessage = [
    1: ("kind", .string), 2: ("namespace", .string), 3: ("name", .string), 4: ("uid", .string),
    5: ("apiVersion", .string), 6: ("resourceVersion", .string), 7: ("fieldPath", .string),
  ]

  static let localObjectReference: ProtobufMessage = [1: ("name", .string)]

  static let endpointAddress: ProtobufMessage = [
    1: ("ip", .string), 3: ("hostname", .string), 4: ("nodeName", .optionalString),
    2: ("targetRef", .message(objectReference)),
  ]

  static let serviceSpec: ProtobufMessage = [
    1: (
      "ports",
      .messages([
        1: ("name", .string), 2: ("protocol", .string), 6: ("appProtocol", .optionalString),
        3: ("port", .int), 4: ("targetPort", .intOrString), 5: ("nodePort", .int),
      ])
    ),
    2: ("selector", .stringMap), 3: ("clusterIP", .string), 18: ("clusterIPs", .strings),
    4: ("type", .string), 5: ("externalIPs", .strings), 7: ("sessionAffinity", .string),
    8: ("loadBalancerIP", .string), 9: ("loadBalancerSourceRanges", .strings),
    10: ("externalName", .string), 11: ("externalTrafficPolicy", .string),
    12: ("healthCheckNodePort", .int), 13: ("publishNotReadyAddresses", .bool),
    19: ("ipFamilies", .strings), 17: ("ipFamilyPolicy", .optionalString),
    20: ("allocateLoadBalancerNodePorts", .optionalBool),
    21: ("loadBalancerClass", .optionalString), 22: ("internalTrafficPolicy", .optionalString),
    14: ("sessionAffinityConfig", .ignored), 23: ("trafficDistribution", .optionalString),
  ]

  static let persistentVolumeClaimSpec: ProtobufMessage = [
    1: ("accessModes", .strings), 4: ("selector", .message(labelSelector)),
    2: ("resources", .message(resourceRequirements)), 3: ("volumeName", .string),
    5: ("storageClassName", .optionalString), 6: ("volumeMode", .optionalString),
    7: ("dataSource", .ignored), 8: ("dataSourceRef", .ignored),
    9: ("volumeAttributesClassName", .optionalString),
  ]

  static let resourceRequirements: ProtobufMessage = [
    1: ("limits", .quantityMap), 2: ("requests", .quantityMap), 3: ("claims", .ignored),
  ]

  static let podTemplateSpec: ProtobufMessage = [
    1: ("metadata", .message(objectMeta)), 2: ("spec", .message(podSpec)),
  ]

  static let jobSpec: ProtobufMessage = [
    1: ("parallelism", .optionalInt), 2: ("completions", .optionalInt),
    3: ("activeDeadlineSeconds", .optionalInt), 7: ("backoffLimit", .optionalInt),
    4: ("selector", .message(labelSelector)), 5: ("manualSelector", .optionalBool),
    6: ("template", .message(podTemplateSpec)), 8: ("ttlSecondsAfterFinished", .optionalInt),
    9: ("completionMode", .optionalString), 10: ("suspend", .optionalBool),
    11: ("podFailurePolicy", .ignored), 16: ("successPolicy", .ignored),
    12: ("backoffLimitPerIndex", .optionalInt), 13: ("maxFailedIndexes", .optionalInt),
    14: ("podReplacementPolicy", .optionalString), 15: ("managedBy", .optionalString),
  ]

  static let podSpec: ProtobufMessage = [
    1: ("volumes", .messages(volume)), 20: ("initContainers", .messages(container)),
    2: ("containers", .messages(container)), 3: ("restartPolicy", .string),
    4: ("terminationGracePeriodSeconds", .optionalInt),
    5: ("activeDeadlineSeconds", .optionalInt), 6: ("dnsPolicy", .string),
    7: ("nodeSelector", .stringMap), 8: ("serviceAccountName", .string),
    9: ("serviceAccount", .string), 21: ("automountServiceAccountToken", .optionalBool),
    10: ("nodeName", .string), 11: ("hostNetwork", .bool), 12: ("hostPID", .bool),
    13: ("hostIPC", .bool), 27: ("shareProcessNamespace", .optionalBool),
    14: ("securityContext", .message(podSecurityContext)),
    15: ("imagePullSecrets", .messages(localObjectReference)), 16: ("hostname", .string),
    17: ("subdomain", .string), 19: ("schedulerName", .string),
    22: (
      "tolerations",
      .messages([
        1: ("key", .string), 2: ("operator", .string), 3: ("value", .string),
        4: ("effect", .string), 5: ("tolerationSeconds", .optionalInt),
      ])
    ),
    24: ("priorityClassName", .string), 25: ("priority", .optionalInt),
    29: ("runtimeClassName", .optionalString), 30: ("enableServiceLinks", .optionalBool),
    // Kept as sent in JSON, not modelled field by field (dropped from protobuf bodies).
    34: ("ephemeralContainers", .ignored), 18: ("affinity", .ignored),
    23: ("hostAliases", .ignored), 26: ("dnsConfig", .ignored), 28: ("readinessGates", .ignored),
    31: ("preemptionPolicy", .optionalString), 32: ("overhead", .quantityMap),
    33: ("topologySpreadConstraints", .ignored), 35: ("setHostnameAsFQDN", .optionalBool),
    36: ("os", .ignored), 37: ("hostUsers", .optionalBool), 38: ("schedulingGates", .ignored),
    39: ("resourceClaims", .ignored), 40: ("resources", .message(resourceRequirements)),
    41: ("hostnameOverride", .optionalString),
  ]

  static let container: ProtobufMessage = [
    1: ("name", .string), 2: ("image", .string), 3: ("command", .strings), 4: ("args", .strings),
    5: ("workingDir", .string),
    6: (
      "ports",
      .messages([
        1: ("name", .string), 2: ("hostPort", .int), 3: ("containerPort", .int),
        4: ("protocol", .string), 5: ("hostIP", .string),
      ])
    ),
    19: (
      "envFrom",
      .messages([
        1: ("prefix", .string),
        2: (
          "configMapRef",
          .message([
            1: ("localObjectReference", .inline(localObjectReference)),
            2: ("optional", .optionalBool),
          ])
        ),
        3: (
          "secretRef",
          .message([
            1: ("localObjectReference", .inline(localObjectReference)),
            2: ("optional", .optionalBool),
          ])
        ),
      ])
    ),
    7: (
      "env",
      .messages([
        1: ("name", .string), 2: ("value", .string), 3: ("valueFrom", .message(envVarSource)),
      ])
    ),
    8: ("resources", .message(resourceRequirements)),
    9: (
      "volumeMounts",
      .messages([
        1: ("name", .string), 2: ("readOnly", .bool), 3: ("mountPath", .string),
        4: ("subPath", .string), 5: ("mountPropagation", .optionalString),
        6: ("subPathExpr", .string), 7: ("recursiveReadOnly", .optionalString),
      ])
    ),
    10: ("livenessProbe", .message(probe)), 11: ("readinessProbe", .message(probe)),
    22: ("startupProbe", .message(probe)), 13: ("terminationMessagePath", .string),
    20: ("terminationMessagePolicy", .string), 14: ("imagePullPolicy", .string),
    15: ("securityContext", .message(securityContext)), 16: ("stdin", .bool),
    17: ("stdinOnce", .bool), 18: ("tty", .bool), 12: ("lifecycle", .ignored),
    21: ("volumeDevices", .ignored), 23: ("resizePolicy", .ignored),
    24: ("restartPolicy", .optionalString), 25: ("restartPolicyRules", .ignored),
  ]

  static let keySelector: ProtobufMessage = [
    1: ("localObjectReference", .inline(localObjectReference)), 2: ("key", .string),
    3: ("optional", .optionalBool),
  ]

  static let envVarSource: ProtobufMessage = [
    1: ("fieldRef", .message([1: ("apiVersion", .string), 2: ("fieldPath", .string)])),
    3: ("configMapKeyRef", .message(keySelector)), 4: ("secretKeyRef", .message(keySelector)),
    2: ("resourceFieldRef", .ignored),
  ]

  static let probe: ProtobufMessage = [
    // ProbeHandler is embedded: `httpGet` and friends sit directly in the probe.
    1: (
      "handler",
      .inline([
        1: ("exec", .message([1: ("command", .strings)])),
        2: (
          "httpGet",
          .message([
            1: ("path", .string), 2: ("port", .intOrString), 3: ("host", .string),
            4: ("scheme", .string), 5: ("httpHeaders", .ignored),
          ])
        ),
        3: ("tcpSocket", .message([1: ("port", .intOrString), 2: ("host", .string)])),
        4: ("grpc", .ignored),
      ])
    ),
    2: ("initialDelaySeconds", .int), 3: ("timeoutSeconds", .int), 4: ("periodSeconds", .int),
    5: ("successThreshold", .int), 6: ("failureThreshold", .int),
    7: ("terminationGracePeriodSeconds", .optionalInt),
  ]

  static let securityContext: ProtobufMessage = [
    1: ("capabilities", .message([1: ("add", .strings), 2: ("drop", .strings)])),
    2: ("privileged", .optionalBool), 4: ("runAsUser", .optionalInt),
    8: ("runAsGroup", .optionalInt), 5: ("runAsNonRoot", .optionalBool),
    6: ("readOnlyRootFilesystem", .optionalBool), 7: ("allowPrivilegeEscalation", .optionalBool),
    3: ("seLinuxOptions", .ignored), 10: ("windowsOptions", .ignored),
    9: ("procMount", .optionalString), 11: ("seccompProfile", .ignored),
    12: ("appArmorProfile", .ignored),
  ]

  static let podSecurityContext: ProtobufMessage = [
    2: ("runAsUser", .optionalInt), 6: ("runAsGroup", .optionalInt),
    3: ("runAsNonRoot", .optionalBool), 4: ("supplementalGroups", .ints),
    5: ("fsGroup", .optionalInt), 1: ("seLinuxOptions", .ignored), 8: ("windowsOptions", .ignored),
    12: ("supplementalGroupsPolicy", .optionalString), 7: ("sysctls", .ignored),
    9: ("fsGroupChangePolicy", .optionalString), 10: ("seccompProfile", .ignored),
    11: ("appArmorProfile", .ignored), 13: ("seLinuxChangePolicy", .optionalString),
  ]

  static let keyToPath: ProtobufMessage = [
    1: ("key", .string), 2: ("path", .string), 3: ("mode", .optionalInt),
  ]

  static let volume: ProtobufMessage = [
    1: ("name", .string),
    // VolumeSource is embedded: `configMap` and friends sit directly in the volume.
    2: (
      "volumeSource",
      .inline([
        2: ("emptyDir", .message([1: ("medium", .string), 2: ("sizeLimit", .quantity)])),
        1: ("hostPath", .ignored), 7: ("nfs", .ignored), 16: ("downwardAPI", .ignored),
        26: ("projected", .ignored), 28: ("csi", .ignored), 29: ("ephemeral", .ignored),
        30: ("image", .ignored),
        6: (
          "secret",
          .message([
            1: ("secretName", .string), 2: ("items", .messages(keyToPath)),
            3: ("defaultMode", .optionalInt), 4: ("optional", .optionalBool),
          ])
        ),
        10: (
          "persistentVolumeClaim", .message([1: ("claimName", .string), 2: ("readOnly", .bool)])
        ),
        19: (
          "configMap",
          .message([
            1: ("localObjectReference", .inline(localObjectReference)),
            2: ("items", .messages(keyToPath)), 3: ("defaultMode", .optionalInt),
            4: ("optional", .optionalBool),
          ])
        ),
      ])
    ),
  ]

  // MARK: other groups

  static let ingressBackend: ProtobufMessage = [
    3: ("resource", .ignored),
    4: (
      "service",
      .message([
        1: ("name", .string), 2: ("port", .message([1: ("name", .string), 2: ("number", .int)])),
      ])
    ),
  ]

  static let networkPolicyPort: ProtobufMessage = [
    1: ("protocol", .optionalString), 2: ("port", .intOrString), 3: ("endPort", .optionalInt),
  ]

  static let networkPolicyPeer: ProtobufMessage = [
    1: ("podSelector", .message(labelSelector)), 2: ("namespaceSelector", .message(labelSelector)),
    3: ("ipBlock", .message([1: ("cidr", .string), 2: ("except", .strings)])),
  ]

  static let crossVersionObjectReference: ProtobufMessage = [
    1: ("kind", .string), 2: ("name", .string), 3: ("apiVersion", .string),
  ]

  static let policyRule: ProtobufMessage = [
    1: ("verbs", .strings), 2: ("apiGroups", .strings), 3: ("resources", .strings),
    4: ("resourceNames", .strings), 5: ("nonResourceURLs", .strings),
  ]

  // MARK: authorization/v1

  static let resourceAttributes: ProtobufMessage = [
    1: ("namespace", .string), 2: ("verb", .string), 3: ("group", .string),
    4: ("version", .string), 5: ("resource", .string), 6: ("subresource", .string),
    7: ("name", .string), 8: ("fieldSelector", .ignored), 9: ("labelSelector", .ignored),
  ]

  static let nonResourceAttributes: ProtobufMessage = [1: ("path", .string), 2: ("verb", .string)]

  static let roleBinding: ProtobufMessage = [
    1: ("metadata", .message(objectMeta)),
    2: (
      "subjects",
      .messages([
        1: ("kind", .string), 2: ("apiGroup", .string), 3: ("name", .string),
        4: ("namespace", .string),
      ])
    ),
    3: (
      "roleRef", .message([1: ("apiGroup", .string), 2: ("kind", .string), 3: ("name", .string)])
    ),
  ]
}
