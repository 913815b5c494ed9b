// How a workload controller creates and deletes its pods through the API server: a refused create (a webhook without
// endpoints, a missing service account) is a FailedCreate event on the workload and is retried after a back-off, not
// every round; each create and delete is an event in the controller's own words.

import type { Cluster, Obj } from './cluster.js';

const RETRY_MS = 1000;

export interface PodEvents {
  component: string;
  created: (pod: Obj) => string;
  failed: (pod: Obj, error: string) => string;
  deleted: (pod: Obj) => string;
}

export class PodMaker {
  private readonly cluster: Cluster;
  private readonly retryAt = new Map<string, number>();
  /** The last refusal per workload uid, for ReplicaFailure conditions; cleared by a create that works. */
  readonly lastError = new Map<string, string>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Whether the workload may try creating again (no refusal within the back-off). */
  mayCreate(owner: Obj, now: number): boolean {
    return (this.retryAt.get(owner['metadata']['uid']) ?? 0) <= now;
  }

  create(owner: Obj, pod: Obj, events: PodEvents, now: number): Obj | undefined {
    const uid = owner['metadata']['uid'];
    const result = this.cluster.create(pod, 'kube-controller-manager');
    if ('error' in result) {
      this.retryAt.set(uid, now + RETRY_MS);
      this.lastError.set(uid, result.error);
      this.cluster.events.record(owner, undefined, 'Warning', 'FailedCreate', events.failed(pod, result.error), { component: events.component });
      return undefined;
    }
    this.lastError.delete(uid);
    this.cluster.events.record(owner, undefined, 'Normal', 'SuccessfulCreate', events.created(result.object), { component: events.component });
    return result.object;
  }

  delete(owner: Obj, pod: Obj, events: PodEvents): void {
    this.cluster.remove(pod);
    this.cluster.events.record(owner, undefined, 'Normal', 'SuccessfulDelete', events.deleted(pod), { component: events.component });
  }

  forget(liveUids: ReadonlySet<string>): void {
    for (const uid of this.retryAt.keys()) if (!liveUids.has(uid)) this.retryAt.delete(uid);
    for (const uid of this.lastError.keys()) if (!liveUids.has(uid)) this.lastError.delete(uid);
  }
}

/** The events of the controllers that name pods `Created pod: x` (ReplicaSet, DaemonSet, Job). */
export function simplePodEvents(component: string): PodEvents {
  return {
    component,
    created: (pod) => `Created pod: ${pod['metadata']['name']}`,
    failed: (_pod, error) => `Error creating: ${error}`,
    deleted: (pod) => `Deleted pod: ${pod['metadata']['name']}`,
  };
}
