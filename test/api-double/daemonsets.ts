// The daemonset controller: one pod <daemonset>-<5 random characters> for each node that should run it (the pod
// template's node selector and affinity match the node, and the template's tolerations, with those the controller
// adds, tolerate its NoSchedule and NoExecute taints; a cordoned node still runs daemon pods, as real). Each pod is
// pinned to its node by node affinity on metadata.name and placed by the scheduler. A failed pod is replaced, a new
// template rolls one node at a time, and the status counts what the controller counts.

import { byController, type Cluster, type Obj } from './cluster.js';
import { PodMaker, simplePodEvents } from './pod-maker.js';
import { isPodAvailable, isPodReady, isTerminal, podFromTemplate, templateHash } from './pods.js';
import { podMatchesNode, untoleratedTaint } from './selectors.js';

const EVENTS = simplePodEvents('daemonset-controller');
const REVISION_LABEL = 'controller-revision-hash';

const DAEMON_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

function tolerationsFor(templateSpec: Obj): Obj[] {
  const given = (templateSpec['tolerations'] ?? []) as Obj[];
  const extra = [...DAEMON_TOLERATIONS];
  if (templateSpec['hostNetwork'] === true) extra.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return [...given, ...extra.filter((t) => !given.some((g) => g['key'] === t['key'] && g['effect'] === t['effect']))];
}

/** The node a daemon pod is for: its node name, or the metadata.name its node affinity requires. */
function nodeOf(pod: Obj): string | undefined {
  if (pod['spec']?.['nodeName'] !== undefined) return pod['spec']['nodeName'];
  const terms = (pod['spec']?.['affinity']?.['nodeAffinity']?.['requiredDuringSchedulingIgnoredDuringExecution']?.['nodeSelectorTerms'] ?? []) as Obj[];
  for (const term of terms) for (const field of (term['matchFields'] ?? []) as Obj[]) if (field['key'] === 'metadata.name') return field['values']?.[0];
  return undefined;
}

export class DaemonSetController {
  private readonly cluster: Cluster;
  private readonly pods: PodMaker;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.pods = new PodMaker(cluster);
  }

  private shouldRun(set: Obj, node: Obj): boolean {
    const spec = set['spec']?.['template']?.['spec'] ?? {};
    return podMatchesNode(spec, node) && untoleratedTaint(node, tolerationsFor(spec)) === undefined;
  }

  sync(now: number): void {
    const podsOf = byController(this.cluster.list('Pod'));
    const nodes = this.cluster.list('Node');
    const live = new Set<string>();
    for (const set of this.cluster.list('DaemonSet')) {
      live.add(set['metadata']['uid']);
      this.syncSet(set, nodes, podsOf.get(set['metadata']['uid']) ?? [], now);
    }
    this.pods.forget(live);
  }

  private syncSet(set: Obj, nodes: readonly Obj[], owned: readonly Obj[], now: number): void {
    const revision = templateHash(set['spec']?.['template']);
    const byNode = new Map<string, Obj[]>();
    for (const pod of owned) {
      const node = nodeOf(pod) ?? '';
      byNode.set(node, [...(byNode.get(node) ?? []), pod]);
    }
    let unavailable = 0;
    const stale: Obj[] = [];
    for (const node of nodes) {
      const name = node['metadata']['name'];
      const pods = byNode.get(name) ?? [];
      byNode.delete(name);
      if (!this.shouldRun(set, node)) {
        for (const pod of pods) this.pods.delete(set, pod, EVENTS);
        continue;
      }
      const failed = pods.filter((p) => p['status']?.['phase'] === 'Failed');
      for (const pod of failed) {
        this.cluster.events.record(set, undefined, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${pod['metadata']['namespace']}/${pod['metadata']['name']} on node ${name}, will try to kill it`, { component: 'daemonset-controller' });
        this.pods.delete(set, pod, EVENTS);
      }
      const running = pods.filter((p) => !failed.includes(p) && !isTerminal(p));
      if (running.length === 0) {
        if (this.pods.mayCreate(set, now)) this.createPod(set, name, revision, now);
        unavailable++;
        continue;
      }
      for (const extra of running.slice(1)) this.pods.delete(set, extra, EVENTS);
      if (!isPodReady(running[0]!)) unavailable++;
      if (running[0]!['metadata']['labels']?.[REVISION_LABEL] !== revision) stale.push(running[0]!);
    }
    // Pods for nodes that are gone.
    for (const pods of byNode.values()) for (const pod of pods) this.pods.delete(set, pod, EVENTS);
    // RollingUpdate with maxUnavailable 1 (the default): one old pod at a time, while the others are available.
    if (set['spec']?.['updateStrategy']?.['type'] === 'OnDelete') return;
    const maxUnavailable = Number(set['spec']?.['updateStrategy']?.['rollingUpdate']?.['maxUnavailable'] ?? 1) || 1;
    for (const pod of stale.slice(0, Math.max(0, maxUnavailable - unavailable))) this.pods.delete(set, pod, EVENTS);
  }

  private createPod(set: Obj, node: string, revision: string, now: number): void {
    const template = set['spec']?.['template'] ?? {};
    const templateSpec = template['spec'] ?? {};
    const nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] } };
    const spec = { affinity: { ...(templateSpec['affinity'] ?? {}), nodeAffinity }, tolerations: tolerationsFor(templateSpec) };
    const labels = { [REVISION_LABEL]: revision, 'pod-template-generation': String(set['metadata']['generation'] ?? 1) };
    this.pods.create(set, podFromTemplate(template, set, { generateName: `${set['metadata']['name']}-` }, { labels, spec }), EVENTS, now);
  }

  updateStatus(now: number): void {
    const podsOf = byController(this.cluster.list('Pod'));
    const nodes = this.cluster.list('Node');
    for (const set of this.cluster.list('DaemonSet')) {
      const revision = templateHash(set['spec']?.['template']);
      const minReady = set['spec']?.['minReadySeconds'] ?? 0;
      const pods = (podsOf.get(set['metadata']['uid']) ?? []).filter((p) => !isTerminal(p));
      const should = nodes.filter((node) => this.shouldRun(set, node)).map((node) => node['metadata']['name']);
      const onNode = (name: string) => pods.find((p) => nodeOf(p) === name);
      const scheduled = should.map(onNode).filter((p): p is Obj => p !== undefined);
      const available = scheduled.filter((p) => isPodAvailable(p, minReady, now)).length;
      const status: Obj = {
        currentNumberScheduled: scheduled.length,
        numberMisscheduled: pods.filter((p) => !should.includes(nodeOf(p) ?? '')).length,
        desiredNumberScheduled: should.length,
        numberReady: scheduled.filter(isPodReady).length,
        observedGeneration: set['metadata']['generation'],
        updatedNumberScheduled: scheduled.filter((p) => p['metadata']['labels']?.[REVISION_LABEL] === revision).length,
        numberAvailable: available,
        numberUnavailable: should.length - available,
      };
      for (const field of ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable']) if (status[field] === 0) delete status[field];
      if (JSON.stringify(status) === JSON.stringify(set['status'] ?? {})) continue;
      this.cluster.save({ ...structuredClone(set), status }, 'kube-controller-manager', 'status');
    }
  }
}
