// A Kubernetes API server test double that the real kubectl talks to over HTTP on 127.0.0.1, with a simulated
// control plane behind it, so that an installer's apply, waits, checks and diagnosis meet what they meet on a real
// v1.32 cluster, with the same status codes, reasons, field names and messages:
// - a custom resource's kind is absent from discovery until its CRD is Established (after a delay), so kubectl
//   reports "no matches for kind"; a namespaced object in a missing namespace gets 404 `namespaces "x" not found`;
//   an object a webhook intercepts (failurePolicy Fail) gets 500 "failed calling webhook … no endpoints available"
//   until a ready pod backs the webhook's Service (pods a controller creates meet the same webhooks);
// - server-side apply keeps field ownership in metadata.managedFields (field-ownership.ts): a conflicting apply
//   fails with 409 unless forced, a repeated apply writes nothing, generation counts changes outside metadata and
//   status; merge, strategic merge and JSON patches, updates, deletes with the garbage collector's cascade;
// - list and watch with labelSelector and fieldSelector, Tables for `kubectl get` (tables.ts), pod logs;
// - behind it, the controllers (deployments.ts, statefulsets.ts, daemonsets.ts, jobs.ts), the PV controller and
//   default StorageClass (storage.ts), the scheduler (scheduler.ts), a kubelet per node whose images are the node's
//   hasImage (kubelet.ts), endpoints (endpoints.ts), and what cert-manager and istiod do for an install (addons.ts);
// - Events as those components write them (events.ts).
// This lives in test/: it is evidence, not product. The standalone server is main.ts.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { readYaml } from '../../src/core/kube-yaml.js';
import { reconcileCertificates, reconcileIstioRootCert, reconcileNamespaceDefaults } from './addons.js';
import { byController, controllerOf, isObj, timestamp, type Cluster, type DoubleSettings, type Obj, type StorageClassSpec } from './cluster.js';
import { DaemonSetController } from './daemonsets.js';
import { DeploymentController } from './deployments.js';
import { apiGroupList, byGroupVersion, groupVersionOf, openApiDoc, openApiIndex, resourceList } from './discovery.js';
import { reconcileEndpoints } from './endpoints.js';
import { EventRecorder } from './events.js';
import { applyConfiguration, conflictStatus, recordUpdate, shapeOf, type Shape } from './field-ownership.js';
import { JobController, admitJob } from './jobs.js';
import { Kubelet } from './kubelet.js';
import { nodeObject, reconcileNodeTaints, resolveNodes, type NodeSpec } from './nodes.js';
import { PatchError, jsonPatch, mergePatch, strategicMergePatch } from './patches.js';
import { defaultPod, isPodReady, podRefusal, randomSuffix } from './pods.js';
import { BUILTIN_RESOURCES, type ApiResource } from './resources.js';
import { Scheduler } from './scheduler.js';
import { SelectorError, parseFieldSelector, parseLabelSelector, selectorMatches } from './selectors.js';
import { StatefulSetController } from './statefulsets.js';
import { VolumeController, admitClaim, storageClassObject } from './storage.js';
import { toTable } from './tables.js';

export type { NodeSpec } from './nodes.js';
export type { StorageClassSpec } from './cluster.js';

export interface ApiServerDoubleOptions {
  /** Whether a node has this image under this exact reference: every node's, unless the node gives its own. */
  hasImage?: (ref: string) => Promise<boolean>;
  /** How long a CRD takes to become Established. */
  crdDelayMs?: number;
  /** How long a started container takes to become Ready (and a Job's container to finish). */
  availableDelayMs?: number;
  /** The cluster's nodes, by name (also their kubernetes.io/hostname label) or in full. */
  nodes?: readonly (string | NodeSpec)[];
  /** The version /version serves and every kubelet reports (default v1.32.0). */
  kubernetesVersion?: string;
  /** The StorageClasses the cluster starts with (default: `standard`, the default class); [] for none. */
  storageClasses?: readonly StorageClassSpec[];
  /** The lines a container of this image prints before it exits 1, or undefined for an image that runs. */
  crashes?: (ref: string) => readonly string[] | undefined;
}

interface Watcher {
  resource: ApiResource;
  matches: (object: Obj) => boolean;
  response: ServerResponse;
  /** The includeObject of a watch that asked for Tables (`kubectl get -w`), whose events carry one-row Tables. */
  table: string | undefined;
}

interface Refusal {
  code: number;
  reason: string;
  message: string;
}

const WORKLOAD_RESOURCE_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Who makes a non-apply write: the fieldManager asked for, else the client's name from its user agent. */
function updaterOf(url: URL, userAgent: string): string {
  return url.searchParams.get('fieldManager') || userAgent.split('/')[0] || 'unknown';
}

/** Two versions of an object that differ at most in managedFields' times: writing the second would change nothing. */
function sameContent(a: Obj, b: Obj): boolean {
  const comparable = (o: Obj) => ({
    ...o,
    metadata: {
      ...o['metadata'],
      resourceVersion: undefined,
      generation: undefined,
      managedFields: ((o['metadata']?.['managedFields'] ?? []) as Obj[]).map((entry) => ({ ...entry, time: undefined })),
    },
  });
  return isDeepStrictEqual(comparable(a), comparable(b));
}

/** Whether anything but metadata and status changed: what metadata.generation counts. */
function specChanged(before: Obj, after: Obj): boolean {
  const content = ({ apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest }: Obj) => rest;
  return !isDeepStrictEqual(content(before), content(after));
}

