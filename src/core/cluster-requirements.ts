// What a cluster must offer for the manifests to come up, summed at build time so the installer's preflight compares
// plain numbers: the CPU and memory every pod requests at once (replicas counted, DaemonSets once per node, Istio's
// sidecar added where it is injected), the largest single pod, the claims that need a default StorageClass, and the
// Kubernetes versions the release supports (from its bundle spec).

import { describeObject, isRecord, type KubernetesObject } from './k8s-object.js';
import { cpuMillis, memoryBytes } from './resource-quantity.js';

export interface ResourceSum {
  cpuMillis: number;
  memoryBytes: number;
  pods: number;
}

export interface KubernetesRange {
  /** Oldest supported `MAJOR.MINOR`. */
  min: string;
  /** Newest supported (tested) `MAJOR.MINOR`. */
  max: string;
}

export interface ClusterRequirements {
  /** Every pod the manifests start but DaemonSets', requested at once. */
  requests: ResourceSum;
  /** A DaemonSet's pods run on every node: what each node gives them. */
  perNode: ResourceSum;
  /** Istio sidecars counted in `requests` and `perNode`: how many, and the proxy's request each. */
  sidecars: { pods: number; cpuMillis: number; memoryBytes: number };
  /** The pod asking for the most CPU (memory breaks ties), DaemonSets' aside: some node must fit it whole. */
  largestPod?: { name: string; cpuMillis: number; memoryBytes: number } | undefined;
  /** Claims with no storageClassName, which only a default StorageClass provisions: `namespace/name`. */
  defaultClassClaims: string[];
  /** What every claim requests together, in bytes. */
  storageBytes: number;
  kubernetes?: KubernetesRange | undefined;
}

type Obj = Record<string, unknown>;

const record = (value: unknown): Obj => (isRecord(value) ? value : {});
const list = (value: unknown): Obj[] => (Array.isArray(value) ? value.filter(isRecord) : []);

/** A container's request: requests, else limits (the API server defaults one to the other). */
function containerRequest(container: Obj): { cpu: number; memory: number } {
  const resources = record(container['resources']);
  const requests = record(resources['requests']);
  const limits = record(resources['limits']);
  const quantity = (name: string, parse: (q: string | number) => number | undefined) => {
    const value = requests[name] ?? limits[name];
    return typeof value === 'string' || typeof value === 'number' ? (parse(value) ?? 0) : 0;
  };
  return { cpu: quantity('cpu', cpuMillis), memory: quantity('memory', memoryBytes) };
}

/**
 * A pod's effective request as the scheduler counts it: the containers summed, or the largest init container when
 * that is more (init containers run one at a time, before the rest); sidecar-style init containers (restartPolicy
 * Always) keep running, so they add to the sum.
 */
export function podRequest(podSpec: Obj, sidecar?: { cpuMillis: number; memoryBytes: number }): { cpuMillis: number; memoryBytes: number } {
  let cpu = sidecar?.cpuMillis ?? 0;
  let memory = sidecar?.memoryBytes ?? 0;
  let initCpu = 0;
  let initMemory = 0;
  for (const container of list(podSpec['containers'])) {
    const request = containerRequest(container);
    cpu += request.cpu;
    memory += request.memory;
  }
  for (const container of list(podSpec['initContainers'])) {
    const request = containerRequest(container);
    if (container['restartPolicy'] === 'Always') {
      cpu += request.cpu;
      memory += request.memory;
    } else {
      initCpu = Math.max(initCpu, request.cpu);
      initMemory = Math.max(initMemory, request.memory);
    }
  }
  return { cpuMillis: Math.max(cpu, initCpu), memoryBytes: Math.max(memory, initMemory) };
}

/** The pod template and how many pods of it run at once, for the kinds that start pods at install time. */
function podsOf(object: KubernetesObject): { template: Obj; count: number; perNode: boolean } | undefined {
  const spec = record(object['spec']);
  const count = (field: unknown) => (typeof field === 'number' && field >= 0 ? field : 1);
  switch (object.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
      return { template: record(spec['template']), count: count(spec['replicas']), perNode: false };
    case 'Job':
      return { template: record(spec['template']), count: count(spec['parallelism']), perNode: false };
    case 'DaemonSet':
      return { template: record(spec['template']), count: 1, perNode: true };
    case 'Pod':
      return { template: { metadata: object.metadata, spec }, count: 1, perNode: false };
    default:
      return undefined;
  }
}

/**
 * Istio's proxy request (from the sidecar injector's values in the release), and the namespaces labelled for
 * injection; undefined when the release has no injector.
 */
