// kube-scheduler for the pods nobody has placed yet (spec.nodeName unset, schedulerName default-scheduler), in
// priority order. As v1.32's default profile does it:
// - PreFilter VolumeBinding: a missing claim, or a claim that is not bound and not WaitForFirstConsumer, rejects the
//   pod on every node at once;
// - Filter, per node, stopping at the first plugin that fails: NodeUnschedulable, TaintToleration, NodeAffinity,
//   NodePorts, NodeResourcesFit (requests of the non-terminated pods on the node plus this pod's, against
//   allocatable);
// - PostFilter DefaultPreemption: lower-priority pods evicted when that makes the pod fit, else the reason per node;
// - Score: the feasible node with the smallest share of its CPU requested (then by name).
// An unschedulable pod gets PodScheduled False, reason Unschedulable and the scheduler's FitError message, and a
// FailedScheduling event; it is tried again when nodes, claims, classes or pods change (or every 10 s), so a fix
// schedules it within about a second.

import { type Cluster, type Obj } from './cluster.js';
import { isTerminal, podRequests, type Requests } from './pods.js';
import { resourceAmount } from './quantity.js';
import { podMatchesNode, tolerates, untoleratedTaint } from './selectors.js';
import { SELECTED_NODE_ANNOTATION, claimClass, isClaimBound } from './storage.js';

const RETRY_MS = 1000;
const PERIODIC_RETRY_MS = 10_000;
const INSTANCE = 'default-scheduler-kfbundle-double';

interface NodeUsage {
  node: Obj;
  requested: Requests;
  pods: Obj[];
  ports: Set<string>;
}

type Verdict = { fits: true } | { fits: false; reasons: string[]; unresolvable: boolean };

interface Attempt {
  at: number;
  fingerprint: string;
}

function hostPorts(spec: Obj): string[] {
  const ports: string[] = [];
  for (const container of [...((spec['initContainers'] ?? []) as Obj[]), ...((spec['containers'] ?? []) as Obj[])]) {
    for (const port of (container['ports'] ?? []) as Obj[]) {
      if (port['hostPort'] !== undefined && port['hostPort'] !== 0) ports.push(`${port['hostIP'] ?? '0.0.0.0'}/${port['protocol'] ?? 'TCP'}/${port['hostPort']}`);
    }
  }
  return ports;
}

function allocatable(node: Obj, resource: string): number {
  const value = node['status']?.['allocatable']?.[resource];
  return value === undefined ? 0 : resourceAmount(resource, value);
}

/** The FitError histogram: "2 Insufficient cpu, 1 node(s) didn't match …", sorted as text, as Go sorts it. */
function histogram(reasonsPerNode: readonly string[][]): string {
  const counts = new Map<string, number>();
  for (const reasons of reasonsPerNode) for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, count]) => `${count} ${reason}`).sort().join(', ');
}

export class Scheduler {
  private readonly cluster: Cluster;
  private readonly attempts = new Map<string, Attempt>();
  /** Bumped whenever something a pod's placement depends on changes beyond what resourceVersions show. */
  private freed = 0;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Tell the scheduler that capacity was freed (a pod deleted or finished), so pending pods are tried again. */
  podsChanged(): void {
    this.freed++;
  }

  private fingerprint(): string {
    const versions = (kind: string) => this.cluster.list(kind).reduce((max, o) => Math.max(max, Number(o['metadata']['resourceVersion'])), 0);
    return [versions('Node'), versions('PersistentVolumeClaim'), versions('StorageClass'), versions('PersistentVolume'), this.cluster.list('Node').length, this.freed].join('/');
  }

