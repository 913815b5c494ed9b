// Events as the control plane writes them. Two recorders, as in Kubernetes v1.32:
// - the core/v1 one (kubelet, kube-controller-manager): source {component, host}, firstTimestamp/lastTimestamp and
//   count; a repeat of the same event (same object, source, type, reason and message) bumps count and lastTimestamp
//   of the one object instead of adding another (client-go's EventCorrelator);
// - the events.k8s.io/v1 one (the scheduler): eventTime, reportingComponent, an empty source and null timestamps; a
//   repeat (same object, action, reason and controller, whatever its note) becomes a series {count,
//   lastObservedTime} on the first event, whose note stays the first one's until the series ends (after 6 minutes
//   without a repeat), as client-go/tools/events does.

import { microTimestamp, timestamp, type Obj } from './cluster.js';

export interface EventSource {
  component: string;
  host?: string;
}

interface EventStore {
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined;
  save(object: Obj, manager: string): Obj;
}

const SERIES_ENDS_AFTER_MS = 6 * 60_000;

export class EventRecorder {
  private readonly store: EventStore;
  /** Dedup key → the name of the event it became. */
  private readonly seen = new Map<string, string>();
  private sequence = 0;

  constructor(store: EventStore) {
    this.store = store;
  }

  /** A core/v1 event about `involved` (a container of it when fieldPath is given). */
  record(involved: Obj, fieldPath: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string, source: EventSource): void {
    const namespace = this.namespaceOf(involved);
    if (namespace === undefined) return;
    const regarding = this.reference(involved, fieldPath);
    const key = ['v1', source.component, source.host ?? '', regarding['kind'], namespace, regarding['name'], fieldPath ?? '', regarding['uid'], regarding['apiVersion'], type, reason, message].join('\u0000');
    const now = timestamp();
    const existing = this.existing(key, namespace);
    if (existing !== undefined) {
      this.store.save({ ...structuredClone(existing), count: (existing['count'] ?? 1) + 1, lastTimestamp: now }, source.component);
      return;
    }
    const name = this.eventName(regarding['name']);
    this.seen.set(key, name);
    this.store.save(
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: regarding,
        reason,
        message,
        source: { component: source.component, ...(source.host !== undefined ? { host: source.host } : {}) },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        type,
        eventTime: null,
        reportingComponent: source.component,
        reportingInstance: source.host ?? '',
      },
      source.component,
    );
  }

  /** An events.k8s.io/v1 event, as the scheduler records it. */
  recordSeries(involved: Obj, type: 'Normal' | 'Warning', reason: string, action: string, note: string, controller: string, instance: string): void {
    const namespace = this.namespaceOf(involved);
    if (namespace === undefined) return;
    const regarding = this.reference(involved, undefined);
    const key = ['events.k8s.io', regarding['kind'], namespace, regarding['name'], regarding['uid'], action, reason, controller].join('\u0000');
    const now = Date.now();
    const existing = this.existing(key, namespace);
    const lastObserved = existing === undefined ? 0 : Date.parse(existing['series']?.['lastObservedTime'] ?? existing['eventTime']);
    if (existing !== undefined && now - lastObserved < SERIES_ENDS_AFTER_MS) {
      const series = { count: (existing['series']?.['count'] ?? 1) + 1, lastObservedTime: microTimestamp(now) };
      this.store.save({ ...structuredClone(existing), series }, controller);
      return;
    }
    const name = this.eventName(regarding['name']);
    this.seen.set(key, name);
    this.store.save(
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: regarding,
        reason,
        message: note,
        source: {},
        firstTimestamp: null,
        lastTimestamp: null,
        type,
        eventTime: microTimestamp(now),
        action,
        reportingComponent: controller,
        reportingInstance: instance,
      },
      controller,
    );
  }

  private namespaceOf(involved: Obj): string | undefined {
    const namespace = involved['metadata']['namespace'] ?? 'default';
    // Events of a namespace being deleted (or gone) are refused, as the API server refuses them.
    return this.store.get('Namespace', undefined, namespace) === undefined ? undefined : namespace;
  }

  private reference(involved: Obj, fieldPath: string | undefined): Obj {
    const metadata = involved['metadata'];
    return {
      apiVersion: involved['apiVersion'],
      kind: involved['kind'],
      name: metadata['name'],
      ...(metadata['namespace'] !== undefined ? { namespace: metadata['namespace'] } : {}),
      uid: metadata['uid'],
      resourceVersion: metadata['resourceVersion'],
      ...(fieldPath !== undefined ? { fieldPath } : {}),
    };
  }

  private existing(key: string, namespace: string): Obj | undefined {
    const name = this.seen.get(key);
    if (name === undefined) return undefined;
    const event = this.store.get('Event', namespace, name);
    if (event === undefined) this.seen.delete(key);
    return event;
  }

  /** `<object>.<nanoseconds in hex>`, as client-go names events. */
  private eventName(objectName: string): string {
    const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    return `${objectName}.${nanos.toString(16)}`;
  }
}
