import FleetCore
import Kube
import Testing

@Suite struct ReadinessTests {
  func deployment(generation: Int64 = 2, observed: Int64 = 2, replicas: Int64 = 3, updated: Int64, total: Int64, available: Int64, reason: String = "ReplicaSetUpdated") -> Value {
    [
      "kind": "Deployment", "metadata": ["name": "checkout", "generation": .int(generation)],
      "spec": ["replicas": .int(replicas)],
      "status": [
        "observedGeneration": .int(observed), "replicas": .int(total), "updatedReplicas": .int(updated),
        "availableReplicas": .int(available),
        "conditions": [["type": "Progressing", "status": "True", "reason": .string(reason)]],
      ],
    ]
  }

  @Test func deploymentFollowsKubectlRolloutStatus() {
    #expect(
      Readiness.of(deployment(observed: 1, updated: 3, total: 3, available: 3))
        == .progressing("Waiting for deployment spec update to be observed..."))
    #expect(
      Readiness.of(deployment(updated: 1, total: 4, available: 3))
        == .progressing(
          "Waiting for deployment \"checkout\" rollout to finish: 1 out of 3 new replicas have been updated..."))
    #expect(
      Readiness.of(deployment(updated: 3, total: 4, available: 3))
        == .progressing(
          "Waiting for deployment \"checkout\" rollout to finish: 1 old replicas are pending termination..."))
    #expect(
      Readiness.of(deployment(updated: 3, total: 3, available: 2))
        == .progressing(
          "Waiting for deployment \"checkout\" rollout to finish: 2 of 3 updated replicas are available..."))
    #expect(
      Readiness.of(deployment(updated: 3, total: 3, available: 3, reason: "NewReplicaSetAvailable"))
        == .ready("deployment \"checkout\" successfully rolled out"))
    #expect(
      Readiness.of(deployment(updated: 1, total: 3, available: 2, reason: "ProgressDeadlineExceeded"))
        == .failed("deployment \"checkout\" exceeded its progress deadline"))
  }

  @Test func statefulSetRevisionsAndPartitions() {
    var set: Value = [
      "kind": "StatefulSet", "metadata": ["name": "db", "generation": 3],
      "spec": ["replicas": 3, "updateStrategy": ["type": "RollingUpdate"]],
      "status": [
        "observedGeneration": 3, "readyReplicas": 3, "updatedReplicas": 1, "currentReplicas": 2,
        "updateRevision": "db-b", "currentRevision": "db-a",
      ],
    ]
    #expect(
      Readiness.of(set)
        == .progressing("waiting for statefulset rolling update to complete 1 pods at revision db-b..."))
    set = [
      "kind": "StatefulSet", "metadata": ["name": "db", "generation": 3],
      "spec": ["replicas": 3, "updateStrategy": ["type": "RollingUpdate", "rollingUpdate": ["partition": 2]]],
      "status": ["observedGeneration": 3, "readyReplicas": 3, "updatedReplicas": 1],
    ]
    #expect(Readiness.of(set) == .ready("partitioned roll out complete: 1 new pods have been updated..."))
    set = [
      "kind": "StatefulSet", "metadata": ["name": "db", "generation": 3],
      "spec": ["replicas": 3], "status": ["observedGeneration": 3, "readyReplicas": 1],
    ]
    #expect(Readiness.of(set) == .progressing("Waiting for 2 pods to be ready..."))
  }

  @Test func daemonSetJobAndOtherKinds() {
    let daemonSet: Value = [
      "kind": "DaemonSet", "metadata": ["name": "agent", "generation": 1],
      "status": [
        "observedGeneration": 1, "desiredNumberScheduled": 5, "updatedNumberScheduled": 5,
        "numberAvailable": 4,
      ],
    ]
    #expect(
      Readiness.of(daemonSet)
        == .progressing("Waiting for daemon set \"agent\" rollout to finish: 4 of 5 updated pods are available..."))
    let failedJob: Value = [
      "kind": "Job", "metadata": ["name": "migrate"],
      "status": ["conditions": [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"]]],
    ]
    #expect(Readiness.of(failedJob) == .failed("job \"migrate\" failed (BackoffLimitExceeded)"))
    let doneJob: Value = [
      "kind": "Job", "metadata": ["name": "migrate"],
      "status": ["succeeded": 1, "conditions": [["type": "Complete", "status": "True"]]],
    ]
    #expect(Readiness.of(doneJob).isReady)
    #expect(Readiness.of(["kind": "ConfigMap", "metadata": ["name": "cfg"]]) == .ready("configmap \"cfg\" exists"))
  }
}
