// Storage as a v1.32 cluster with a local-path provisioner has it:
// - the StorageClasses the cluster starts with (the default one annotated storageclass.kubernetes.io/is-default-class);
// - the DefaultStorageClass admission plugin: a claim created without spec.storageClassName gets the default class
//   (the newest, when several are marked default);
// - the PV controller: a claim of a class that exists is provisioned and Bound (a PersistentVolume pvc-<uid>); one
//   that names no class, or a class that does not exist, stays Pending with the controller's event; a claim that
//   never named a class gets the default class once there is one (retroactive assignment, GA since v1.28); a
//   WaitForFirstConsumer class waits for the scheduler to pick a node.

import { randomUUID } from 'node:crypto';
import { timestamp, type Cluster, type Obj, type StorageClassSpec } from './cluster.js';
import { resourceAmount } from './quantity.js';

export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
const BETA_DEFAULT_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';
const BETA_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';
const PROVISIONER = 'rancher.io/local-path';
/** The PV controller's resync: how often a Pending claim's event repeats. */
const RESYNC_MS = 15_000;

export function storageClassObject(spec: StorageClassSpec): Obj {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: spec.name, ...(spec.default ? { annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } } : {}) },
    provisioner: PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  };
}

export function storageClassIsDefault(storageClass: Obj): boolean {
  const annotations = storageClass['metadata']['annotations'] ?? {};
  return annotations[DEFAULT_CLASS_ANNOTATION] === 'true' || annotations[BETA_DEFAULT_CLASS_ANNOTATION] === 'true';
}

/** The default StorageClass: of several marked default, the newest (then the first by name), as v1.26+ picks it. */
export function defaultClass(cluster: Cluster): Obj | undefined {
  const defaults = cluster.list('StorageClass').filter(storageClassIsDefault);
  defaults.sort((a, b) => {
    const byTime = Date.parse(b['metadata']['creationTimestamp']) - Date.parse(a['metadata']['creationTimestamp']);
    return byTime !== 0 ? byTime : a['metadata']['name'] < b['metadata']['name'] ? -1 : 1;
  });
  return defaults[0];
}

/** Whether the claim asked for a class at all (an explicit "" is asking for none). */
function hasClassField(claim: Obj): boolean {
  return claim['spec']?.['storageClassName'] !== undefined || claim['metadata']['annotations']?.[BETA_CLASS_ANNOTATION] !== undefined;
}

/** The claim's class name; "" for none. */
export function claimClass(claim: Obj): string {
  return claim['metadata']['annotations']?.[BETA_CLASS_ANNOTATION] ?? claim['spec']?.['storageClassName'] ?? '';
}

/** DefaultStorageClass admission, on create. */
export function admitClaim(claim: Obj, cluster: Cluster): void {
  if (hasClassField(claim)) return;
  const found = defaultClass(cluster);
  if (found !== undefined) claim['spec'] = { ...(claim['spec'] ?? {}), storageClassName: found['metadata']['name'] };
}

export function isClaimBound(claim: Obj): boolean {
  return claim['status']?.['phase'] === 'Bound' && claim['spec']?.['volumeName'] !== undefined;
}

export class VolumeController {
  private readonly cluster: Cluster;
  /** When each Pending claim's event was last repeated. */
  private readonly lastEvent = new Map<string, number>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  reconcile(now: number): void {
    const claims = this.cluster.list('PersistentVolumeClaim');
    const live = new Set<string>();
    for (const claim of claims) {
      live.add(claim['metadata']['uid']);
      if (!isClaimBound(claim)) this.syncUnbound(claim, now);
    }
    for (const uid of this.lastEvent.keys()) if (!live.has(uid)) this.lastEvent.delete(uid);
    this.releaseVolumes(claims);
  }