  reconcile(now: number): void {
    const pods = this.cluster.list('Pod');
    const pending = pods.filter(
      (p) => p['spec']?.['nodeName'] === undefined && !isTerminal(p) && p['metadata']['deletionTimestamp'] === undefined && (p['spec']?.['schedulerName'] ?? 'default-scheduler') === 'default-scheduler',
    );
    const live = new Set(pending.map((p) => p['metadata']['uid']));
    for (const uid of this.attempts.keys()) if (!live.has(uid)) this.attempts.delete(uid);
    if (pending.length === 0) return;

    const fingerprint = this.fingerprint();
    const due = pending.filter((pod) => {
      const attempt = this.attempts.get(pod['metadata']['uid']);
      if (attempt === undefined) return true;
      return (attempt.fingerprint !== fingerprint && now - attempt.at >= RETRY_MS) || now - attempt.at >= PERIODIC_RETRY_MS;
    });
    if (due.length === 0) return;
    // The active queue's order: higher priority first, then the older pod.
    due.sort((a, b) => (b['spec']?.['priority'] ?? 0) - (a['spec']?.['priority'] ?? 0) || Date.parse(a['metadata']['creationTimestamp']) - Date.parse(b['metadata']['creationTimestamp']));

    const usage = new Map<string, NodeUsage>();
    for (const node of this.cluster.list('Node')) usage.set(node['metadata']['name'], { node, requested: {}, pods: [], ports: new Set() });
    for (const pod of pods) {
      const entry = usage.get(pod['spec']?.['nodeName']);
      if (entry === undefined || isTerminal(pod)) continue;
      this.addPod(entry, pod);
    }
    for (const pod of due) {
      this.attempts.set(pod['metadata']['uid'], { at: now, fingerprint });
      this.schedule(pod, usage);
    }
  }

  private addPod(entry: NodeUsage, pod: Obj): void {
    for (const [resource, amount] of Object.entries(podRequests(pod['spec'] ?? {}))) entry.requested[resource] = (entry.requested[resource] ?? 0) + amount;
    entry.pods.push(pod);
    for (const port of hostPorts(pod['spec'] ?? {})) entry.ports.add(port);
  }

  private removePod(entry: NodeUsage, pod: Obj): void {
    for (const [resource, amount] of Object.entries(podRequests(pod['spec'] ?? {}))) entry.requested[resource] = (entry.requested[resource] ?? 0) - amount;
    entry.pods = entry.pods.filter((p) => p !== pod);
    entry.ports = new Set(entry.pods.flatMap((p) => hostPorts(p['spec'] ?? {})));
  }

  private schedule(pod: Obj, usage: Map<string, NodeUsage>): void {
    const total = usage.size;
    if (total === 0) return this.unschedulable(pod, 'no nodes available to schedule pods');
    const claimProblem = this.volumeBinding(pod);
    if (claimProblem !== undefined) {
      return this.unschedulable(pod, `0/${total} nodes are available: ${claimProblem}. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`);
    }
    const requests = podRequests(pod['spec'] ?? {});
    const verdicts = new Map<string, Verdict>();
    for (const [name, entry] of usage) verdicts.set(name, this.filter(pod, requests, entry));
    const feasible = [...usage.values()].filter((entry) => verdicts.get(entry.node['metadata']['name'])!.fits);
    if (feasible.length > 0) {
      const share = (entry: NodeUsage) => (entry.requested['cpu'] ?? 0) / Math.max(1, allocatable(entry.node, 'cpu'));
      feasible.sort((a, b) => share(a) - share(b) || (a.node['metadata']['name'] < b.node['metadata']['name'] ? -1 : 1));
      const chosen = feasible[0]!;
      this.bind(pod, chosen.node);
      this.addPod(chosen, pod);
      return;
    }
    const failures = [...verdicts.values()].filter((v): v is Extract<Verdict, { fits: false }> => !v.fits);
    const fitError = `0/${total} nodes are available: ${histogram(failures.map((v) => v.reasons))}.`;
    const preemption = this.preempt(pod, requests, usage, verdicts);
    this.unschedulable(pod, preemption === undefined ? fitError : `${fitError} preemption: ${preemption}`);
  }

