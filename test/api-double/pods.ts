// Pods as the API server makes them: defaulting (pull policies, restart policy, the default tolerations, requests
// from limits), the admission checks that refuse one (service account, priority class), names as controllers
// generate them, and what the scheduler reads from a pod (its requests, priority, whether it is done).

import { createHash } from 'node:crypto';
import { controllerRef, isObj, type Cluster, type Obj } from './cluster.js';
import { resourceAmount } from './quantity.js';

/** The alphabet of generated names (k8s.io/apimachinery/pkg/util/rand): no vowels, no look-alikes. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(length = 5): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  return text;
}

/** A pod template's hash as pod-template-hash and controller-revision-hash carry it: fnv-32a, safely encoded. */
const hashes = new WeakMap<object, string>();

export function templateHash(template: unknown): string {
  // Stored objects are replaced, never changed, so a template's hash is computed once.
  const known = typeof template === 'object' && template !== null ? hashes.get(template) : undefined;
  if (known !== undefined) return known;
  const hash = fnvHash(template);
  if (typeof template === 'object' && template !== null) hashes.set(template, hash);
  return hash;
}

function fnvHash(template: unknown): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(JSON.stringify(template ?? {}))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // rand.SafeEncodeString of the decimal number: each digit's byte picks a letter of the alphabet.
  return [...String(hash)].map((digit) => ALPHABET[digit.charCodeAt(0) % ALPHABET.length]!).join('');
}

/** The pull policy the API server defaults: Always for `:latest` or no tag, IfNotPresent otherwise (and by digest). */
export function defaultPullPolicy(ref: string): 'Always' | 'IfNotPresent' {
  const [name, digest] = ref.split('@') as [string, string | undefined];
  const last = name.split('/').at(-1) ?? '';
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : undefined;
  if (tag === undefined) return digest === undefined ? 'Always' : 'IfNotPresent';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

function defaultContainer(container: Obj): Obj {
  const resources: Obj = isObj(container['resources']) ? structuredClone(container['resources']) : {};
  // Requests default to the limits where only limits are set.
  if (isObj(resources['limits'])) resources['requests'] = { ...resources['limits'], ...(resources['requests'] ?? {}) };
  return {
    ...container,
    imagePullPolicy: container['imagePullPolicy'] ?? defaultPullPolicy(String(container['image'] ?? '')),
    terminationMessagePath: container['terminationMessagePath'] ?? '/dev/termination-log',
    terminationMessagePolicy: container['terminationMessagePolicy'] ?? 'File',
    resources,
    ...(Array.isArray(container['ports']) ? { ports: (container['ports'] as Obj[]).map((p) => ({ ...p, protocol: p['protocol'] ?? 'TCP' })) } : {}),
  };
}

/** The defaults and mutating admission every new pod goes through (defaulting, ServiceAccount, Priority, tolerations). */
export function defaultPod(pod: Obj, cluster: Cluster): void {
  const spec: Obj = pod['spec'] ?? {};
  spec['containers'] = ((spec['containers'] ?? []) as Obj[]).map(defaultContainer);
  if (Array.isArray(spec['initContainers'])) spec['initContainers'] = (spec['initContainers'] as Obj[]).map(defaultContainer);
  spec['restartPolicy'] ??= 'Always';
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['schedulerName'] ??= 'default-scheduler';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['securityContext'] ??= {};
  spec['serviceAccountName'] ??= spec['serviceAccount'] ?? 'default';
  spec['serviceAccount'] = spec['serviceAccountName'];
  spec['enableServiceLinks'] ??= true;
  const tolerations = (spec['tolerations'] ?? []) as Obj[];
  const missing = DEFAULT_TOLERATIONS.filter((d) => !tolerations.some((t) => t['key'] === d['key'] && (t['effect'] ?? d['effect']) === d['effect']));
  spec['tolerations'] = [...tolerations, ...missing.map((d) => ({ ...d }))];
  const priority = priorityOf(spec['priorityClassName'], cluster);
  if (priority !== undefined) {
    spec['priority'] = priority.value;
    spec['preemptionPolicy'] ??= priority.preemptionPolicy;
    if (priority.name !== undefined) spec['priorityClassName'] ??= priority.name;
  }
  pod['spec'] = spec;
  pod['status'] = { phase: 'Pending', qosClass: qosClass(spec) };
}

const SYSTEM_PRIORITIES: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };

function priorityOf(className: string | undefined, cluster: Cluster): { value: number; preemptionPolicy: string; name?: string } | undefined {
  if (className !== undefined) {
    if (SYSTEM_PRIORITIES[className] !== undefined) return { value: SYSTEM_PRIORITIES[className], preemptionPolicy: 'PreemptLowerPriority' };
    const found = cluster.get('PriorityClass', undefined, className);
    return found === undefined ? undefined : { value: found['value'] ?? 0, preemptionPolicy: found['preemptionPolicy'] ?? 'PreemptLowerPriority' };
  }
  const global = cluster.list('PriorityClass').find((c) => c['globalDefault'] === true);
  if (global !== undefined) return { value: global['value'] ?? 0, preemptionPolicy: global['preemptionPolicy'] ?? 'PreemptLowerPriority', name: global['metadata']['name'] };
  return { value: 0, preemptionPolicy: 'PreemptLowerPriority' };
}