  private syncUnbound(claim: Obj, now: number): void {
    const className = claimClass(claim);
    if (!hasClassField(claim)) {
      const found = defaultClass(this.cluster);
      if (found !== undefined) {
        this.cluster.save({ ...structuredClone(claim), spec: { ...claim['spec'], storageClassName: found['metadata']['name'] } }, 'kube-controller-manager');
        return;
      }
    }
    const volume = this.matchingVolume(claim, className);
    if (volume !== undefined) return this.bind(claim, volume);
    if (className === '') return this.pending(claim, now, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
    const storageClass = this.cluster.get('StorageClass', undefined, className);
    if (storageClass === undefined) return this.pending(claim, now, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
    if (storageClass['volumeBindingMode'] === 'WaitForFirstConsumer' && claim['metadata']['annotations']?.[SELECTED_NODE_ANNOTATION] === undefined) {
      return this.pending(claim, now, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
    }
    this.provision(claim, storageClass);
  }

  private pending(claim: Obj, now: number, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const uid = claim['metadata']['uid'];
    if (claim['status']?.['phase'] !== 'Pending') this.cluster.save({ ...structuredClone(claim), status: { phase: 'Pending' } }, 'kube-controller-manager', 'status');
    const last = this.lastEvent.get(uid);
    if (last !== undefined && now - last < RESYNC_MS) return;
    this.lastEvent.set(uid, now);
    this.cluster.events.record(claim, undefined, type, reason, message, { component: 'persistentvolume-controller' });
  }

  /** The provisioner makes the volume; the PV controller binds the two. */
  private provision(claim: Obj, storageClass: Obj): void {
    const metadata = claim['metadata'];
    const volumeName = `pvc-${metadata['uid']}`;
    const provisioner: string = storageClass['provisioner'];
    const size: string = claim['spec']?.['resources']?.['requests']?.['storage'] ?? '1Gi';
    const accessModes: string[] = claim['spec']?.['accessModes'] ?? ['ReadWriteOnce'];
    const reporter = { component: `${provisioner}_local-path-provisioner-${randomUUID().slice(0, 8)}` };
    this.cluster.events.record(claim, undefined, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${metadata['namespace']}/${metadata['name']}"`, reporter);
    const selectedNode = metadata['annotations']?.[SELECTED_NODE_ANNOTATION];
    this.cluster.save(
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: volumeName, annotations: { 'pv.kubernetes.io/provisioned-by': provisioner } },
        spec: {
          capacity: { storage: size },
          accessModes,
          persistentVolumeReclaimPolicy: storageClass['reclaimPolicy'] ?? 'Delete',
          storageClassName: storageClass['metadata']['name'],
          volumeMode: claim['spec']?.['volumeMode'] ?? 'Filesystem',
          hostPath: { path: `/var/local-path-provisioner/${volumeName}_${metadata['namespace']}_${metadata['name']}`, type: 'DirectoryOrCreate' },
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: metadata['name'], namespace: metadata['namespace'], uid: metadata['uid'], resourceVersion: metadata['resourceVersion'] },
          ...(selectedNode !== undefined
            ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [selectedNode] }] }] } } }
            : {}),
        },
        status: { phase: 'Bound', lastPhaseTransitionTime: timestamp() },
      },
      provisioner,
    );
    this.cluster.events.record(claim, undefined, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${volumeName}`, reporter);
    const bound = structuredClone(claim);
    bound['metadata']['annotations'] = {
      ...(bound['metadata']['annotations'] ?? {}),
      'pv.kubernetes.io/bind-completed': 'yes',
      'pv.kubernetes.io/bound-by-controller': 'yes',
      'volume.beta.kubernetes.io/storage-provisioner': provisioner,
      'volume.kubernetes.io/storage-provisioner': provisioner,
    };
    bound['spec'] = { ...bound['spec'], volumeName };
    const saved = this.cluster.save(bound, 'kube-controller-manager');
    this.cluster.save({ ...structuredClone(saved), status: { phase: 'Bound', accessModes, capacity: { storage: size } } }, 'kube-controller-manager', 'status');
  }

  /** An Available volume made by hand that satisfies the claim: same class, enough capacity, its access modes. */
  private matchingVolume(claim: Obj, className: string): Obj | undefined {
    const wanted = resourceAmount('storage', claim['spec']?.['resources']?.['requests']?.['storage'] ?? '0');
    const modes: string[] = claim['spec']?.['accessModes'] ?? [];
    const named = claim['spec']?.['volumeName'];
    const candidates = this.cluster.list('PersistentVolume').filter((volume) => {
      const spec = volume['spec'] ?? {};
      if (spec['claimRef'] !== undefined && spec['claimRef']['uid'] !== claim['metadata']['uid']) return false;
      if (named !== undefined && volume['metadata']['name'] !== named) return false;
      if ((spec['storageClassName'] ?? '') !== className) return false;
      if (resourceAmount('storage', spec['capacity']?.['storage'] ?? '0') < wanted) return false;
      return modes.every((mode) => ((spec['accessModes'] ?? []) as string[]).includes(mode));
    });
    // The smallest that fits, as findBestMatchForClaim picks.
    candidates.sort((a, b) => resourceAmount('storage', a['spec']['capacity']?.['storage'] ?? '0') - resourceAmount('storage', b['spec']['capacity']?.['storage'] ?? '0'));
    return candidates[0];
  }

  private bind(claim: Obj, volume: Obj): void {
    const metadata = claim['metadata'];
    const claimRef = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: metadata['name'], namespace: metadata['namespace'], uid: metadata['uid'], resourceVersion: metadata['resourceVersion'] };
    const savedVolume = this.cluster.save({ ...structuredClone(volume), spec: { ...volume['spec'], claimRef } }, 'kube-controller-manager');
    this.cluster.save({ ...structuredClone(savedVolume), status: { phase: 'Bound', lastPhaseTransitionTime: timestamp() } }, 'kube-controller-manager', 'status');
    const bound = structuredClone(claim);
    bound['metadata']['annotations'] = { ...(bound['metadata']['annotations'] ?? {}), 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' };
    bound['spec'] = { ...bound['spec'], volumeName: volume['metadata']['name'] };
    const saved = this.cluster.save(bound, 'kube-controller-manager');
    const status = { phase: 'Bound', accessModes: volume['spec']['accessModes'] ?? [], capacity: volume['spec']['capacity'] ?? {} };
    this.cluster.save({ ...structuredClone(saved), status }, 'kube-controller-manager', 'status');
  }

  /** A volume whose claim is gone is deleted (reclaim policy Delete) or Released. */
  private releaseVolumes(claims: readonly Obj[]): void {
    const uids = new Set(claims.map((c) => c['metadata']['uid']));
    for (const volume of this.cluster.list('PersistentVolume')) {
      const ref = volume['spec']?.['claimRef'];
      // A volume pre-bound by hand to a claim not yet made (no uid) waits for it.
      if (ref === undefined || ref['uid'] === undefined || uids.has(ref['uid'])) continue;
      if ((volume['spec']['persistentVolumeReclaimPolicy'] ?? 'Delete') === 'Delete') this.cluster.remove(volume);
      else if (volume['status']?.['phase'] !== 'Released') this.cluster.save({ ...structuredClone(volume), status: { phase: 'Released' } }, 'kube-controller-manager', 'status');
    }
  }
}