function parseVersion(version: string): { major: string; minor: string; gitVersion: string } {
  const match = /^v?(\d+)\.(\d+)(\.\d+.*)?$/.exec(version);
  if (match === null) throw new Error(`invalid Kubernetes version "${version}" (expected vMAJOR.MINOR.PATCH, e.g. v1.32.0)`);
  return { major: match[1]!, minor: match[2]!, gitVersion: `v${match[1]}.${match[2]}${match[3] ?? '.0'}` };
}

export class ApiServerDouble {
  private readonly server: Server;
  private readonly settings: DoubleSettings;
  private readonly version: { major: string; minor: string; gitVersion: string };
  private readonly objects = new Map<string, Obj>();
  private readonly byKind = new Map<string, Map<string, Obj>>();
  private readonly watchers = new Set<Watcher>();
  private resourceVersion = 1;
  private readonly crdEstablishedAt = new Map<string, number>();
  private resourceCache: { resources: ApiResource[]; validUntil: number } | undefined;
  private readonly builtinByKind = new Map<string, ApiResource>();
  private timer: NodeJS.Timeout | undefined;
  private readonly reported = new Set<string>();
  private readonly cluster: Cluster;
  private readonly events: EventRecorder;
  private readonly volumes: VolumeController;
  private readonly deployments: DeploymentController;
  private readonly statefulSets: StatefulSetController;
  private readonly daemonSets: DaemonSetController;
  private readonly jobs: JobController;
  private readonly scheduler: Scheduler;
  private readonly kubelet: Kubelet;
  /** Every request kubectl made, for tests that check what was asked. */
  readonly requests: string[] = [];
  url = '';

