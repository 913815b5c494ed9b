// The deployment and replicaset controllers of kube-controller-manager, as far as an install meets them:
// - a Deployment owns a ReplicaSet per pod template, named <deployment>-<hash of the template> and labelled
//   pod-template-hash; a new template rolls (RollingUpdate within maxSurge/maxUnavailable, or Recreate), so the old
//   pods go once the new ones are available, and old ReplicaSets stay at 0 replicas;
// - a ReplicaSet keeps `replicas` pods <replicaset>-<5 random characters> alive, recreating a deleted one;
// - their status fields and conditions as the controllers write them (Available: MinimumReplicasAvailable or
//   MinimumReplicasUnavailable; Progressing: NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable,
//   ProgressDeadlineExceeded; ReplicaFailure: FailedCreate).

import { byController, controllerRef, timestamp, type Cluster, type Obj } from './cluster.js';
import { PodMaker, simplePodEvents } from './pod-maker.js';
import { isPodAvailable, isPodReady, isTerminal, podFromTemplate, templateHash } from './pods.js';

const REVISION = 'deployment.kubernetes.io/revision';
const REPLICA_SET_EVENTS = simplePodEvents('replicaset-controller');

function resolve(value: unknown, total: number, roundUp: boolean, fallback: string): number {
  const given = value ?? fallback;
  if (typeof given === 'number') return given;
  const percent = Number(String(given).replace(/%$/, ''));
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge and maxUnavailable of a rolling update (at least one of them positive), 0 and 0 for Recreate. */
function rollingLimits(deployment: Obj): { maxSurge: number; maxUnavailable: number } {
  const spec = deployment['spec'] ?? {};
  if (spec['strategy']?.['type'] === 'Recreate') return { maxSurge: 0, maxUnavailable: 0 };
  const replicas = spec['replicas'] ?? 1;
  const rolling = spec['strategy']?.['rollingUpdate'] ?? {};
  const maxSurge = resolve(rolling['maxSurge'], replicas, true, '25%');
  let maxUnavailable = resolve(rolling['maxUnavailable'], replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

const specReplicas = (rs: Obj): number => rs['spec']?.['replicas'] ?? 1;
const availableOf = (rs: Obj): number => rs['status']?.['availableReplicas'] ?? 0;
const activePods = (pods: readonly Obj[]): Obj[] => pods.filter((p) => !isTerminal(p) && p['metadata']['deletionTimestamp'] === undefined);

function condition(type: string, status: string, reason: string, message: string, now: string, previous: Obj | undefined): Obj {
  const same = previous?.['status'] === status;
  return { type, status, lastUpdateTime: now, lastTransitionTime: same ? previous['lastTransitionTime'] : now, reason, message };
}

export class DeploymentController {
  private readonly cluster: Cluster;
  private readonly pods: PodMaker;
  /** What each status was last computed from: the same inputs give the same status, so it is not computed again. */
  private readonly computedFrom = new Map<string, string>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.pods = new PodMaker(cluster);
  }

  /** Whether the inputs of an object's status changed since it was last computed (and notes them if so). */
  private changed(uid: string, inputs: string): boolean {
    if (this.computedFrom.get(uid) === inputs) return false;
    this.computedFrom.set(uid, inputs);
    return true;
  }

  /** The rollout: each Deployment's ReplicaSets created and scaled; each ReplicaSet's pods created or deleted. */
  sync(now: number): void {
    const owned = byController(this.cluster.list('ReplicaSet'));
    for (const deployment of this.cluster.list('Deployment')) {
      if (deployment['spec']?.['paused'] === true) continue;
      this.rollOut(deployment, owned.get(deployment['metadata']['uid']) ?? []);
    }
    const podsOf = byController(this.cluster.list('Pod'));
    const live = new Set<string>();
    for (const replicaSet of this.cluster.list('ReplicaSet')) {
      live.add(replicaSet['metadata']['uid']);
      this.keepReplicas(replicaSet, podsOf.get(replicaSet['metadata']['uid']) ?? [], now);
    }
    this.pods.forget(live);
  }

  /** Status from the pods as they are now: ReplicaSets first, then the Deployments that own them. */
  updateStatus(now: number): void {
    const versions = (objects: readonly Obj[]) => objects.map((o) => o['metadata']['resourceVersion']).join(',');
    const live = new Set<string>();
    const podsOf = byController(this.cluster.list('Pod'));
    for (const replicaSet of this.cluster.list('ReplicaSet')) {
      const uid = replicaSet['metadata']['uid'];
      live.add(uid);
      const pods = podsOf.get(uid) ?? [];
      const timed = (replicaSet['spec']?.['minReadySeconds'] ?? 0) > 0 ? Math.floor(now / 1000) : '';
      const inputs = `${replicaSet['metadata']['resourceVersion']}|${versions(pods)}|${this.pods.lastError.get(uid) ?? ''}|${timed}`;
      if (this.changed(uid, inputs)) this.replicaSetStatus(replicaSet, pods, now);
    }
    const owned = byController(this.cluster.list('ReplicaSet'));
    for (const deployment of this.cluster.list('Deployment')) {
      const uid = deployment['metadata']['uid'];
      live.add(uid);
      const replicaSets = owned.get(uid) ?? [];
      // The progress deadline is a matter of time: looked at again every second.
      const inputs = `${deployment['metadata']['resourceVersion']}|${versions(replicaSets)}|${Math.floor(now / 1000)}`;
      if (this.changed(uid, inputs)) this.deploymentStatus(deployment, replicaSets, now);
    }
    for (const uid of this.computedFrom.keys()) if (!live.has(uid)) this.computedFrom.delete(uid);
  }

  // ---- deployments ----

  private newReplicaSetOf(deployment: Obj, owned: readonly Obj[]): Obj | undefined {
    const hash = templateHash(deployment['spec']?.['template']);
    return owned.find((rs) => rs['metadata']['labels']?.['pod-template-hash'] === hash);
  }

  private rollOut(deployment: Obj, owned: readonly Obj[]): void {
    const replicas: number = deployment['spec']?.['replicas'] ?? 1;
    let newRs = this.newReplicaSetOf(deployment, owned);
    const old = owned.filter((rs) => rs !== newRs);
    const recreate = deployment['spec']?.['strategy']?.['type'] === 'Recreate';
    const { maxSurge, maxUnavailable } = rollingLimits(deployment);

    if (recreate) {
      const running = old.filter((rs) => specReplicas(rs) > 0 || (rs['status']?.['replicas'] ?? 0) > 0);
      for (const rs of old) if (specReplicas(rs) > 0) this.scale(deployment, rs, 0);
      if (running.length > 0) return;
      if (newRs === undefined) this.createReplicaSet(deployment, owned, replicas);
      else if (specReplicas(newRs) !== replicas) this.scale(deployment, newRs, replicas);
      return;
    }

    const total = owned.reduce((sum, rs) => sum + specReplicas(rs), 0);
    if (newRs === undefined) {
      const initial = old.length === 0 ? replicas : Math.max(0, Math.min(replicas, replicas + maxSurge - total));
      newRs = this.createReplicaSet(deployment, owned, initial);
    } else if (specReplicas(newRs) > replicas) {
      newRs = this.scale(deployment, newRs, replicas);
    } else if (specReplicas(newRs) < replicas && total < replicas + maxSurge) {
      newRs = this.scale(deployment, newRs, Math.min(replicas, specReplicas(newRs) + replicas + maxSurge - total));
    }

    // Old pods go as far as availability allows: unhealthy ones first, then as many available ones as the new
    // ReplicaSet's available pods make up for.
    let remaining = old.filter((rs) => specReplicas(rs) > 0).sort((a, b) => Date.parse(a['metadata']['creationTimestamp']) - Date.parse(b['metadata']['creationTimestamp']));
    if (remaining.length === 0) return;
    const minAvailable = replicas - maxUnavailable;
    const newUnavailable = specReplicas(newRs) - availableOf(newRs);
    const allPods = [newRs, ...old].reduce((sum, rs) => sum + specReplicas(rs), 0);
    let maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return;
    remaining = remaining.map((rs) => {
      const unhealthy = specReplicas(rs) - availableOf(rs);
      if (unhealthy <= 0 || maxScaledDown <= 0) return rs;
      const down = Math.min(unhealthy, maxScaledDown);
      maxScaledDown -= down;
      return this.scale(deployment, rs, specReplicas(rs) - down);
    });
    const available = [newRs, ...remaining].reduce((sum, rs) => sum + Math.min(availableOf(rs), specReplicas(rs)), 0);
    let canScaleDown = available - minAvailable;
    for (const rs of remaining) {
      if (canScaleDown <= 0) break;
      if (specReplicas(rs) === 0) continue;
      const down = Math.min(specReplicas(rs), canScaleDown);
      canScaleDown -= down;
      this.scale(deployment, rs, specReplicas(rs) - down);
    }
  }

  private createReplicaSet(deployment: Obj, owned: readonly Obj[], replicas: number): Obj {
    const template = structuredClone(deployment['spec']?.['template'] ?? {});
    const hash = templateHash(deployment['spec']?.['template']);
    const name = `${deployment['metadata']['name']}-${hash}`;
    const revision = Math.max(0, ...owned.map((rs) => Number(rs['metadata']['annotations']?.[REVISION] ?? 0))) + 1;
    template['metadata'] = { ...(template['metadata'] ?? {}), labels: { ...(template['metadata']?.['labels'] ?? {}), 'pod-template-hash': hash } };
    const selector = structuredClone(deployment['spec']?.['selector'] ?? {});
    selector['matchLabels'] = { ...(selector['matchLabels'] ?? {}), 'pod-template-hash': hash };
    const max = replicas + rollingLimits(deployment).maxSurge;
    const replicaSet = this.cluster.save(
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name,
          namespace: deployment['metadata']['namespace'],
          labels: template['metadata']['labels'],
          annotations: { 'deployment.kubernetes.io/desired-replicas': String(deployment['spec']?.['replicas'] ?? 1), 'deployment.kubernetes.io/max-replicas': String(max), [REVISION]: String(revision) },
          ownerReferences: [controllerRef(deployment)],
        },
        spec: { replicas, minReadySeconds: deployment['spec']?.['minReadySeconds'] ?? 0, selector, template },
      },
      'kube-controller-manager',
    );
    if (replicas > 0) this.scalingEvent(deployment, name, 0, replicas);
    // The revision annotation and the Progressing condition go in one status update, as the controller writes them
    // (a Deployment's status subresource takes its annotations too).
    const annotated = structuredClone(deployment);
    annotated['metadata']['annotations'] = { ...(annotated['metadata']['annotations'] ?? {}), [REVISION]: String(revision) };
    const conditions = ((annotated['status']?.['conditions'] ?? []) as Obj[]).filter((c) => c['type'] !== 'Progressing');
    const previous = ((annotated['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'Progressing');
    conditions.push(condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${name}"`, timestamp(), previous));
    annotated['status'] = { ...(annotated['status'] ?? {}), conditions };
    this.cluster.save(annotated, 'kube-controller-manager', 'status');
    return replicaSet;
  }

  private scale(deployment: Obj, replicaSet: Obj, replicas: number): Obj {
    const from = specReplicas(replicaSet);
    if (from === replicas) return replicaSet;
    const next = structuredClone(replicaSet);
    next['spec']['replicas'] = replicas;
    next['metadata']['annotations'] = { ...(next['metadata']['annotations'] ?? {}), 'deployment.kubernetes.io/desired-replicas': String(deployment['spec']?.['replicas'] ?? 1) };
    const saved = this.cluster.save(next, 'kube-controller-manager');
    this.scalingEvent(deployment, replicaSet['metadata']['name'], from, replicas);
    return saved;
  }

  private scalingEvent(deployment: Obj, name: string, from: number, to: number): void {
    const direction = to > from ? 'up' : 'down';
    this.cluster.events.record(deployment, undefined, 'Normal', 'ScalingReplicaSet', `Scaled ${direction} replica set ${name} from ${from} to ${to}`, { component: 'deployment-controller' });
  }

  private deploymentStatus(deployment: Obj, owned: readonly Obj[], nowMs: number): void {
    const replicas: number = deployment['spec']?.['replicas'] ?? 1;
    const newRs = this.newReplicaSetOf(deployment, owned);
    const sum = (field: string) => owned.reduce((total, rs) => total + (rs['status']?.[field] ?? 0), 0);
    const counts: Obj = {
      observedGeneration: deployment['metadata']['generation'],
      replicas: sum('replicas'),
      updatedReplicas: newRs?.['status']?.['replicas'] ?? 0,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: sum('availableReplicas'),
    };
    const unavailable = Math.max(0, replicas - counts['availableReplicas']);
    const previous: Obj = deployment['status'] ?? {};
    const previousConditions = (previous['conditions'] ?? []) as Obj[];
    const find = (type: string) => previousConditions.find((c) => c['type'] === type);
    const now = timestamp(nowMs);

    const { maxUnavailable } = rollingLimits(deployment);
    const available = counts['availableReplicas'] >= replicas - maxUnavailable;
    const wasAvailable = find('Available');
    const availableCondition =
      wasAvailable?.['status'] === (available ? 'True' : 'False')
        ? wasAvailable
        : available
          ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now, wasAvailable)
          : condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now, wasAvailable);

    const rsName = newRs?.['metadata']['name'] ?? '';
    const complete = counts['updatedReplicas'] === replicas && counts['replicas'] === replicas && counts['availableReplicas'] === replicas;
    const progressed = ['updatedReplicas', 'readyReplicas', 'availableReplicas', 'replicas'].some((field) => counts[field] !== (previous[field] ?? 0));
    const wasProgressing = find('Progressing');
    let progressing = wasProgressing;
    const deadlineMs = (deployment['spec']?.['progressDeadlineSeconds'] ?? 600) * 1000;
    if (complete) {
      const already = wasProgressing?.['reason'] === 'NewReplicaSetAvailable' && String(wasProgressing['message']).includes(`"${rsName}"`);
      if (!already) progressing = condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`, now, wasProgressing);
    } else if (progressed || wasProgressing === undefined) {
      progressing = condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`, now, wasProgressing);
    } else if (wasProgressing['status'] === 'True' && nowMs - Date.parse(wasProgressing['lastUpdateTime']) > deadlineMs) {
      progressing = condition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rsName}" has timed out progressing.`, now, wasProgressing);
    }

    const failure = owned.map((rs) => ((rs['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'ReplicaFailure')).find((c) => c !== undefined);
    const conditions = [availableCondition, progressing, failure === undefined ? undefined : { ...failure, lastUpdateTime: failure['lastTransitionTime'] }].filter((c): c is Obj => c !== undefined);
    const status: Obj = { ...counts, ...(unavailable > 0 ? { unavailableReplicas: unavailable } : {}), conditions };
    for (const field of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas']) if (status[field] === 0) delete status[field];
    if (JSON.stringify(status) === JSON.stringify(deployment['status'] ?? {})) return;
    this.cluster.save({ ...structuredClone(deployment), status }, 'kube-controller-manager', 'status');
  }

  // ---- replica sets ----

  private keepReplicas(replicaSet: Obj, pods: readonly Obj[], now: number): void {
    const active = activePods(pods);
    const wanted = specReplicas(replicaSet);
    if (active.length < wanted && this.pods.mayCreate(replicaSet, now)) {
      for (let i = active.length; i < wanted; i++) {
        const pod = podFromTemplate(replicaSet['spec']?.['template'] ?? {}, replicaSet, { generateName: `${replicaSet['metadata']['name']}-` });
        if (this.pods.create(replicaSet, pod, REPLICA_SET_EVENTS, now) === undefined) break;
      }
    }
    if (active.length > wanted) {
      // The least useful first: unscheduled, then pending, then not ready, then the newest.
      const rank = (pod: Obj) => (pod['spec']?.['nodeName'] === undefined ? 0 : pod['status']?.['phase'] === 'Pending' ? 1 : isPodReady(pod) ? 3 : 2);
      const victims = [...active].sort((a, b) => rank(a) - rank(b) || Date.parse(b['metadata']['creationTimestamp']) - Date.parse(a['metadata']['creationTimestamp']));
      for (const pod of victims.slice(0, active.length - wanted)) this.pods.delete(replicaSet, pod, REPLICA_SET_EVENTS);
    }
  }

  private replicaSetStatus(replicaSet: Obj, pods: readonly Obj[], now: number): void {
    const active = activePods(pods);
    const minReady = replicaSet['spec']?.['minReadySeconds'] ?? 0;
    const ready = active.filter(isPodReady).length;
    const available = active.filter((p) => isPodAvailable(p, minReady, now)).length;
    const error = this.pods.lastError.get(replicaSet['metadata']['uid']);
    const previousFailure = ((replicaSet['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'ReplicaFailure');
    const status: Obj = { replicas: active.length, fullyLabeledReplicas: active.length, readyReplicas: ready, availableReplicas: available, observedGeneration: replicaSet['metadata']['generation'] };
    if (error !== undefined) {
      const since = previousFailure?.['message'] === error ? previousFailure['lastTransitionTime'] : timestamp(now);
      status['conditions'] = [{ type: 'ReplicaFailure', status: 'True', lastTransitionTime: since, reason: 'FailedCreate', message: error }];
    }
    for (const field of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']) if (status[field] === 0) delete status[field];
    if (JSON.stringify(status) === JSON.stringify(replicaSet['status'] ?? {})) return;
    this.cluster.save({ ...structuredClone(replicaSet), status }, 'kube-controller-manager', 'status');
  }
}