function istioSidecar(objects: readonly KubernetesObject[]): { request: { cpuMillis: number; memoryBytes: number }; namespaces: Set<string> } | undefined {
  const injector = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'istio-sidecar-injector');
  if (injector === undefined) return undefined;
  const values = record(injector['data'])['values'];
  let parsed: unknown;
  try {
    parsed = typeof values === 'string' ? JSON.parse(values) : undefined;
  } catch {
    parsed = undefined;
  }
  const requests = record(record(record(record(record(parsed)['global'])['proxy'])['resources'])['requests']);
  const request = containerRequest({ resources: { requests } });
  const namespaces = new Set(
    objects.filter((o) => o.kind === 'Namespace' && record(o.metadata?.labels)['istio-injection'] === 'enabled').map((o) => o.metadata?.name ?? ''),
  );
  return { request: { cpuMillis: request.cpu, memoryBytes: request.memory }, namespaces };
}

/** Whether Istio injects its proxy into pods of this template: the namespace's label, unless the pod opts out. */
function injected(template: Obj, namespace: string | undefined, namespaces: ReadonlySet<string>): boolean {
  const meta = record(template['metadata']);
  const choice = [record(meta['labels']), record(meta['annotations'])].map((m) => m['sidecar.istio.io/inject']).find((v) => v !== undefined);
  if (choice === 'false') return false;
  if (choice === 'true') return true;
  return namespace !== undefined && namespaces.has(namespace);
}

function claimBytes(spec: Obj): number {
  const storage = record(record(spec['resources'])['requests'])['storage'];
  return typeof storage === 'string' || typeof storage === 'number' ? (memoryBytes(storage) ?? 0) : 0;
}

/** Sums what the objects ask of a cluster. */
export function clusterRequirements(objects: readonly KubernetesObject[], kubernetes?: KubernetesRange): ClusterRequirements {
  const istio = istioSidecar(objects);
  const requests: ResourceSum = { cpuMillis: 0, memoryBytes: 0, pods: 0 };
  const perNode: ResourceSum = { cpuMillis: 0, memoryBytes: 0, pods: 0 };
  const sidecars = { pods: 0, cpuMillis: istio?.request.cpuMillis ?? 0, memoryBytes: istio?.request.memoryBytes ?? 0 };
  const defaultClassClaims: string[] = [];
  let storageBytes = 0;
  let largestPod: ClusterRequirements['largestPod'];

  const claim = (namespace: string | undefined, name: string, spec: Obj, count: number) => {
    storageBytes += claimBytes(spec) * count;
    // An explicit "" asks for a pre-made volume, not a provisioned one.
    if (spec['storageClassName'] === undefined || spec['storageClassName'] === null) defaultClassClaims.push(`${namespace ?? 'default'}/${name}`);
  };

  for (const object of objects) {
    if (object.kind === 'PersistentVolumeClaim') claim(object.metadata?.namespace, object.metadata?.name ?? '', record(object['spec']), 1);
    const pods = podsOf(object);
    if (pods === undefined || pods.count === 0) continue;
    const namespace = object.metadata?.namespace;
    const withSidecar = istio !== undefined && injected(pods.template, namespace, istio.namespaces);
    const request = podRequest(record(pods.template['spec']), withSidecar ? istio.request : undefined);
    const sum = pods.perNode ? perNode : requests;
    sum.cpuMillis += request.cpuMillis * pods.count;
    sum.memoryBytes += request.memoryBytes * pods.count;
    sum.pods += pods.count;
    if (withSidecar) sidecars.pods += pods.count;
    // DaemonSets' pods are on every node already (perNode), beside whichever pod is the largest.
    if (!pods.perNode && (largestPod === undefined || request.cpuMillis > largestPod.cpuMillis || (request.cpuMillis === largestPod.cpuMillis && request.memoryBytes > largestPod.memoryBytes))) {
      largestPod = { name: describeObject(object), ...request };
    }
    if (object.kind === 'StatefulSet') {
      for (const template of list(record(object['spec'])['volumeClaimTemplates'])) {
        const name = String(record(template['metadata'])['name'] ?? '');
        for (let ordinal = 0; ordinal < pods.count; ordinal++) claim(namespace, `${name}-${object.metadata?.name}-${ordinal}`, record(template['spec']), 1);
      }
    }
  }
  return { requests, perNode, sidecars, largestPod, defaultClassClaims: defaultClassClaims.sort(), storageBytes, kubernetes };
}
