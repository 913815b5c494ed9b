// The endpoints controller: for each Service with a selector, an Endpoints object listing the pods it selects that
// have an IP, the Ready ones as addresses and the others as notReadyAddresses (all as addresses with
// publishNotReadyAddresses), each with its node and a targetRef to the pod; pods grouped into subsets by the ports
// their containers resolve named targetPorts to. A Service without a selector keeps the Endpoints written by hand.

import type { Cluster, Obj } from './cluster.js';
import { isPodReady, isTerminal } from './pods.js';
import { mapSelects } from './selectors.js';

function resolvePorts(service: Obj, pod: Obj): Obj[] | undefined {
  const ports: Obj[] = [];
  for (const port of (service['spec']?.['ports'] ?? []) as Obj[]) {
    const target = port['targetPort'] ?? port['port'];
    let number: number | undefined = typeof target === 'number' ? target : Number.isInteger(Number(target)) ? Number(target) : undefined;
    if (number === undefined) {
      const named = ((pod['spec']?.['containers'] ?? []) as Obj[]).flatMap((c) => (c['ports'] ?? []) as Obj[]).find((p) => p['name'] === target && (p['protocol'] ?? 'TCP') === (port['protocol'] ?? 'TCP'));
      number = named?.['containerPort'];
    }
    if (number === undefined) continue;
    ports.push({ ...(port['name'] !== undefined ? { name: port['name'] } : {}), port: number, protocol: port['protocol'] ?? 'TCP' });
  }
  return ports.length === 0 && ((service['spec']?.['ports'] ?? []) as Obj[]).length > 0 ? undefined : ports;
}

export function reconcileEndpoints(cluster: Cluster): void {
  // Pods by namespace and by each of their labels, so a Service looks only at the pods that carry one of its labels.
  const podsByLabel = new Map<string, Obj[]>();
  const add = (key: string, pod: Obj) => {
    const list = podsByLabel.get(key);
    if (list) list.push(pod);
    else podsByLabel.set(key, [pod]);
  };
  for (const pod of cluster.list('Pod')) {
    if (isTerminal(pod) || pod['status']?.['podIP'] === undefined || pod['metadata']['deletionTimestamp'] !== undefined) continue;
    const namespace = pod['metadata']['namespace'];
    add(namespace, pod);
    for (const [k, v] of Object.entries((pod['metadata']['labels'] ?? {}) as Record<string, string>)) add(`${namespace}\u0000${k}=${v}`, pod);
  }
  const candidates = (namespace: string, selector: Record<string, string>): Obj[] => {
    const lists = Object.entries(selector).map(([k, v]) => podsByLabel.get(`${namespace}\u0000${k}=${v}`) ?? []);
    if (lists.length === 0) return podsByLabel.get(namespace) ?? [];
    return lists.reduce((smallest, list) => (list.length < smallest.length ? list : smallest));
  };
  for (const service of cluster.list('Service')) {
    const selector = service['spec']?.['selector'];
    if (selector === undefined || service['spec']?.['type'] === 'ExternalName') continue;
    const namespace = service['metadata']['namespace'];
    const publishAll = service['spec']?.['publishNotReadyAddresses'] === true;
    const subsets = new Map<string, Obj>();
    for (const pod of candidates(namespace, selector)) {
      if (!mapSelects(selector, pod['metadata']['labels'] ?? {})) continue;
      const ports = resolvePorts(service, pod);
      if (ports === undefined) continue;
      const key = JSON.stringify(ports);
      const subset = subsets.get(key) ?? { addresses: [], notReadyAddresses: [], ports };
      subsets.set(key, subset);
      const address = { ip: pod['status']['podIP'], nodeName: pod['spec']['nodeName'], targetRef: { kind: 'Pod', namespace, name: pod['metadata']['name'], uid: pod['metadata']['uid'] } };
      (publishAll || isPodReady(pod) ? subset['addresses'] : subset['notReadyAddresses']).push(address);
    }
    const list = [...subsets.values()].map((subset) => {
      const byIp = (a: Obj, b: Obj) => (a['ip'] < b['ip'] ? -1 : a['ip'] > b['ip'] ? 1 : 0);
      const out: Obj = {};
      if (subset['addresses'].length > 0) out['addresses'] = subset['addresses'].sort(byIp);
      if (subset['notReadyAddresses'].length > 0) out['notReadyAddresses'] = subset['notReadyAddresses'].sort(byIp);
      if (subset['ports'].length > 0) out['ports'] = subset['ports'];
      return out;
    });
    const existing = cluster.get('Endpoints', namespace, service['metadata']['name']);
    if (existing !== undefined && JSON.stringify(existing['subsets'] ?? []) === JSON.stringify(list)) continue;
    const endpoints: Obj = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { ...structuredClone(existing?.['metadata'] ?? {}), name: service['metadata']['name'], namespace, ...(service['metadata']['labels'] ? { labels: service['metadata']['labels'] } : {}) },
    };
    if (list.length > 0) endpoints['subsets'] = list;
    cluster.save(endpoints, 'kube-controller-manager');
  }
}
