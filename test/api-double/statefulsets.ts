// The statefulset controller: pods <statefulset>-<ordinal>, made in order (OrderedReady: each waits for the one
// before it to be Running and Ready) or all at once (Parallel); a claim <template>-<statefulset>-<ordinal> per
// volumeClaimTemplate, made before its pod and kept after it (the Retain policy); a deleted pod made again under the
// same name; a new template rolled out from the highest ordinal down; status as the controller writes it (no
// conditions).

import { byController, type Cluster, type Obj } from './cluster.js';
import { PodMaker, type PodEvents } from './pod-maker.js';
import { isPodAvailable, isPodReady, isTerminal, podFromTemplate, templateHash } from './pods.js';

const REVISION_LABEL = 'controller-revision-hash';

function podEvents(set: Obj): PodEvents {
  const name = set['metadata']['name'];
  return {
    component: 'statefulset-controller',
    created: (pod) => `create Pod ${pod['metadata']['name']} in StatefulSet ${name} successful`,
    failed: (pod, error) => `create Pod ${pod['metadata']['name']} in StatefulSet ${name} failed error: ${error}`,
    deleted: (pod) => `delete Pod ${pod['metadata']['name']} in StatefulSet ${name} successful`,
  };
}

const revisionOf = (set: Obj): string => `${set['metadata']['name']}-${templateHash(set['spec']?.['template'])}`;
const ordinalOf = (set: Obj, pod: Obj): number => Number(String(pod['metadata']['name']).slice(set['metadata']['name'].length + 1));
const isRunningAndReady = (pod: Obj): boolean => pod['status']?.['phase'] === 'Running' && isPodReady(pod);

