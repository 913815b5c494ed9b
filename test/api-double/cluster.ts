// What the simulated control plane (controllers, scheduler, kubelets) sees of the API server double: its objects, its
// settings, and the writes a controller makes. Objects returned are the stored ones and must not be changed in place:
// a controller writes a changed copy.

import type { EventRecorder } from './events.js';
import type { ResolvedNode } from './nodes.js';

export type Obj = Record<string, any>;

export interface StorageClassSpec {
  name: string;
  default?: boolean;
}

export interface DoubleSettings {
  crdDelayMs: number;
  availableDelayMs: number;
  kubernetesVersion: string;
  nodes: readonly ResolvedNode[];
  /** The images of a node registered later (kubectl apply of a Node): the top-level hasImage. */
  defaultHasImage: (ref: string) => Promise<boolean>;
  storageClasses: readonly StorageClassSpec[];
  crashes: (ref: string) => readonly string[] | undefined;
}

export interface Cluster {
  readonly settings: DoubleSettings;
  readonly events: EventRecorder;
  list(kind: string): readonly Obj[];
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined;
  /** A controller's write (an update, of the status subresource if named); one that changes nothing writes nothing. */
  save(object: Obj, manager: string, subresource?: 'status'): Obj;
  /** A create through admission (webhooks, service account, priority class), or the API server's refusal. */
  create(object: Obj, manager: string): { object: Obj } | { error: string };
  /** A delete, with the garbage collector's cascade to what the object owns. */
  remove(object: Obj): void;
  isAvailable(workload: Obj): boolean;
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Now, to the second, as metav1.Time carries it. */
export const timestamp = (ms: number = Date.now()): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** Now, to the microsecond, as metav1.MicroTime carries it (eventTime, series.lastObservedTime). */
export const microTimestamp = (ms: number = Date.now()): string => new Date(ms).toISOString().replace(/\.(\d+)Z$/, (_, f: string) => `.${f.padEnd(6, '0')}Z`);

/** The owner reference that marks the object's controller, if any. */
export function controllerOf(object: Obj): Obj | undefined {
  return ((object['metadata']?.['ownerReferences'] ?? []) as Obj[]).find((ref) => ref['controller'] === true);
}

/** The reference a controller puts on what it makes. */
export function controllerRef(owner: Obj): Obj {
  return { apiVersion: owner['apiVersion'], kind: owner['kind'], name: owner['metadata']['name'], uid: owner['metadata']['uid'], controller: true, blockOwnerDeletion: true };
}

/** Groups objects by their controller's uid: what each workload owns, in one pass. */
export function byController(objects: readonly Obj[]): Map<string, Obj[]> {
  const owned = new Map<string, Obj[]>();
  for (const object of objects) {
    const uid = controllerOf(object)?.['uid'];
    if (uid === undefined) continue;
    const list = owned.get(uid);
    if (list) list.push(object);
    else owned.set(uid, [object]);
  }
  return owned;
}