  /** The VolumeBinding PreFilter's rejection, if any. */
  private volumeBinding(pod: Obj): string | undefined {
    const namespace = pod['metadata']['namespace'];
    const claims: Obj[] = [];
    for (const volume of (pod['spec']?.['volumes'] ?? []) as Obj[]) {
      const name = volume['persistentVolumeClaim']?.['claimName'];
      if (name === undefined) continue;
      const claim = this.cluster.get('PersistentVolumeClaim', namespace, name);
      if (claim === undefined) return `persistentvolumeclaim "${name}" not found`;
      if (claim['metadata']['deletionTimestamp'] !== undefined) return `persistentvolumeclaim "${name}" is being deleted`;
      claims.push(claim);
    }
    for (const claim of claims) {
      if (isClaimBound(claim)) continue;
      const storageClass = this.cluster.get('StorageClass', undefined, claimClass(claim));
      const delayed = storageClass?.['volumeBindingMode'] === 'WaitForFirstConsumer' && claim['spec']?.['volumeName'] === undefined;
      if (!delayed) return 'pod has unbound immediate PersistentVolumeClaims';
    }
    return undefined;
  }

  private filter(pod: Obj, requests: Requests, entry: NodeUsage): Verdict {
    const node = entry.node;
    const spec = pod['spec'] ?? {};
    const tolerations = (spec['tolerations'] ?? []) as Obj[];
    if (node['spec']?.['unschedulable'] === true && !tolerates(tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) {
      return { fits: false, reasons: ['node(s) were unschedulable'], unresolvable: true };
    }
    const taint = untoleratedTaint(node, tolerations);
    if (taint !== undefined) return { fits: false, reasons: [`node(s) had untolerated taint {${taint['key']}: ${taint['value'] ?? ''}}`], unresolvable: true };
    if (!podMatchesNode(spec, node)) return { fits: false, reasons: ["node(s) didn't match Pod's node affinity/selector"], unresolvable: true };
    if (hostPorts(spec).some((port) => entry.ports.has(port))) return { fits: false, reasons: ["node(s) didn't have free ports for the requested pod ports"], unresolvable: false };
    const reasons = this.insufficient(requests, entry);
    return reasons.length === 0 ? { fits: true } : { fits: false, reasons, unresolvable: false };
  }

  /** NodeResourcesFit: pods first, then cpu, memory, ephemeral-storage and the rest, each that does not fit. */
  private insufficient(requests: Requests, entry: NodeUsage): string[] {
    const reasons: string[] = [];
    if (entry.pods.length + 1 > allocatable(entry.node, 'pods')) reasons.push('Too many pods');
    const order = ['cpu', 'memory', 'ephemeral-storage', ...Object.keys(requests).filter((r) => !['cpu', 'memory', 'ephemeral-storage', 'pods'].includes(r)).sort()];
    for (const resource of order) {
      const wanted = requests[resource] ?? 0;
      if (wanted <= 0) continue;
      if (wanted > allocatable(entry.node, resource) - (entry.requested[resource] ?? 0)) reasons.push(`Insufficient ${resource}`);
    }
    return reasons;
  }

  /**
   * DefaultPreemption: on nodes where only resources or ports stand in the way, the pods of lower priority that
   * would have to go. Evicts them on the best node and returns undefined (the pod is placed on a later try), or
   * returns the message of why preemption cannot help.
   */
  private preempt(pod: Obj, requests: Requests, usage: Map<string, NodeUsage>, verdicts: Map<string, Verdict>): string | undefined {
    const total = usage.size;
    if (pod['spec']?.['preemptionPolicy'] === 'Never') return 'not eligible due to preemptionPolicy=Never.';
    const priority: number = pod['spec']?.['priority'] ?? 0;
    const reasons: string[][] = [];
    const candidates: { entry: NodeUsage; victims: Obj[] }[] = [];
    for (const [name, entry] of usage) {
      const verdict = verdicts.get(name)!;
      if (verdict.fits || verdict.unresolvable) {
        reasons.push(['Preemption is not helpful for scheduling']);
        continue;
      }
      const lower = entry.pods.filter((p) => (p['spec']?.['priority'] ?? 0) < priority);
      if (lower.length === 0) {
        reasons.push(['No preemption victims found for incoming pod']);
        continue;
      }
      const trial: NodeUsage = { node: entry.node, requested: { ...entry.requested }, pods: [...entry.pods], ports: new Set(entry.ports) };
      for (const victim of lower) this.removePod(trial, victim);
      const after = this.filter(pod, requests, trial);
      if (!after.fits) {
        reasons.push(after.reasons);
        continue;
      }
      // Reprieve as many as still leave room, the highest priority first.
      const victims: Obj[] = [];
      for (const victim of [...lower].sort((a, b) => (b['spec']?.['priority'] ?? 0) - (a['spec']?.['priority'] ?? 0))) {
        this.addPod(trial, victim);
        if (!this.filter(pod, requests, trial).fits) {
          this.removePod(trial, victim);
          victims.push(victim);
        }
      }
      candidates.push({ entry, victims });
    }
    if (candidates.length === 0) return `0/${total} nodes are available: ${histogram(reasons)}.`;
    candidates.sort((a, b) => a.victims.length - b.victims.length || (a.entry.node['metadata']['name'] < b.entry.node['metadata']['name'] ? -1 : 1));
    const { entry, victims } = candidates[0]!;
    for (const victim of victims) {
      this.cluster.events.recordSeries(victim, 'Normal', 'Preempted', 'Preempting', `Preempted by pod ${pod['metadata']['uid']} on node ${entry.node['metadata']['name']}`, 'default-scheduler', INSTANCE);
      this.cluster.remove(victim);
      this.removePod(entry, victim);
    }
    this.podsChanged();
    const nominated = structuredClone(pod);
    nominated['status'] = { ...(nominated['status'] ?? {}), nominatedNodeName: entry.node['metadata']['name'] };
    this.cluster.save(nominated, 'default-scheduler', 'status');
    return undefined;
  }

  private bind(pod: Obj, node: Obj): void {
    const nodeName = node['metadata']['name'];
    const namespace = pod['metadata']['namespace'];
    // WaitForFirstConsumer claims learn their node, so the provisioner makes the volume there.
    for (const volume of (pod['spec']?.['volumes'] ?? []) as Obj[]) {
      const claim = volume['persistentVolumeClaim'] && this.cluster.get('PersistentVolumeClaim', namespace, volume['persistentVolumeClaim']['claimName']);
      if (!claim || isClaimBound(claim) || claim['metadata']['annotations']?.[SELECTED_NODE_ANNOTATION] !== undefined) continue;
      const next = structuredClone(claim);
      next['metadata']['annotations'] = { ...(next['metadata']['annotations'] ?? {}), [SELECTED_NODE_ANNOTATION]: nodeName };
      this.cluster.save(next, 'kube-scheduler');
    }
    const bound = structuredClone(pod);
    bound['spec'] = { ...bound['spec'], nodeName };
    const saved = this.cluster.save(bound, 'kube-scheduler');
    const status = structuredClone(saved['status'] ?? {});
    delete status['nominatedNodeName'];
    status['conditions'] = [...((status['conditions'] ?? []) as Obj[]).filter((c) => c['type'] !== 'PodScheduled'), { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }];
    this.cluster.save({ ...saved, status }, 'kube-scheduler', 'status');
    this.cluster.events.recordSeries(saved, 'Normal', 'Scheduled', 'Binding', `Successfully assigned ${namespace}/${pod['metadata']['name']} to ${nodeName}`, 'default-scheduler', INSTANCE);
  }

  private unschedulable(pod: Obj, message: string): void {
    const conditions = (pod['status']?.['conditions'] ?? []) as Obj[];
    const previous = conditions.find((c) => c['type'] === 'PodScheduled');
    if (previous?.['status'] !== 'False' || previous['message'] !== message) {
      const condition = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: previous?.['status'] === 'False' ? previous['lastTransitionTime'] : new Date().toISOString().replace(/\.\d+Z$/, 'Z'), reason: 'Unschedulable', message };
      const status = { ...structuredClone(pod['status'] ?? {}), conditions: [...conditions.filter((c) => c !== previous), condition] };
      this.cluster.save({ ...structuredClone(pod), status }, 'kube-scheduler', 'status');
    }
    this.cluster.events.recordSeries(pod, 'Warning', 'FailedScheduling', 'Scheduling', message, 'default-scheduler', INSTANCE);
  }
}
