// The cluster's nodes: the Node objects their kubelets register (capacity, allocatable, conditions, nodeInfo,
// well-known labels), and the node lifecycle controller's taints: node.kubernetes.io/not-ready on a node that is not
// Ready, node.kubernetes.io/unschedulable on a cordoned one (spec.unschedulable, as `kubectl cordon` patches it).

import { isObj, timestamp, type Cluster, type Obj } from './cluster.js';

export interface NodeSpec {
  name: string;
  /** Whether this node's container runtime has the image under this exact reference. */
  hasImage?: (ref: string) => Promise<boolean>;
  /** Allocatable CPU, as a quantity (default `16`). */
  cpu?: string;
  /** Allocatable memory, as a quantity (default `64Gi`). */
  memory?: string;
  /** Whether the kubelet reports Ready (default true). */
  ready?: boolean;
  labels?: Record<string, string>;
}

export interface ResolvedNode {
  name: string;
  hasImage: (ref: string) => Promise<boolean>;
  cpu: string;
  memory: string;
  ready: boolean;
  labels: Record<string, string>;
  /** The node's position, which numbers its addresses. */
  index: number;
}

export const CONTAINER_RUNTIME_VERSION = 'docker://20.10.24';
const NOT_READY_MESSAGE = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized';

export function resolveNodes(nodes: readonly (string | NodeSpec)[], defaultHasImage: (ref: string) => Promise<boolean>): ResolvedNode[] {
  return nodes.map((node, index) => {
    const spec = typeof node === 'string' ? { name: node } : node;
    return { name: spec.name, hasImage: spec.hasImage ?? defaultHasImage, cpu: spec.cpu ?? '16', memory: spec.memory ?? '64Gi', ready: spec.ready ?? true, labels: spec.labels ?? {}, index };
  });
}

/** The node's InternalIP. */
export const hostIp = (index: number): string => `172.18.0.${index + 2}`;

/** The Node object as its kubelet registers it. */
export function nodeObject(node: ResolvedNode, kubernetesVersion: string): Obj {
  const now = timestamp();
  const resources = { cpu: node.cpu, memory: node.memory, pods: '110', 'ephemeral-storage': '100Gi', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' };
  const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        ...node.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: `10.244.${node.index}.0/24`, podCIDRs: [`10.244.${node.index}.0/24`] },
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        node.ready ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status') : condition('Ready', 'False', 'KubeletNotReady', NOT_READY_MESSAGE),
      ],
      addresses: [
        { type: 'InternalIP', address: hostIp(node.index) },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: node.name.padEnd(32, '0').slice(0, 32),
        systemUUID: `00000000-0000-0000-0000-${String(node.index).padStart(12, '0')}`,
        bootID: `00000000-0000-0000-0000-${String(node.index + 1).padStart(12, '0')}`,
        kernelVersion: '6.1.0-18-amd64',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: CONTAINER_RUNTIME_VERSION,
        kubeletVersion: kubernetesVersion,
        kubeProxyVersion: kubernetesVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

export function isNodeReady(node: Obj): boolean {
  return ((node['status']?.['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True');
}

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/** The node lifecycle controller: the taints that follow a node's readiness and spec.unschedulable. */
export function reconcileNodeTaints(cluster: Cluster): void {
  for (const node of cluster.list('Node')) {
    const taints = ((node['spec']?.['taints'] ?? []) as Obj[]).filter((t) => t['key'] !== NOT_READY && t['key'] !== UNSCHEDULABLE);
    const kept = ((node['spec']?.['taints'] ?? []) as Obj[]).filter((t) => t['key'] === NOT_READY || t['key'] === UNSCHEDULABLE);
    const wanted: Obj[] = [];
    if (!isNodeReady(node)) {
      wanted.push(kept.find((t) => t['key'] === NOT_READY && t['effect'] === 'NoSchedule') ?? { key: NOT_READY, effect: 'NoSchedule' });
      wanted.push(kept.find((t) => t['key'] === NOT_READY && t['effect'] === 'NoExecute') ?? { key: NOT_READY, effect: 'NoExecute', timeAdded: timestamp() });
    }
    if (node['spec']?.['unschedulable'] === true) {
      wanted.push(kept.find((t) => t['key'] === UNSCHEDULABLE) ?? { key: UNSCHEDULABLE, effect: 'NoSchedule', timeAdded: timestamp() });
    }
    const next = [...taints, ...wanted];
    const current = (node['spec']?.['taints'] ?? []) as Obj[];
    if (JSON.stringify(current) === JSON.stringify(next)) continue;
    const spec: Obj = { ...(isObj(node['spec']) ? node['spec'] : {}) };
    if (next.length === 0) delete spec['taints'];
    else spec['taints'] = next;
    cluster.save({ ...structuredClone(node), spec }, 'kube-controller-manager');
  }
}
