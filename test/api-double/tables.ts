// Server-side printing: what `kubectl get` shows comes from the API server as a meta.k8s.io/v1 Table when kubectl
// asks for one (Accept: application/json;as=Table;…). The columns and cells follow the API server's printers
// (pkg/printers/internalversion) for the kinds an install looks at; other built-in kinds get Name and Created At,
// custom resources their additionalPrinterColumns (simple paths) or Name and Age. Wide columns have priority 1.

import type { Obj } from './cluster.js';
import { storageClassIsDefault } from './storage.js';

interface Column {
  name: string;
  type?: string;
  format?: string;
  priority?: number;
}

interface Printer {
  columns: Column[];
  cells: (object: Obj, now: number) => unknown[];
}

/** duration.HumanDuration, as `kubectl get` ages read. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

const since = (time: string | null | undefined, now: number): string => (time ? humanDuration(now - Date.parse(time)) : '<unknown>');
const age = (object: Obj, now: number) => since(object['metadata']['creationTimestamp'], now);
const none = (value: unknown): string => (value === undefined || value === null || value === '' ? '<none>' : String(value));
const NAME: Column = { name: 'Name', type: 'string', format: 'name' };
const AGE: Column = { name: 'Age', type: 'string' };

function containersAndImages(podSpec: Obj | undefined): [string, string] {
  const containers = (podSpec?.['containers'] ?? []) as Obj[];
  return [containers.map((c) => c['name']).join(','), containers.map((c) => c['image']).join(',')];
}

function selectorText(selector: Obj | undefined): string {
  if (selector === undefined) return '<none>';
  const parts = Object.entries(selector['matchLabels'] ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of (selector['matchExpressions'] ?? []) as Obj[]) {
    const op = String(e['operator']).toLowerCase();
    if (op === 'exists') parts.push(e['key']);
    else if (op === 'doesnotexist') parts.push(`!${e['key']}`);
    else parts.push(`${e['key']} ${op} (${(e['values'] ?? []).join(',')})`);
  }
  return parts.length === 0 ? '<none>' : parts.join(',');
}

/** The STATUS column of `kubectl get pods` (printPod). */
function podStatus(pod: Obj, now: number): { ready: string; reason: string; restarts: string } {
  const spec = pod['spec'] ?? {};
  const status = pod['status'] ?? {};
  let reason: string = status['reason'] ?? status['phase'] ?? 'Pending';
  const inits = (spec['initContainers'] ?? []) as Obj[];
  const restartable = new Set(inits.filter((c) => c['restartPolicy'] === 'Always').map((c) => c['name']));
  let total = ((spec['containers'] ?? []) as Obj[]).length + restartable.size;
  let ready = 0;
  let restarts = 0;
  let lastRestart = 0;
  const noteRestart = (s: Obj) => {
    const finished = s['lastState']?.['terminated']?.['finishedAt'];
    if (finished) lastRestart = Math.max(lastRestart, Date.parse(finished));
  };
  let initializing = false;
  const initStatuses = (status['initContainerStatuses'] ?? []) as Obj[];
  for (let i = 0; i < initStatuses.length; i++) {
    const s = initStatuses[i]!;
    restarts += s['restartCount'] ?? 0;
    noteRestart(s);
    const terminated = s['state']?.['terminated'];
    const waiting = s['state']?.['waiting'];
    if (terminated?.['exitCode'] === 0) continue;
    if (restartable.has(s['name']) && s['started'] === true) {
      if (s['ready']) ready++;
      continue;
    }
    if (terminated !== undefined) reason = terminated['reason'] ? `Init:${terminated['reason']}` : `Init:ExitCode:${terminated['exitCode']}`;
    else if (waiting?.['reason'] && waiting['reason'] !== 'PodInitializing') reason = `Init:${waiting['reason']}`;
    else reason = `Init:${i}/${inits.length}`;
    initializing = true;
    break;
  }
  const initialized = ((status['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Initialized' && c['status'] === 'True');
  if (!initializing || initialized) {
    let hasRunning = false;
    const statuses = (status['containerStatuses'] ?? []) as Obj[];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const s = statuses[i]!;
      restarts += s['restartCount'] ?? 0;
      noteRestart(s);
      const waiting = s['state']?.['waiting'];
      const terminated = s['state']?.['terminated'];
      if (waiting?.['reason']) reason = waiting['reason'];
      else if (terminated?.['reason']) reason = terminated['reason'];
      else if (terminated !== undefined) reason = terminated['signal'] ? `Signal:${terminated['signal']}` : `ExitCode:${terminated['exitCode']}`;
      else if (s['ready'] && s['state']?.['running'] !== undefined) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = ((status['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (pod['metadata']['deletionTimestamp'] !== undefined && reason !== 'Succeeded' && reason !== 'Failed') reason = 'Terminating';
  total = Math.max(total, 0);
  const restartText = restarts !== 0 && lastRestart > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, reason, restarts: restartText };
}

function accessModes(modes: string[] | undefined): string {
  const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
  return (modes ?? []).map((m) => short[m] ?? m).join(',');
}

const PRINTERS: Record<string, Printer> = {
  Pod: {
    columns: [NAME, { name: 'Ready', type: 'string' }, { name: 'Status', type: 'string' }, { name: 'Restarts', type: 'string' }, AGE, { name: 'IP', type: 'string', priority: 1 }, { name: 'Node', type: 'string', priority: 1 }, { name: 'Nominated Node', type: 'string', priority: 1 }, { name: 'Readiness Gates', type: 'string', priority: 1 }],
    cells: (pod, now) => {
      const { ready, reason, restarts } = podStatus(pod, now);
      return [pod['metadata']['name'], ready, reason, restarts, age(pod, now), none(pod['status']?.['podIP']), none(pod['spec']?.['nodeName']), none(pod['status']?.['nominatedNodeName']), '<none>'];
    },
  },
  Node: {
    columns: [NAME, { name: 'Status', type: 'string' }, { name: 'Roles', type: 'string' }, AGE, { name: 'Version', type: 'string' }, { name: 'Internal-IP', type: 'string', priority: 1 }, { name: 'External-IP', type: 'string', priority: 1 }, { name: 'OS-Image', type: 'string', priority: 1 }, { name: 'Kernel-Version', type: 'string', priority: 1 }, { name: 'Container-Runtime', type: 'string', priority: 1 }],
    cells: (node, now) => {
      const ready = ((node['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'Ready');
      const states = [ready === undefined ? 'Unknown' : ready['status'] === 'True' ? 'Ready' : 'NotReady'];
      if (node['spec']?.['unschedulable'] === true) states.push('SchedulingDisabled');
      const roles = Object.keys(node['metadata']['labels'] ?? {}).filter((l) => l.startsWith('node-role.kubernetes.io/')).map((l) => l.slice('node-role.kubernetes.io/'.length));
      const address = (type: string) => ((node['status']?.['addresses'] ?? []) as Obj[]).find((a) => a['type'] === type)?.['address'];
      const info = node['status']?.['nodeInfo'] ?? {};
      return [node['metadata']['name'], states.join(','), roles.length === 0 ? '<none>' : roles.sort().join(','), age(node, now), info['kubeletVersion'] ?? '', none(address('InternalIP')), none(address('ExternalIP')), info['osImage'] ?? '', info['kernelVersion'] ?? '', info['containerRuntimeVersion'] ?? ''];
    },
  },
  Event: {
    columns: [{ name: 'Last Seen', type: 'string' }, { name: 'Type', type: 'string' }, { name: 'Reason', type: 'string' }, { name: 'Object', type: 'string' }, { name: 'Subobject', type: 'string', priority: 1 }, { name: 'Source', type: 'string', priority: 1 }, { name: 'Message', type: 'string' }, { name: 'First Seen', type: 'string', priority: 1 }, { name: 'Count', type: 'string', priority: 1 }, { name: 'Name', type: 'string', format: 'name', priority: 1 }],
    cells: (event, now) => {
      const first = event['firstTimestamp'] ? since(event['firstTimestamp'], now) : since(event['eventTime'], now);
      let last = event['lastTimestamp'] ? since(event['lastTimestamp'], now) : first;
      let count = event['count'] ?? 1;
      if (event['series'] !== undefined) {
        last = since(event['series']['lastObservedTime'], now);
        count = event['series']['count'];
      }
      const involved = event['involvedObject'] ?? {};
      const target = involved['name'] ? `${String(involved['kind']).toLowerCase()}/${involved['name']}` : String(involved['kind'] ?? '').toLowerCase();
      const component = event['source']?.['component'] || event['reportingComponent'] || '';
      const host = event['source']?.['host'] || event['reportingInstance'] || '';
      const source = component === '' ? '<unknown>' : host === '' ? component : `${component}, ${host}`;
      return [last, event['type'], event['reason'], target, involved['fieldPath'] ?? '', source, String(event['message'] ?? '').trim(), first, count, event['metadata']['name']];
    },
  },
  PersistentVolumeClaim: {
    columns: [NAME, { name: 'Status', type: 'string' }, { name: 'Volume', type: 'string' }, { name: 'Capacity', type: 'string' }, { name: 'Access Modes', type: 'string' }, { name: 'StorageClass', type: 'string' }, { name: 'VolumeAttributesClass', type: 'string' }, AGE, { name: 'VolumeMode', type: 'string', priority: 1 }],
    cells: (claim, now) => [
      claim['metadata']['name'],
      claim['metadata']['deletionTimestamp'] ? 'Terminating' : (claim['status']?.['phase'] ?? 'Pending'),
      claim['spec']?.['volumeName'] ?? '',
      claim['status']?.['capacity']?.['storage'] ?? '',
      accessModes(claim['status']?.['accessModes']),
      claim['metadata']['annotations']?.['volume.beta.kubernetes.io/storage-class'] ?? claim['spec']?.['storageClassName'] ?? '',
      claim['spec']?.['volumeAttributesClassName'] ?? '<unset>',
      age(claim, now),
      claim['spec']?.['volumeMode'] ?? 'Filesystem',
    ],
  },
  PersistentVolume: {
    columns: [NAME, { name: 'Capacity', type: 'string' }, { name: 'Access Modes', type: 'string' }, { name: 'Reclaim Policy', type: 'string' }, { name: 'Status', type: 'string' }, { name: 'Claim', type: 'string' }, { name: 'StorageClass', type: 'string' }, { name: 'VolumeAttributesClass', type: 'string' }, { name: 'Reason', type: 'string' }, AGE, { name: 'VolumeMode', type: 'string', priority: 1 }],
    cells: (volume, now) => {
      const ref = volume['spec']?.['claimRef'];
      return [volume['metadata']['name'], volume['spec']?.['capacity']?.['storage'] ?? '', accessModes(volume['spec']?.['accessModes']), volume['spec']?.['persistentVolumeReclaimPolicy'] ?? 'Retain', volume['status']?.['phase'] ?? 'Pending', ref ? `${ref['namespace']}/${ref['name']}` : '', volume['spec']?.['storageClassName'] ?? '', '<unset>', volume['status']?.['reason'] ?? '', age(volume, now), volume['spec']?.['volumeMode'] ?? 'Filesystem'];
    },
  },
  StorageClass: {
    columns: [NAME, { name: 'Provisioner', type: 'string' }, { name: 'ReclaimPolicy', type: 'string' }, { name: 'VolumeBindingMode', type: 'string' }, { name: 'AllowVolumeExpansion', type: 'string' }, AGE],
    cells: (storageClass, now) => [
      storageClassIsDefault(storageClass) ? `${storageClass['metadata']['name']} (default)` : storageClass['metadata']['name'],
      storageClass['provisioner'],
      storageClass['reclaimPolicy'] ?? 'Delete',
      storageClass['volumeBindingMode'] ?? 'Immediate',
      storageClass['allowVolumeExpansion'] === true,
      age(storageClass, now),
    ],
  },
  Deployment: {
    columns: [NAME, { name: 'Ready', type: 'string' }, { name: 'Up-to-date', type: 'string' }, { name: 'Available', type: 'string' }, AGE, { name: 'Containers', type: 'string', priority: 1 }, { name: 'Images', type: 'string', priority: 1 }, { name: 'Selector', type: 'string', priority: 1 }],
    cells: (d, now) => [d['metadata']['name'], `${d['status']?.['readyReplicas'] ?? 0}/${d['spec']?.['replicas'] ?? 1}`, d['status']?.['updatedReplicas'] ?? 0, d['status']?.['availableReplicas'] ?? 0, age(d, now), ...containersAndImages(d['spec']?.['template']?.['spec']), selectorText(d['spec']?.['selector'])],
  },
  ReplicaSet: {
    columns: [NAME, { name: 'Desired', type: 'integer' }, { name: 'Current', type: 'integer' }, { name: 'Ready', type: 'integer' }, AGE, { name: 'Containers', type: 'string', priority: 1 }, { name: 'Images', type: 'string', priority: 1 }, { name: 'Selector', type: 'string', priority: 1 }],
    cells: (rs, now) => [rs['metadata']['name'], rs['spec']?.['replicas'] ?? 1, rs['status']?.['replicas'] ?? 0, rs['status']?.['readyReplicas'] ?? 0, age(rs, now), ...containersAndImages(rs['spec']?.['template']?.['spec']), selectorText(rs['spec']?.['selector'])],
  },
  StatefulSet: {
    columns: [NAME, { name: 'Ready', type: 'string' }, AGE, { name: 'Containers', type: 'string', priority: 1 }, { name: 'Images', type: 'string', priority: 1 }],
    cells: (s, now) => [s['metadata']['name'], `${s['status']?.['readyReplicas'] ?? 0}/${s['spec']?.['replicas'] ?? 1}`, age(s, now), ...containersAndImages(s['spec']?.['template']?.['spec'])],
  },
  DaemonSet: {
    columns: [NAME, { name: 'Desired', type: 'integer' }, { name: 'Current', type: 'integer' }, { name: 'Ready', type: 'integer' }, { name: 'Up-to-date', type: 'integer' }, { name: 'Available', type: 'integer' }, { name: 'Node Selector', type: 'string' }, AGE, { name: 'Containers', type: 'string', priority: 1 }, { name: 'Images', type: 'string', priority: 1 }, { name: 'Selector', type: 'string', priority: 1 }],
    cells: (d, now) => {
      const status = d['status'] ?? {};
      const nodeSelector = Object.entries(d['spec']?.['template']?.['spec']?.['nodeSelector'] ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      return [d['metadata']['name'], status['desiredNumberScheduled'] ?? 0, status['currentNumberScheduled'] ?? 0, status['numberReady'] ?? 0, status['updatedNumberScheduled'] ?? 0, status['numberAvailable'] ?? 0, nodeSelector || '<none>', age(d, now), ...containersAndImages(d['spec']?.['template']?.['spec']), selectorText(d['spec']?.['selector'])];
    },
  },
  Job: {
    columns: [NAME, { name: 'Status', type: 'string' }, { name: 'Completions', type: 'string' }, { name: 'Duration', type: 'string' }, AGE, { name: 'Containers', type: 'string', priority: 1 }, { name: 'Images', type: 'string', priority: 1 }, { name: 'Selector', type: 'string', priority: 1 }],
    cells: (job, now) => {
      const status = job['status'] ?? {};
      const conditions = (status['conditions'] ?? []) as Obj[];
      const has = (type: string) => conditions.some((c) => c['type'] === type && c['status'] === 'True');
      const state = has('Complete') ? 'Complete' : has('Failed') ? 'Failed' : job['spec']?.['suspend'] ? 'Suspended' : 'Running';
      const start = status['startTime'] ? Date.parse(status['startTime']) : undefined;
      const end = status['completionTime'] ? Date.parse(status['completionTime']) : now;
      return [job['metadata']['name'], state, `${status['succeeded'] ?? 0}/${job['spec']?.['completions'] ?? 1}`, start === undefined ? '' : humanDuration(end - start), age(job, now), ...containersAndImages(job['spec']?.['template']?.['spec']), selectorText(job['spec']?.['selector'])];
    },
  },
  Namespace: {
    columns: [NAME, { name: 'Status', type: 'string' }, AGE],
    cells: (ns, now) => [ns['metadata']['name'], ns['status']?.['phase'] ?? 'Active', age(ns, now)],
  },
  Service: {
    columns: [NAME, { name: 'Type', type: 'string' }, { name: 'Cluster-IP', type: 'string' }, { name: 'External-IP', type: 'string' }, { name: 'Port(s)', type: 'string' }, AGE, { name: 'Selector', type: 'string', priority: 1 }],
    cells: (svc, now) => {
      const spec = svc['spec'] ?? {};
      const ports = ((spec['ports'] ?? []) as Obj[]).map((p) => `${p['port']}${p['nodePort'] ? `:${p['nodePort']}` : ''}/${p['protocol'] ?? 'TCP'}`).join(',');
      const selector = Object.entries(spec['selector'] ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      return [svc['metadata']['name'], spec['type'] ?? 'ClusterIP', spec['clusterIP'] ?? '<none>', spec['type'] === 'LoadBalancer' ? '<pending>' : '<none>', ports || '<none>', age(svc, now), selector || '<none>'];
    },
  },
  ConfigMap: {
    columns: [NAME, { name: 'Data', type: 'integer' }, AGE],
    cells: (cm, now) => [cm['metadata']['name'], Object.keys(cm['data'] ?? {}).length + Object.keys(cm['binaryData'] ?? {}).length, age(cm, now)],
  },
  Secret: {
    columns: [NAME, { name: 'Type', type: 'string' }, { name: 'Data', type: 'integer' }, AGE],
    cells: (s, now) => [s['metadata']['name'], s['type'] ?? 'Opaque', Object.keys({ ...(s['data'] ?? {}), ...(s['stringData'] ?? {}) }).length, age(s, now)],
  },
  ServiceAccount: {
    columns: [NAME, { name: 'Secrets', type: 'integer' }, AGE],
    cells: (sa, now) => [sa['metadata']['name'], ((sa['secrets'] ?? []) as Obj[]).length, age(sa, now)],
  },
  Endpoints: {
    columns: [NAME, { name: 'Endpoints', type: 'string' }, AGE],
    cells: (ep, now) => {
      const list = ((ep['subsets'] ?? []) as Obj[]).flatMap((s) => ((s['addresses'] ?? []) as Obj[]).flatMap((a) => (((s['ports'] ?? []) as Obj[]).length > 0 ? (s['ports'] as Obj[]).map((p) => `${a['ip']}:${p['port']}`) : [a['ip']])));
      const text = list.length === 0 ? '<none>' : list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
      return [ep['metadata']['name'], text, age(ep, now)];
    },
  },
};

function valueAt(object: Obj, jsonPath: string): unknown {
  let current: unknown = object;
  for (const part of jsonPath.replace(/^\./, '').split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Obj)[part];
  }
  return current;
}

function customPrinter(crd: Obj | undefined, version: string): Printer {
  const columns = ((crd?.['spec']?.['versions'] ?? []) as Obj[]).find((v) => v['name'] === version)?.['additionalPrinterColumns'] as Obj[] | undefined;
  if (columns === undefined || columns.length === 0) return { columns: [NAME, AGE], cells: (o, now) => [o['metadata']['name'], age(o, now)] };
  return {
    columns: [NAME, ...columns.map((c) => ({ name: c['name'], type: c['type'] === 'date' ? 'date' : 'string', priority: c['priority'] ?? 0 }))],
    cells: (o, now) => [
      o['metadata']['name'],
      ...columns.map((c) => {
        const value = valueAt(o, String(c['jsonPath']));
        if (c['type'] === 'date') return typeof value === 'string' ? since(value, now) : '<unknown>';
        return value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : value;
      }),
    ],
  };
}

const GENERIC: Printer = { columns: [NAME, { name: 'Created At', type: 'date' }], cells: (o) => [o['metadata']['name'], o['metadata']['creationTimestamp']] };

/** The Table for these objects; `crd` is the definition when they are custom resources. */
export function toTable(kind: string, version: string, objects: readonly Obj[], includeObject: string, resourceVersion: string, crd: Obj | undefined | null): Obj {
  const printer = crd !== null ? customPrinter(crd, version) : (PRINTERS[kind] ?? GENERIC);
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: printer.columns.map((c) => ({ name: c.name, type: c.type ?? 'string', format: c.format ?? '', description: '', priority: c.priority ?? 0 })),
    rows: objects.map((object) => {
      const row: Obj = { cells: printer.cells(object, now) };
      if (includeObject === 'Object') row['object'] = object;
      else if (includeObject !== 'None') row['object'] = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object['metadata'] };
      return row;
    }),
  };
}