  constructor(options: ApiServerDoubleOptions) {
    const defaultHasImage = options.hasImage ?? (async () => false);
    this.settings = {
      crdDelayMs: options.crdDelayMs ?? 300,
      availableDelayMs: options.availableDelayMs ?? 200,
      kubernetesVersion: parseVersion(options.kubernetesVersion ?? 'v1.32.0').gitVersion,
      nodes: resolveNodes(options.nodes ?? ['node-1'], defaultHasImage),
      defaultHasImage,
      storageClasses: options.storageClasses ?? [{ name: 'standard', default: true }],
      crashes: options.crashes ?? (() => undefined),
    };
    this.version = parseVersion(this.settings.kubernetesVersion);
    for (const resource of BUILTIN_RESOURCES) if (!this.builtinByKind.has(resource.kind)) this.builtinByKind.set(resource.kind, resource);
    this.events = new EventRecorder({ get: (kind, namespace, name) => this.get(kind, namespace, name), save: (object, manager) => this.save(object, manager) });
    this.cluster = {
      settings: this.settings,
      events: this.events,
      list: (kind) => this.listOfGroup(kind),
      get: (kind, namespace, name) => this.get(kind, namespace, name),
      save: (object, manager, subresource) => this.save(object, manager, subresource),
      create: (object, manager) => {
        const resource = this.resourceOf(object);
        const result = this.admitAndCreate(resource, object, manager);
        return 'object' in result ? result : { error: result.message };
      },
      remove: (object) => this.removeObject(object, 'Background'),
      isAvailable: (workload) => this.isAvailable(workload),
    };
    this.volumes = new VolumeController(this.cluster);
    this.deployments = new DeploymentController(this.cluster);
    this.statefulSets = new StatefulSetController(this.cluster);
    this.daemonSets = new DaemonSetController(this.cluster);
    this.jobs = new JobController(this.cluster);
    this.scheduler = new Scheduler(this.cluster);
    this.kubelet = new Kubelet(this.cluster, () => this.scheduler.podsChanged());
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async start(): Promise<void> {
    // Every real cluster has these before anything is installed; cert-manager, for one, puts RBAC in kube-system.
    const namespaces = this.builtin('Namespace');
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.update(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }, 'kube-apiserver');
    }
    for (const node of this.settings.nodes) this.update(this.builtin('Node'), nodeObject(node, this.settings.kubernetesVersion), 'kubelet');
    for (const node of this.list('Node')) {
      const lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: node['metadata']['name'], namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node['metadata']['name'], uid: node['metadata']['uid'] }] },
        spec: { holderIdentity: node['metadata']['name'], leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z') },
      };
      this.update(this.builtin('Lease'), lease, 'kubelet');
    }
    for (const storageClass of this.settings.storageClasses) this.update(this.builtin('StorageClass'), storageClassObject(storageClass), 'kubectl');
    reconcileNamespaceDefaults(this.cluster);
    reconcileNodeTaints(this.cluster);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.timer = setInterval(() => this.reconcile(), 100);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const watcher of this.watchers) watcher.response.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Every object stored, for assertions over the whole cluster. */
  all(): Obj[] {
    return [...this.objects.values()];
  }

  /** Objects of a kind, for assertions. */
  list(kind: string): Obj[] {
    return [...(this.byKind.get(kind)?.values() ?? [])];
  }

  /** A built-in kind's objects of its own group only: Knative's Service is no core/v1 Service to the controllers. */
  private listOfGroup(kind: string): Obj[] {
    const builtin = this.builtinByKind.get(kind);
    const all = this.list(kind);
    if (builtin === undefined) return all;
    const apiVersionOk = builtin.group === '' ? (v: string) => !v.includes('/') : (v: string) => v.startsWith(`${builtin.group}/`);
    return all.filter((o) => apiVersionOk(String(o['apiVersion'])));
  }

  get(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const builtin = this.builtinByKind.get(kind);
    if (builtin !== undefined) return this.objects.get(this.key(builtin, namespace, name));
    for (const object of this.byKind.get(kind)?.values() ?? []) {
      if (object['metadata']['name'] === name && object['metadata']['namespace'] === namespace) return object;
    }
    return undefined;
  }

  /**
   * Whether a workload is available, as its controller's status says: a Deployment's Available condition, once its
   * rollout is done (every replica updated and available: a Deployment stays Available while old pods serve, and a
   * test that waits for it must not see its status move on afterwards); a StatefulSet with every replica ready; a
   * DaemonSet ready on every node that should run it (each for the newest spec it observed).
   */
  isAvailable(workload: Obj): boolean {
    const status = workload['status'] ?? {};
    const observed = status['observedGeneration'] !== undefined && status['observedGeneration'] >= (workload['metadata']['generation'] ?? 1);
    const replicas: number = workload['spec']?.['replicas'] ?? 1;
    switch (workload['kind']) {
      case 'StatefulSet':
        return observed && (status['readyReplicas'] ?? 0) === replicas;
      case 'DaemonSet':
        return observed && (status['numberReady'] ?? 0) === (status['desiredNumberScheduled'] ?? 0);
      case 'Deployment': {
        const available = ((status['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Available' && c['status'] === 'True');
        const rolledOut = ['replicas', 'updatedReplicas', 'availableReplicas'].every((field) => (status[field] ?? 0) === replicas);
        return available && observed && rolledOut;
      }
      default:
        return ((status['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Available' && c['status'] === 'True');
    }
  }

  /** The pods of a workload (through its ReplicaSets for a Deployment). */
  podsOf(workload: Obj): Obj[] {
    const owned = byController(this.list('Pod'));
    const uids = [workload['metadata']['uid']];
    if (workload['kind'] === 'Deployment') for (const rs of this.list('ReplicaSet')) if (controllerOf(rs)?.['uid'] === workload['metadata']['uid']) uids.push(rs['metadata']['uid']);
    return uids.flatMap((uid) => owned.get(uid) ?? []);
  }

  /** Why a workload is not available, pod by pod, as kubectl describe would show it: for test failure messages. */
  whyUnavailable(workload: Obj): string {
    const pods = this.podsOf(workload).filter((pod) => !isPodReady(pod));
    if (pods.length === 0) return this.podsOf(workload).length === 0 ? 'no pods' : 'pods ready, status not yet updated';
    return pods.map((pod) => Kubelet.describe(pod)).join('; ');
  }

  // ---- the store ----

  private key(resource: ApiResource, namespace: string | undefined, name: string): string {
    return `${resource.group}/${resource.plural}/${resource.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  private put(key: string, object: Obj): void {
    this.objects.set(key, object);
    const kind = object['kind'];
    let ofKind = this.byKind.get(kind);
    if (ofKind === undefined) this.byKind.set(kind, (ofKind = new Map()));
    ofKind.set(key, object);
    if (kind === 'CustomResourceDefinition') this.resourceCache = undefined;
  }

  private drop(key: string): Obj | undefined {
    const object = this.objects.get(key);
    if (object === undefined) return undefined;
    this.objects.delete(key);
    this.byKind.get(object['kind'])?.delete(key);
    if (object['kind'] === 'CustomResourceDefinition') this.resourceCache = undefined;
    return object;
  }

  private builtin(kind: string): ApiResource {
    return this.builtinByKind.get(kind)!;
  }

  /** The resource an object is stored as, by its apiVersion and kind. */
  private resourceOf(object: Obj): ApiResource {
    const apiVersion = String(object['apiVersion'] ?? 'v1');
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
    const builtin = this.builtinByKind.get(object['kind']);
    if (builtin !== undefined && builtin.group === group) return builtin;
    const found = this.resources().find((r) => r.group === group && r.kind === object['kind']);
    if (found === undefined) throw new Error(`no resource serves ${apiVersion} ${object['kind']}`);
    return found;
  }

  // ---- resources and discovery ----

  private resources(): ApiResource[] {
    const now = Date.now();
    if (this.resourceCache !== undefined && now < this.resourceCache.validUntil) return this.resourceCache.resources;
    const custom: ApiResource[] = [];
    let validUntil = Infinity;
    for (const crd of this.list('CustomResourceDefinition')) {
      const at = this.crdEstablishedAt.get(crd['metadata']['name']);
      if (at === undefined) continue;
      if (at > now) {
        validUntil = Math.min(validUntil, at);
        continue;
      }
      for (const version of crd['spec']['versions'] ?? []) {
        if (version['served'] === false) continue;
        const names = crd['spec']['names'];
        custom.push({ group: crd['spec']['group'], version: version['name'], kind: names['kind'], plural: names['plural'], namespaced: crd['spec']['scope'] === 'Namespaced', shortNames: names['shortNames'] ?? [] });
      }
    }
    const resources = [...BUILTIN_RESOURCES, ...custom];
    this.resourceCache = { resources, validUntil };
    return resources;
  }

  private resourceFor(group: string, version: string, plural: string): ApiResource | undefined {
    return this.resources().find((r) => r.group === group && r.version === version && r.plural === plural);
  }

  private crdOf(resource: ApiResource): Obj | null {
    if (BUILTIN_RESOURCES.includes(resource)) return null;
    return this.get('CustomResourceDefinition', undefined, `${resource.plural}.${resource.group}`) ?? null;
  }

  // ---- HTTP ----

  private send(response: ServerResponse, code: number, body: Obj): void {
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://double');
    this.requests.push(`${request.method} ${url.pathname}${url.search}`);
    const body = await new Promise<string>((resolve) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => resolve(text));
    });
    try {
      this.route(request.method ?? 'GET', url, body, response, {
        contentType: request.headers['content-type'] ?? '',
        userAgent: request.headers['user-agent'] ?? '',
        accept: request.headers['accept'] ?? '',
      });
    } catch (error) {
      if (response.headersSent) return void response.end();
      if (error instanceof SelectorError) return this.send(response, 400, status(400, 'BadRequest', error.message));
      if (error instanceof PatchError) return this.send(response, 422, status(422, 'Invalid', error.message));
      this.send(response, 500, status(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`));
    }
  }

  private route(method: string, url: URL, body: string, response: ServerResponse, headers: { contentType: string; userAgent: string; accept: string }): void {
    const path = url.pathname.replace(/\/+$/, '');
    const parts = path.split('/').filter((p) => p !== '');
    const notFound = () => this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (path === '/version') {
      // Indented, as the API server's WriteRawJSON writes it.
      const info = { ...this.version, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2024-12-11T17:58:57Z', goVersion: 'go1.23.3', compiler: 'gc', platform: 'linux/amd64' };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(info, null, 2));
      return;
    }
    if (path === '/api') return this.send(response, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.slice(7) }] });
    if (path === '/apis') return this.send(response, 200, apiGroupList(this.resources()));
    if (path === '/openapi/v3') return this.send(response, 200, openApiIndex(this.resources()));
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const gv = parts[2] === 'api' ? parts[3]! : `${parts[3]}/${parts[4]}`;
      const resources = byGroupVersion(this.resources()).get(gv);
      return resources ? this.send(response, 200, openApiDoc(gv, resources, this.version.gitVersion)) : notFound();
    }
    if (path === '/openapi/v2') {
      // An empty protobuf message is a valid, empty OpenAPI v2 document: kubectl then skips client-side schema checks
      // for kinds it does not know and reports them as a real server makes it: "no matches for kind".
      response.writeHead(200, { 'content-type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' });
      response.end();
      return;
    }
    if (parts[0] === 'openapi') return notFound();

    // /api/v1/... or /apis/<group>/<version>/...
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else {
      return notFound();
    }
    const gv = group === '' ? version : `${group}/${version}`;
    if (rest.length === 0) {
      const resources = byGroupVersion(this.resources()).get(gv);
      return resources ? this.send(response, 200, resourceList(gv, resources)) : notFound();
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource] = rest as [string, string | undefined, string | undefined];
    const resource = this.resourceFor(group, version, plural);
    if (resource === undefined) return notFound();
    const table = headers.accept.includes('as=Table') ? (url.searchParams.get('includeObject') ?? 'Metadata') : undefined;

    if (method === 'GET' && name === undefined) return this.listOrWatch(resource, namespace, url, response, table);
    if (name === undefined) {
      if (method === 'POST') return this.create(resource, namespace, readYaml(body) as Obj, updaterOf(url, headers.userAgent), response);
      return this.send(response, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    }
    const existing = this.objects.get(this.key(resource, namespace, name));
    if (subresource === 'log' && resource.kind === 'Pod' && method === 'GET') return this.podLogs(namespace!, name, url, response);
    if (subresource === 'scale' && WORKLOAD_RESOURCE_KINDS.has(resource.kind)) return this.scale(resource, existing, name, method, body, headers.contentType, updaterOf(url, headers.userAgent), response);
    if (subresource !== undefined && subresource !== 'status') return notFound();
    if (method === 'GET') {
      if (existing === undefined) return this.send(response, 404, this.notFound(resource, name));
      return this.send(response, 200, table !== undefined ? toTable(resource.kind, resource.version, [existing], table, String(this.resourceVersion), this.crdOf(resource)) : existing);
    }
    if (method === 'PATCH') {
      if (headers.contentType.startsWith('application/apply-patch') && subresource === undefined) return this.apply(resource, namespace, name, body, url, response);
      return this.patch(resource, existing, name, body, headers.contentType, updaterOf(url, headers.userAgent), subresource, response);
    }
    if (method === 'PUT') return this.replace(resource, namespace, existing, name, readYaml(body) as Obj, updaterOf(url, headers.userAgent), subresource, response);
    if (method === 'DELETE' && subresource === undefined) {
      if (existing === undefined) return this.send(response, 404, this.notFound(resource, name));
      const options = body.trim() === '' ? {} : ((readYaml(body) as Obj) ?? {});
      const propagation = url.searchParams.get('propagationPolicy') ?? options['propagationPolicy'] ?? (options['orphanDependents'] === true ? 'Orphan' : 'Background');
      this.removeObject(existing, propagation);
      return this.send(response, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: resource.group, kind: resource.plural, uid: existing['metadata']['uid'] } });
    }
    return this.send(response, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }

  private notFound(resource: ApiResource, name: string): Obj {
    const qualified = resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
    return status(404, 'NotFound', `${qualified} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
  }

  private listOrWatch(resource: ApiResource, namespace: string | undefined, url: URL, response: ServerResponse, table: string | undefined): void {
    const labels = url.searchParams.get('labelSelector');
    const fields = url.searchParams.get('fieldSelector');
    const labelMatch = labels ? parseLabelSelector(labels) : () => true;
    const fieldMatch = fields ? parseFieldSelector(fields) : undefined;
    const prefix = resource.group === '' ? 'v1' : `${resource.group}/`;
    const matches = (o: Obj) =>
      o['kind'] === resource.kind &&
      String(o['apiVersion']).startsWith(prefix) &&
      (!resource.namespaced || namespace === undefined || o['metadata']['namespace'] === namespace) &&
      labelMatch(o['metadata']['labels'] ?? {}) &&
      (fieldMatch === undefined || fieldMatch.matches(o));
    // In the order etcd keeps them: by namespace, then name.
    const items = this.list(resource.kind)
      .filter(matches)
      .sort((a, b) => {
        const ka = `${a['metadata']['namespace'] ?? ''}/${a['metadata']['name']}`;
        const kb = `${b['metadata']['namespace'] ?? ''}/${b['metadata']['name']}`;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    if (url.searchParams.get('watch') !== 'true' && url.searchParams.get('watch') !== '1') {
      const resourceVersion = String(this.resourceVersion);
      if (table !== undefined) return this.send(response, 200, toTable(resource.kind, resource.version, items, table, resourceVersion, this.crdOf(resource)));
      return this.send(response, 200, { kind: `${resource.kind}List`, apiVersion: groupVersionOf(resource), metadata: { resourceVersion }, items });
    }
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A real API server answers a watch at once; client-go's informers (kubectl wait) block until the headers come.
    response.flushHeaders();
    const watcher: Watcher = { resource, matches, response, table };
    this.watchers.add(watcher);
    const since = Number(url.searchParams.get('resourceVersion') ?? 0);
    for (const item of items) if (Number(item['metadata']['resourceVersion']) > since) this.sendEvent(watcher, 'MODIFIED', item);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const end = () => {
      this.watchers.delete(watcher);
      response.end();
    };
    if (timeout > 0) setTimeout(end, timeout * 1000).unref();
    response.on('close', () => this.watchers.delete(watcher));
  }

  private notify(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Obj): void {
    for (const watcher of this.watchers) {
      if (watcher.resource.kind !== object['kind'] || !watcher.matches(object)) continue;
      this.sendEvent(watcher, type, object);
    }
  }

  private sendEvent(watcher: Watcher, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Obj): void {
    const { resource, table } = watcher;
    const sent = table === undefined ? object : toTable(resource.kind, resource.version, [object], table, object['metadata']['resourceVersion'], this.crdOf(resource));
    watcher.response.write(`${JSON.stringify({ type, object: sent })}\n`);
  }

  /** GET pods/NAME/log: the API server picks the container, the kubelet answers with lines or says why not. */
  private podLogs(namespace: string, name: string, url: URL, response: ServerResponse): void {
    const pod = this.get('Pod', namespace, name);
    if (pod === undefined) return this.send(response, 404, this.notFound(this.builtin('Pod'), name));
    const names = [...((pod['spec']?.['initContainers'] ?? []) as Obj[]), ...((pod['spec']?.['containers'] ?? []) as Obj[])].map((c) => c['name'] as string);
    let container = url.searchParams.get('container') ?? '';
    if (container === '') {
      const containers = (pod['spec']?.['containers'] ?? []) as Obj[];
      if (containers.length === 1) container = containers[0]!['name'];
      else if (containers.length === 0) return this.send(response, 400, status(400, 'BadRequest', `a container name must be specified for pod ${name}`));
      else return this.send(response, 400, status(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`));
    } else if (!names.includes(container)) {
      return this.send(response, 400, status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
    }
    // A pod not yet on a node has no kubelet to ask: the API server answers with nothing.
    if (pod['spec']?.['nodeName'] === undefined) {
      response.writeHead(200, { 'content-type': 'text/plain' });
      return void response.end();
    }
    const result = this.kubelet.logs(pod, container, ['true', '1'].includes(url.searchParams.get('previous') ?? ''));
    if ('error' in result) return this.send(response, 400, status(400, 'BadRequest', result.error));
    response.writeHead(200, { 'content-type': 'text/plain' });
    let lines = [...result.lines];
    const tail = url.searchParams.get('tailLines');
    if (tail !== null && Number(tail) >= 0) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
    if (url.searchParams.get('timestamps') === 'true') lines = lines.map((line) => `${new Date().toISOString()} ${line}`);
    response.end(lines.map((line) => `${line}\n`).join(''));
  }

  private shape(resource: ApiResource): Shape {
    return shapeOf(resource.kind, BUILTIN_RESOURCES.some((r) => r.group === resource.group && r.kind === resource.kind));
  }

  /**
   * Stores an object as the API server does: a write that changes nothing (managedFields' times aside) is none at all,
   * with no new resourceVersion and no watch event; generation starts at 1 and counts changes outside metadata and
   * status, so a controller can tell a new spec from its own status writes.
   */
  private write(resource: ApiResource, object: Obj): { object: Obj; type: 'ADDED' | 'MODIFIED' | 'UNCHANGED' } {
    const metadata = object['metadata'];
    const key = this.key(resource, metadata['namespace'], metadata['name']);
    const existing = this.objects.get(key);
    metadata['uid'] = existing?.['metadata']['uid'] ?? metadata['uid'] ?? randomUUID();
    metadata['creationTimestamp'] = existing?.['metadata']['creationTimestamp'] ?? timestamp();
    if (existing !== undefined && sameContent(existing, object)) return { object: existing, type: 'UNCHANGED' };
    metadata['generation'] = existing === undefined ? 1 : existing['metadata']['generation'] + (specChanged(existing, object) ? 1 : 0);
    metadata['resourceVersion'] = String(++this.resourceVersion);
    this.put(key, object);
    const type = existing === undefined ? 'ADDED' : 'MODIFIED';
    this.notify(type, object);
    return { object, type };
  }

  /** A write that is not an apply (a create, a patch, a controller's): its manager takes the fields it changes. */
  private update(resource: ApiResource, object: Obj, manager: string, subresource?: string): { object: Obj; type: 'ADDED' | 'MODIFIED' | 'UNCHANGED' } {
    const before = this.objects.get(this.key(resource, object['metadata']['namespace'], object['metadata']['name']));
    recordUpdate({ before, after: object, manager, apiVersion: groupVersionOf(resource), subresource, shape: this.shape(resource) });
    return this.write(resource, object);
  }

  /** A controller's write. */
  private save(object: Obj, manager: string, subresource?: 'status'): Obj {
    return this.update(this.resourceOf(object), object, manager, subresource).object;
  }

  /** What the API server itself sets on a new object: a Namespace is Active, a CRD starts establishing its names. */
  private initialStatus(resource: ApiResource, object: Obj): void {
    const name = object['metadata']['name'];
    if (resource.kind === 'Namespace') {
      object['spec'] = { finalizers: ['kubernetes'], ...(object['spec'] ?? {}) };
      object['status'] = { phase: 'Active' };
    }
    if (resource.kind === 'PersistentVolumeClaim') object['status'] = { phase: 'Pending' };
    if (resource.kind === 'CustomResourceDefinition' && !this.crdEstablishedAt.has(name)) {
      this.crdEstablishedAt.set(name, Date.now() + this.settings.crdDelayMs);
      this.resourceCache = undefined;
      object['status'] = { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'False', reason: 'Installing' }] };
    }
  }

  private missingNamespace(resource: ApiResource, namespace: string | undefined): Obj | undefined {
    if (!resource.namespaced || this.objects.has(`/namespaces//${namespace}`)) return undefined;
    return status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
  }

  /**
   * Admission of a new object, in the API server's order: defaulting and the mutating plugins (a pod's service
   * account, priority and tolerations; a claim's default StorageClass; a Job's selector), then the webhooks.
   */
  private admitNew(resource: ApiResource, namespace: string | undefined, object: Obj): Refusal | undefined {
    object['metadata']['uid'] ??= randomUUID();
    if (resource.kind === 'Pod') {
      defaultPod(object, this.cluster);
      const refused = podRefusal(object, this.cluster);
      if (refused !== undefined) return { code: 403, reason: 'Forbidden', message: refused };
    }
    if (resource.kind === 'PersistentVolumeClaim') admitClaim(object, this.cluster);
    if (resource.kind === 'Job') admitJob(object);
    const rejection = this.admissionRejection(resource, namespace, object, 'CREATE');
    return rejection === undefined ? undefined : { code: 500, reason: 'InternalError', message: rejection };
  }

  /** A create as a controller makes it: through admission, and with a generated name if one is asked for. */
  private admitAndCreate(resource: ApiResource, object: Obj, manager: string): { object: Obj } | Refusal {
    const namespace = object['metadata']['namespace'];
    const missing = this.missingNamespace(resource, namespace);
    if (missing !== undefined) return { code: 404, reason: 'NotFound', message: missing['message'] };
    const fresh = structuredClone(object);
    const refusal = this.admitNew(resource, namespace, fresh);
    if (refusal !== undefined) return refusal;
    if (this.objects.has(this.key(resource, namespace, fresh['metadata']['name']))) {
      return { code: 409, reason: 'AlreadyExists', message: `${resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`} "${fresh['metadata']['name']}" already exists` };
    }
    this.initialStatus(resource, fresh);
    return { object: this.update(resource, fresh, manager).object };
  }

  // ---- server-side apply, create, patch, update and delete, with the checks a real server makes ----

  private apply(resource: ApiResource, namespace: string | undefined, name: string, body: string, url: URL, response: ServerResponse): void {
    const applied = readYaml(body) as Obj;
    if (!isObj(applied)) return this.send(response, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
    const manager = url.searchParams.get('fieldManager') ?? '';
    if (manager === '') {
      const cause = { reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' };
      return this.send(response, 422, status(422, 'Invalid', `PatchOptions.meta.k8s.io "" is invalid: fieldManager: ${cause.message}`, { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [cause] }));
    }
    const missing = this.missingNamespace(resource, namespace);
    if (missing !== undefined) return this.send(response, 404, missing);
    const existing = this.objects.get(this.key(resource, namespace, name));

    // Status is the controllers' to write, and what the server sets in metadata is no applier's.
    const { status: _status, ...content } = applied;
    const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, managedFields: _m, ...metadata } = (content['metadata'] ?? {}) as Obj;
    const config = { ...content, metadata: { ...metadata, name, ...(resource.namespaced ? { namespace } : {}) } };
    const result = applyConfiguration({ live: existing, config, manager, force: url.searchParams.get('force') === 'true', shape: this.shape(resource) });
    if (!('object' in result)) return this.send(response, 409, conflictStatus(result.conflicts));

    if (existing === undefined) {
      const refusal = this.admitNew(resource, namespace, result.object);
      if (refusal !== undefined) return this.send(response, refusal.code, status(refusal.code, refusal.reason, refusal.message));
      this.initialStatus(resource, result.object);
    } else {
      const rejection = this.admissionRejection(resource, namespace, result.object, 'UPDATE');
      if (rejection !== undefined) return this.send(response, 500, status(500, 'InternalError', rejection));
    }
    const written = this.write(resource, result.object);
    this.send(response, written.type === 'ADDED' ? 201 : 200, written.object);
  }

  /** POST: a create, which fails on an object that exists. */
  private create(resource: ApiResource, namespace: string | undefined, object: Obj, manager: string, response: ServerResponse): void {
    if (!isObj(object) || !isObj(object['metadata'])) return this.send(response, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
    const metadata = { ...object['metadata'] };
    delete metadata['uid'];
    delete metadata['resourceVersion'];
    if (metadata['name'] === undefined && metadata['generateName'] !== undefined) metadata['name'] = `${metadata['generateName']}${randomSuffix()}`;
    const { status: _status, ...content } = object;
    const fresh: Obj = { ...content, metadata: { ...metadata, ...(resource.namespaced ? { namespace } : {}) } };
    const result = this.admitAndCreate(resource, fresh, manager);
    if ('object' in result) return this.send(response, 201, result.object);
    const details = result.code === 409 ? { name: metadata['name'], group: resource.group, kind: resource.plural } : undefined;
    this.send(response, result.code, status(result.code, result.reason, result.message, details));
  }

  /** PATCH other than apply: JSON merge, strategic merge or JSON patch, of the object or its status. */
  private patch(resource: ApiResource, existing: Obj | undefined, name: string, body: string, contentType: string, manager: string, subresource: string | undefined, response: ServerResponse): void {
    if (existing === undefined) return this.send(response, 404, this.notFound(resource, name));
    const patchBody = JSON.parse(body) as unknown;
    let patched: Obj;
    if (contentType.startsWith('application/json-patch+json')) patched = jsonPatch(existing, patchBody);
    else if (contentType.startsWith('application/strategic-merge-patch+json')) patched = strategicMergePatch(structuredClone(existing), patchBody, this.shape(resource)) as Obj;
    else patched = mergePatch(structuredClone(existing), patchBody) as Obj;
    this.finishUpdate(resource, existing, patched, manager, subresource, response);
  }

  /** PUT: the whole object (or its status) replaced; a stale resourceVersion is a conflict. */
  private replace(resource: ApiResource, namespace: string | undefined, existing: Obj | undefined, name: string, object: Obj, manager: string, subresource: string | undefined, response: ServerResponse): void {
    if (!isObj(object) || !isObj(object['metadata'])) return this.send(response, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
    if (existing === undefined) {
      if (subresource !== undefined) return this.send(response, 404, this.notFound(resource, name));
      return this.create(resource, namespace, object, manager, response);
    }
    const given = object['metadata']['resourceVersion'];
    if (given !== undefined && given !== existing['metadata']['resourceVersion']) {
      const qualified = resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
      return this.send(response, 409, status(409, 'Conflict', `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: resource.group, kind: resource.plural }));
    }
    const next = structuredClone(object);
    next['metadata'] = { ...next['metadata'], name, uid: existing['metadata']['uid'], managedFields: existing['metadata']['managedFields'], ...(resource.namespaced ? { namespace: existing['metadata']['namespace'] } : {}) };
    this.finishUpdate(resource, existing, next, manager, subresource, response);
  }

  /** An update keeps what its endpoint does not own: the object's own endpoint leaves status alone, status the rest. */
  private finishUpdate(resource: ApiResource, existing: Obj, next: Obj, manager: string, subresource: string | undefined, response: ServerResponse): void {
    let result: Obj;
    if (subresource === 'status') {
      result = { ...structuredClone(existing), status: next['status'] };
    } else {
      result = next;
      if (existing['status'] !== undefined) result['status'] = structuredClone(existing['status']);
      else delete result['status'];
      const rejection = this.admissionRejection(resource, existing['metadata']['namespace'], result, 'UPDATE');
      if (rejection !== undefined) return this.send(response, 500, status(500, 'InternalError', rejection));
    }
    this.send(response, 200, this.update(resource, result, manager, subresource).object);
  }

  /** The scale subresource of Deployments, StatefulSets and ReplicaSets (`kubectl scale`). */
  private scale(resource: ApiResource, existing: Obj | undefined, name: string, method: string, body: string, contentType: string, manager: string, response: ServerResponse): void {
    if (existing === undefined) return this.send(response, 404, this.notFound(resource, name));
    const scaleOf = (object: Obj) => ({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name, namespace: object['metadata']['namespace'], uid: object['metadata']['uid'], resourceVersion: object['metadata']['resourceVersion'], creationTimestamp: object['metadata']['creationTimestamp'] },
      spec: { replicas: object['spec']?.['replicas'] ?? 1 },
      status: { replicas: object['status']?.['replicas'] ?? 0, selector: Object.entries(object['spec']?.['selector']?.['matchLabels'] ?? {}).map(([k, v]) => `${k}=${v}`).join(',') },
    });
    if (method === 'GET') return this.send(response, 200, scaleOf(existing));
    if (method !== 'PATCH' && method !== 'PUT') return this.send(response, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    const current = scaleOf(existing);
    const given = JSON.parse(body) as unknown;
    const wanted = (method === 'PUT' ? given : contentType.startsWith('application/json-patch+json') ? jsonPatch(current, given) : mergePatch(current, given)) as Obj;
    const next = structuredClone(existing);
    next['spec'] = { ...next['spec'], replicas: wanted['spec']?.['replicas'] ?? current.spec.replicas };
    const saved = this.update(resource, next, manager).object;
    this.send(response, 200, scaleOf(saved));
  }

  /**
   * A delete as the API server and the garbage collector carry it out: the object gone at once, with a namespace
   * every object in it, with a CRD its custom resources and its API (finalization, done at once here), and what the
   * object owns (ownerReferences) gone with it, unless the propagation policy is Orphan, which leaves the dependents
   * without the reference.
   */
  private removeObject(object: Obj, propagation: string): void {
    const resource = this.resourceOf(object);
    const name = object['metadata']['name'];
    const gone = new Map<string, Obj>();
    gone.set(this.key(resource, object['metadata']['namespace'], name), object);
    if (resource.kind === 'Namespace') {
      for (const [key, candidate] of this.objects) if (candidate['metadata']['namespace'] === name) gone.set(key, candidate);
    }
    if (resource.kind === 'CustomResourceDefinition') {
      const group = object['spec']['group'];
      const kind = object['spec']['names']['kind'];
      for (const [key, candidate] of this.objects) if (candidate['kind'] === kind && String(candidate['apiVersion']).startsWith(`${group}/`)) gone.set(key, candidate);
      this.crdEstablishedAt.delete(name);
    }
    if (resource.kind !== 'Event') {
      const dependents = new Map<string, [string, Obj][]>();
      for (const [key, candidate] of this.objects) {
        for (const ref of (candidate['metadata']['ownerReferences'] ?? []) as Obj[]) {
          const list = dependents.get(ref['uid']);
          if (list) list.push([key, candidate]);
          else dependents.set(ref['uid'], [[key, candidate]]);
        }
      }
      const queue = [...gone.values()];
      while (queue.length > 0) {
        const owner = queue.shift()!;
        for (const [key, dependent] of dependents.get(owner['metadata']['uid']) ?? []) {
          if (gone.has(key)) continue;
          if (propagation === 'Orphan' && owner === object) {
            const orphan = structuredClone(dependent);
            orphan['metadata']['ownerReferences'] = (orphan['metadata']['ownerReferences'] as Obj[]).filter((ref) => ref['uid'] !== object['metadata']['uid']);
            if (orphan['metadata']['ownerReferences'].length === 0) delete orphan['metadata']['ownerReferences'];
            this.save(orphan, 'kube-controller-manager');
            continue;
          }
          // A dependent with another owner still there stays, as the garbage collector leaves it.
          const others = ((dependent['metadata']['ownerReferences'] ?? []) as Obj[]).filter((ref) => ref['uid'] !== owner['metadata']['uid']);
          if (others.some((ref) => [...this.objects.values()].some((o) => o['metadata']['uid'] === ref['uid'] && !gone.has(this.key(this.resourceOf(o), o['metadata']['namespace'], o['metadata']['name']))))) continue;
          gone.set(key, dependent);
          queue.push(dependent);
        }
      }
    }
    for (const [key, deleted] of gone) {
      this.drop(key);
      this.notify('DELETED', deleted);
      if (deleted['kind'] === 'Pod') this.scheduler.podsChanged();
    }
  }

  private admissionRejection(resource: ApiResource, namespace: string | undefined, object: Obj, operation: string): string | undefined {
    const labels: Record<string, string> = object['metadata']?.['labels'] ?? {};
    const nsObject = namespace === undefined ? undefined : this.objects.get(`/namespaces//${namespace}`);
    const nsLabels = { 'kubernetes.io/metadata.name': namespace ?? '', ...(nsObject?.['metadata']?.['labels'] ?? {}) };
    for (const configuration of [...this.list('MutatingWebhookConfiguration'), ...this.list('ValidatingWebhookConfiguration')]) {
      for (const webhook of (configuration['webhooks'] ?? []) as Obj[]) {
        if ((webhook['failurePolicy'] ?? 'Fail') !== 'Fail') continue;
        const service = webhook['clientConfig']?.['service'];
        if (service === undefined) continue;
        const ruleMatch = ((webhook['rules'] ?? []) as Obj[]).some(
          (rule) =>
            ((rule['apiGroups'] ?? []) as string[]).some((g) => g === '*' || g === resource.group) &&
            ((rule['resources'] ?? []) as string[]).some((r) => r === '*' || r === '*/*' || r === resource.plural) &&
            ((rule['operations'] ?? []) as string[]).some((o) => o === '*' || o === operation),
        );
        if (!ruleMatch) continue;
        if (resource.namespaced && !selectorMatches(webhook['namespaceSelector'], nsLabels)) continue;
        if (!selectorMatches(webhook['objectSelector'], labels)) continue;
        const endpoints = this.get('Endpoints', service['namespace'], service['name']);
        const ready = (endpoints?.['subsets'] ?? []).some((s: Obj) => (s['addresses'] ?? []).length > 0);
        if (!ready) {
          return (
            `Internal error occurred: failed calling webhook "${webhook['name']}": failed to call webhook: ` +
            `Post "https://${service['name']}.${service['namespace']}.svc:${service['port'] ?? 443}${service['path'] ?? ''}?timeout=10s": ` +
            `no endpoints available for service "${service['name']}"`
          );
        }
      }
    }
    return undefined;
  }

  // ---- the control plane ----

  private reconcile(): void {
    const now = Date.now();
    const steps: [string, () => void][] = [
      ['crd-establishing', () => this.establishCrds(now)],
      ['namespace-defaults', () => reconcileNamespaceDefaults(this.cluster)],
      ['node-lifecycle', () => reconcileNodeTaints(this.cluster)],
      ['deployment-controller', () => this.deployments.sync(now)],
      ['statefulset-controller', () => this.statefulSets.sync(now)],
      ['daemonset-controller', () => this.daemonSets.sync(now)],
      ['job-controller', () => this.jobs.sync(now)],
      ['persistentvolume-controller', () => this.volumes.reconcile(now)],
      ['scheduler', () => this.scheduler.reconcile(now)],
      ['kubelet', () => this.kubelet.reconcile(now)],
      ['deployment-status', () => this.deployments.updateStatus(now)],
      ['statefulset-status', () => this.statefulSets.updateStatus(now)],
      ['daemonset-status', () => this.daemonSets.updateStatus(now)],
      ['endpoints-controller', () => reconcileEndpoints(this.cluster)],
      ['cert-manager', () => reconcileCertificates(this.cluster)],
      ['istiod', () => reconcileIstioRootCert(this.cluster)],
    ];
    for (const [name, step] of steps) {
      try {
        step();
      } catch (error) {
        // A bug in the double must not go unseen, nor flood the output once a round.
        const message = `api-double: ${name} failed: ${(error as Error).stack ?? String(error)}`;
        if (!this.reported.has(message)) {
          this.reported.add(message);
          console.error(message);
        }
      }
    }
  }

  private establishCrds(now: number): void {
    for (const crd of this.list('CustomResourceDefinition')) {
      const at = this.crdEstablishedAt.get(crd['metadata']['name']);
      const established = crd['status']?.['conditions']?.some((c: Obj) => c['type'] === 'Established' && c['status'] === 'True');
      if (at !== undefined && at <= now && !established) {
        const next = structuredClone(crd);
        next['status'] = { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True', reason: 'InitialNamesAccepted' }] };
        this.update(this.builtin('CustomResourceDefinition'), next, 'kube-apiserver', 'status');
      }
    }
  }
}