export class StatefulSetController {
  private readonly cluster: Cluster;
  private readonly pods: PodMaker;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.pods = new PodMaker(cluster);
  }

  sync(now: number): void {
    const podsOf = byController(this.cluster.list('Pod'));
    const live = new Set<string>();
    for (const set of this.cluster.list('StatefulSet')) {
      live.add(set['metadata']['uid']);
      this.syncSet(set, podsOf.get(set['metadata']['uid']) ?? [], now);
    }
    this.pods.forget(live);
  }

  updateStatus(now: number): void {
    const podsOf = byController(this.cluster.list('Pod'));
    for (const set of this.cluster.list('StatefulSet')) this.setStatus(set, podsOf.get(set['metadata']['uid']) ?? [], now);
  }

  private syncSet(set: Obj, owned: readonly Obj[], now: number): void {
    const replicas: number = set['spec']?.['replicas'] ?? 1;
    const parallel = set['spec']?.['podManagementPolicy'] === 'Parallel';
    const events = podEvents(set);
    const byOrdinal = new Map<number, Obj>();
    for (const pod of owned) byOrdinal.set(ordinalOf(set, pod), pod);

    // A failed pod is deleted and made again.
    for (const pod of owned) if (pod['status']?.['phase'] === 'Failed') {
      this.pods.delete(set, pod, events);
      byOrdinal.delete(ordinalOf(set, pod));
    }

    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const pod = byOrdinal.get(ordinal);
      if (pod !== undefined) {
        if (!parallel && !isRunningAndReady(pod)) return;
        continue;
      }
      if (!this.pods.mayCreate(set, now)) return;
      if (this.createPod(set, ordinal, events, now) === undefined || !parallel) return;
    }

    // Scale down from the highest ordinal, one at a time unless Parallel.
    const extra = [...byOrdinal.entries()].filter(([ordinal]) => ordinal >= replicas).sort(([a], [b]) => b - a);
    for (const [, pod] of parallel ? extra : extra.slice(0, 1)) this.pods.delete(set, pod, events);
    if (extra.length > 0) return;

    // Rolling update: once every pod is Running and Ready, the highest one of an older revision goes.
    const strategy = set['spec']?.['updateStrategy'] ?? {};
    if (strategy['type'] === 'OnDelete') return;
    const partition: number = strategy['rollingUpdate']?.['partition'] ?? 0;
    const revision = revisionOf(set);
    const pods = [...byOrdinal.entries()].sort(([a], [b]) => b - a);
    if (pods.some(([, pod]) => !isRunningAndReady(pod) || isTerminal(pod))) return;
    const stale = pods.find(([ordinal, pod]) => ordinal >= partition && pod['metadata']['labels']?.[REVISION_LABEL] !== revision);
    if (stale !== undefined) this.pods.delete(set, stale[1], events);
  }

  private createPod(set: Obj, ordinal: number, events: PodEvents, now: number): Obj | undefined {
    const setName = set['metadata']['name'];
    const namespace = set['metadata']['namespace'];
    const name = `${setName}-${ordinal}`;
    const templates = (set['spec']?.['volumeClaimTemplates'] ?? []) as Obj[];
    const claimVolumes: Obj[] = [];
    for (const template of templates) {
      const claimName = `${template['metadata']['name']}-${name}`;
      claimVolumes.push({ name: template['metadata']['name'], persistentVolumeClaim: { claimName } });
      if (this.cluster.get('PersistentVolumeClaim', namespace, claimName) !== undefined) continue;
      const claim = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claimName, namespace, labels: { ...(template['metadata']['labels'] ?? {}), ...(set['spec']?.['selector']?.['matchLabels'] ?? {}) }, ...(template['metadata']['annotations'] ? { annotations: template['metadata']['annotations'] } : {}) },
        spec: structuredClone(template['spec'] ?? {}),
      };
      const made = this.cluster.create(claim, 'kube-controller-manager');
      if ('error' in made) {
        this.cluster.events.record(set, undefined, 'Warning', 'FailedCreate', `create Claim ${claimName} for Pod ${name} in StatefulSet ${setName} failed error: ${made.error}`, { component: 'statefulset-controller' });
        return undefined;
      }
      this.cluster.events.record(set, undefined, 'Normal', 'SuccessfulCreate', `create Claim ${claimName} Pod ${name} in StatefulSet ${setName} success`, { component: 'statefulset-controller' });
    }
    const template = set['spec']?.['template'] ?? {};
    const volumes = ((template['spec']?.['volumes'] ?? []) as Obj[]).filter((v) => !claimVolumes.some((c) => c['name'] === v['name']));
    const spec: Obj = { hostname: name, volumes: [...volumes, ...claimVolumes] };
    if (set['spec']?.['serviceName']) spec['subdomain'] = set['spec']['serviceName'];
    if (spec['volumes'].length === 0) delete spec['volumes'];
    const labels = { [REVISION_LABEL]: revisionOf(set), 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(ordinal) };
    return this.pods.create(set, podFromTemplate(template, set, { name }, { labels, spec }), events, now);
  }

  private setStatus(set: Obj, owned: readonly Obj[], now: number): void {
    const revision = revisionOf(set);
    const active = owned.filter((p) => !isTerminal(p));
    const minReady = set['spec']?.['minReadySeconds'] ?? 0;
    const updated = active.filter((p) => p['metadata']['labels']?.[REVISION_LABEL] === revision).length;
    const previous: Obj = set['status'] ?? {};
    const replicas: number = set['spec']?.['replicas'] ?? 1;
    // The current revision becomes the update revision once every pod runs it.
    const currentRevision = updated === replicas && active.length === replicas ? revision : (previous['currentRevision'] ?? revision);
    const status: Obj = {
      observedGeneration: set['metadata']['generation'],
      replicas: active.length,
      readyReplicas: active.filter(isPodReady).length,
      currentReplicas: active.filter((p) => p['metadata']['labels']?.[REVISION_LABEL] === currentRevision).length,
      updatedReplicas: updated,
      availableReplicas: active.filter((p) => isPodAvailable(p, minReady, now)).length,
      currentRevision,
      updateRevision: revision,
      collisionCount: 0,
    };
    for (const field of ['readyReplicas', 'currentReplicas', 'updatedReplicas']) if (status[field] === 0) delete status[field];
    if (JSON.stringify(status) === JSON.stringify(previous)) return;
    this.cluster.save({ ...structuredClone(set), status }, 'kube-controller-manager', 'status');
  }
}