/** Why the API server refuses to create this pod (ServiceAccount and Priority admission), if it does. */
export function podRefusal(pod: Obj, cluster: Cluster): string | undefined {
  const metadata = pod['metadata'];
  const shownName = metadata['name'] ?? metadata['generateName'] ?? '';
  const namespace = metadata['namespace'];
  const account = pod['spec']?.['serviceAccountName'] ?? pod['spec']?.['serviceAccount'] ?? 'default';
  if (cluster.get('ServiceAccount', namespace, account) === undefined) {
    return `pods "${shownName}" is forbidden: error looking up service account ${namespace}/${account}: serviceaccount "${account}" not found`;
  }
  const className = pod['spec']?.['priorityClassName'];
  if (className !== undefined && SYSTEM_PRIORITIES[className] === undefined && cluster.get('PriorityClass', undefined, className) === undefined) {
    return `pods "${shownName}" is forbidden: no PriorityClass with name ${className} was found`;
  }
  return undefined;
}

/** A pod made from a controller's template. */
export function podFromTemplate(template: Obj, owner: Obj, name: { name: string } | { generateName: string }, extra: { labels?: Record<string, string>; spec?: Obj } = {}): Obj {
  const metadata: Obj = template['metadata'] ?? {};
  const labels = { ...(metadata['labels'] ?? {}), ...(extra.labels ?? {}) };
  const spec = { ...structuredClone(template['spec'] ?? {}), ...(extra.spec ?? {}) };
  const generated = 'generateName' in name ? { name: `${name.generateName}${randomSuffix()}`, generateName: name.generateName } : name;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...generated,
      namespace: owner['metadata']['namespace'],
      labels,
      ...(metadata['annotations'] !== undefined ? { annotations: structuredClone(metadata['annotations']) } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec,
  };
}

export function isTerminal(pod: Obj): boolean {
  const phase = pod['status']?.['phase'];
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Running, Ready, not being deleted: what ReplicaSets count as ready and Endpoints list as addresses. */
export function isPodReady(pod: Obj): boolean {
  return (
    !isTerminal(pod) &&
    pod['metadata']['deletionTimestamp'] === undefined &&
    ((pod['status']?.['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True')
  );
}

/** When the pod last became Ready, for minReadySeconds. */
export function readySince(pod: Obj): number | undefined {
  const ready = ((pod['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'Ready' && c['status'] === 'True');
  return ready === undefined ? undefined : Date.parse(ready['lastTransitionTime']);
}

/** Ready for at least minReadySeconds. */
export function isPodAvailable(pod: Obj, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = readySince(pod);
  return since !== undefined && now - since >= minReadySeconds * 1000;
}

export const isRestartableInit = (container: Obj): boolean => container['restartPolicy'] === 'Always';

export type Requests = Record<string, number>;

function containerRequests(container: Obj): Requests {
  const requests: Requests = {};
  const given: Obj = { ...(container['resources']?.['limits'] ?? {}), ...(container['resources']?.['requests'] ?? {}) };
  for (const [resource, value] of Object.entries(given)) requests[resource] = resourceAmount(resource, value as string);
  return requests;
}

function add(into: Requests, more: Requests): void {
  for (const [k, v] of Object.entries(more)) into[k] = (into[k] ?? 0) + v;
}

function maxInto(into: Requests, other: Requests): void {
  for (const [k, v] of Object.entries(other)) into[k] = Math.max(into[k] ?? 0, v);
}

/**
 * What the pod requests of each resource (cpu in millicores): the larger of its containers' sum (with the sidecars
 * among its init containers) and each init container's request (with the sidecars started before it).
 */
export function podRequests(spec: Obj): Requests {
  const total: Requests = {};
  for (const container of (spec['containers'] ?? []) as Obj[]) add(total, containerRequests(container));
  const sidecars: Requests = {};
  const initPeak: Requests = {};
  for (const init of (spec['initContainers'] ?? []) as Obj[]) {
    const requests = containerRequests(init);
    if (isRestartableInit(init)) {
      add(sidecars, requests);
      maxInto(initPeak, { ...sidecars });
    } else {
      const during = { ...sidecars };
      add(during, requests);
      maxInto(initPeak, during);
    }
  }
  add(total, sidecars);
  maxInto(total, initPeak);
  return total;
}

function qosClass(spec: Obj): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const containers = [...((spec['initContainers'] ?? []) as Obj[]), ...((spec['containers'] ?? []) as Obj[])];
  let any = false;
  let guaranteed = true;
  for (const container of containers) {
    const requests: Obj = container['resources']?.['requests'] ?? {};
    const limits: Obj = container['resources']?.['limits'] ?? {};
    if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0) any = true;
    for (const resource of ['cpu', 'memory']) {
      if (limits[resource] === undefined || String(requests[resource] ?? limits[resource]) !== String(limits[resource])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** A stable 64-hex-digit identity for something the runtime made (container IDs, image IDs). */
export function runtimeId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}
