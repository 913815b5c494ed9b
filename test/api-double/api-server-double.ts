// A Kubernetes API server test double that the real kubectl talks to over HTTP on 127.0.0.1. It fails the way a real
// API server fails, with the same status codes and messages kubectl prints:
// - a custom resource's kind is absent from discovery until its CRD is Established (after a delay), so kubectl
//   reports "no matches for kind";
// - a namespaced object in a missing namespace gets 404 `namespaces "x" not found`;
// - an object matched by a webhook (failurePolicy Fail) gets 500 "failed calling webhook … no endpoints available"
//   until the Deployment behind the webhook's Service is Available.
// Workloads become Available only if every image they reference exists in the target Docker engine under that exact
// reference (pull policy Always never works offline) and every non-optional Secret and ConfigMap they mount exists.
// cert-manager Certificates produce their Secret once cert-manager's Deployments are Available. A pod pinned with a
// kubernetes.io/hostname node selector waits for such a node, and one with a claim for the claim and its StorageClass.
// Server-side apply keeps field ownership in metadata.managedFields (field-ownership.ts): an apply that changes a
// field another manager owns fails with 409 Conflict unless forced, a repeated apply writes nothing (same
// resourceVersion and generation), and generation counts changes to anything but metadata and status. This lives in
// test/: it is evidence, not product.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { readYaml } from '../../src/core/kube-yaml.js';
import { applyConfiguration, conflictStatus, recordUpdate, shapeOf, type Shape } from './field-ownership.js';
import { BUILTIN_RESOURCES, type ApiResource } from './resources.js';

type Obj = Record<string, any>;

export interface ApiServerDoubleOptions {
  /** Whether the target node has this image under this exact reference. */
  hasImage: (ref: string) => Promise<boolean>;
  /** How long a CRD takes to become Established. */
  crdDelayMs?: number;
  /** How long a ready workload takes to become Available. */
  availableDelayMs?: number;
  /** The cluster's nodes, by name (also their kubernetes.io/hostname label). */
  nodes?: readonly string[];
}

interface Watcher {
  resource: ApiResource;
  namespace: string | undefined;
  name: string | undefined;
  response: ServerResponse;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

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

function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return true;
  for (const [k, v] of Object.entries(selector['matchLabels'] ?? {})) if (labels[k] !== v) return false;
  for (const e of (selector['matchExpressions'] ?? []) as Obj[]) {
    const has = Object.hasOwn(labels, e['key']);
    const values: string[] = e['values'] ?? [];
    if (e['operator'] === 'In' && (!has || !values.includes(labels[e['key']]!))) return false;
    if (e['operator'] === 'NotIn' && has && values.includes(labels[e['key']]!)) return false;
    if (e['operator'] === 'Exists' && !has) return false;
    if (e['operator'] === 'DoesNotExist' && has) return false;
  }
  return true;
}

export class ApiServerDouble {
  private readonly server: Server;
  private readonly options: Required<ApiServerDoubleOptions>;
  private readonly store = new Map<string, Obj>();
  private readonly watchers = new Set<Watcher>();
  private resourceVersion = 1;
  private readonly crdEstablishedAt = new Map<string, number>();
  private readonly readySince = new Map<string, number>();
  private readonly imageCache = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private reconciling = false;
  /** Every request kubectl made, for tests that check what was asked. */
  readonly requests: string[] = [];
  url = '';

  constructor(options: ApiServerDoubleOptions) {
    this.options = { crdDelayMs: 300, availableDelayMs: 200, nodes: ['node-1'], ...options };
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async start(): Promise<void> {
    // Every real cluster has these before anything is installed; cert-manager, for one, puts RBAC in kube-system.
    const namespaces = this.resourceFor('', 'v1', 'namespaces')!;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.update(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } }, status: { phase: 'Active' } }, 'kube-apiserver');
    }
    const nodes = this.resourceFor('', 'v1', 'nodes')!;
    for (const name of this.options.nodes) {
      const labels = { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' };
      this.update(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'kubelet');
    }
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.timer = setInterval(() => void this.reconcile(), 100);
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
    return [...this.store.values()];
  }

  /** Objects of a kind, for assertions. */
  list(kind: string): Obj[] {
    return [...this.store.values()].filter((o) => o['kind'] === kind);
  }

  get(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.list(kind).find((o) => o['metadata']['name'] === name && o['metadata']['namespace'] === namespace);
  }

  // ---- resources and discovery ----

  private resources(): ApiResource[] {
    const now = Date.now();
    const custom: ApiResource[] = [];
    for (const crd of this.list('CustomResourceDefinition')) {
      const at = this.crdEstablishedAt.get(crd['metadata']['name']);
      if (at === undefined || at > now) continue;
      for (const version of crd['spec']['versions'] ?? []) {
        if (version['served'] === false) continue;
        const names = crd['spec']['names'];
        custom.push({ group: crd['spec']['group'], version: version['name'], kind: names['kind'], plural: names['plural'], namespaced: crd['spec']['scope'] === 'Namespaced', shortNames: names['shortNames'] ?? [] });
      }
    }
    return [...BUILTIN_RESOURCES, ...custom];
  }

  private groupVersions(): Map<string, ApiResource[]> {
    const byGv = new Map<string, ApiResource[]>();
    for (const r of this.resources()) {
      const gv = r.group === '' ? r.version : `${r.group}/${r.version}`;
      byGv.set(gv, [...(byGv.get(gv) ?? []), r]);
    }
    return byGv;
  }

  private resourceList(gv: string, resources: ApiResource[]): Obj {
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: gv,
      resources: resources.flatMap((r) => [
        { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs, shortNames: r.shortNames ?? [] },
        { name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] },
      ]),
    };
  }

  private openApiDoc(gv: string, resources: ApiResource[]): Obj {
    const paths: Obj = {};
    for (const r of resources) {
      const prefix = r.group === '' ? '/api/v1' : `/apis/${gv}`;
      const path = `${prefix}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
      paths[path] = {
        patch: {
          'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
          parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string' } }, { name: 'fieldManager', in: 'query', schema: { type: 'string' } }],
          responses: { '200': { description: 'OK' } },
        },
      };
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
  }

  private resourceFor(group: string, version: string, plural: string): ApiResource | undefined {
    return this.resources().find((r) => r.group === group && r.version === version && r.plural === plural);
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
      this.route(request.method ?? 'GET', url, body, response, request.headers['content-type'] ?? '', request.headers['user-agent'] ?? '');
    } catch (error) {
      this.send(response, 500, status(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`));
    }
  }

  private route(method: string, url: URL, body: string, response: ServerResponse, contentType: string, userAgent: string): void {
    const path = url.pathname.replace(/\/+$/, '');
    const parts = path.split('/').filter((p) => p !== '');
    if (path === '/version') return this.send(response, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    if (path === '/api') return this.send(response, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.slice(7) }] });
    if (path === '/apis') {
      const groups = new Map<string, string[]>();
      for (const gv of this.groupVersions().keys()) {
        if (!gv.includes('/')) continue;
        const [group, version] = gv.split('/') as [string, string];
        groups.set(group, [...(groups.get(group) ?? []), version]);
      }
      return this.send(response, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
    }
    if (path === '/openapi/v3') {
      const paths: Obj = {};
      for (const [gv, resources] of this.groupVersions()) {
        const key = gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
        paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${resources.length}${resources.map((r) => r.kind).join('').length}` };
      }
      return this.send(response, 200, { paths });
    }
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const gv = parts[2] === 'api' ? parts[3]! : `${parts[3]}/${parts[4]}`;
      const resources = this.groupVersions().get(gv);
      return resources ? this.send(response, 200, this.openApiDoc(gv, resources)) : this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    if (path === '/openapi/v2') {
      // An empty protobuf message is a valid, empty OpenAPI v2 document: kubectl then skips client-side schema checks
      // for kinds it does not know and reports them as a real server makes it: "no matches for kind".
      response.writeHead(200, { 'content-type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' });
      response.end();
      return;
    }
    if (parts[0] === 'openapi') return this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));

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
      return this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const gv = group === '' ? version : `${group}/${version}`;
    if (rest.length === 0) {
      const resources = this.groupVersions().get(gv);
      return resources ? this.send(response, 200, this.resourceList(gv, resources)) : this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource] = rest as [string, string | undefined, string | undefined];
    const resource = this.resourceFor(group, version, plural);
    if (resource === undefined) return this.send(response, 404, status(404, 'NotFound', 'the server could not find the requested resource'));

    if (method === 'GET' && name === undefined) return this.listOrWatch(resource, namespace, url, response);
    if (method === 'GET') {
      const object = this.store.get(this.key(resource, namespace, name!));
      return object ? this.send(response, 200, object) : this.send(response, 404, this.notFound(resource, name!));
    }
    if (method === 'PATCH' && name !== undefined && subresource === undefined) {
      if (contentType.startsWith('application/apply-patch')) return this.apply(resource, namespace, name, body, url, response);
      return this.mergePatch(resource, namespace, name, body, updaterOf(url, userAgent), response);
    }
    if (method === 'POST' && name === undefined) {
      const object = readYaml(body) as Obj;
      return this.create(resource, namespace, object, updaterOf(url, userAgent), response);
    }
    if (method === 'DELETE' && name !== undefined && subresource === undefined) return this.remove(resource, namespace, name, response);
    return this.send(response, 405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
  }

  /**
   * A delete as the API server answers it: 404 for what is not there; the object gone, and with a namespace every
   * object in it, with a CRD its custom resources and its API (finalization, done at once here).
   */
  private remove(resource: ApiResource, namespace: string | undefined, name: string, response: ServerResponse): void {
    const key = this.key(resource, namespace, name);
    const object = this.store.get(key);
    if (object === undefined) return this.send(response, 404, this.notFound(resource, name));
    const gone = [key];
    if (resource.kind === 'Namespace') {
      for (const [other, candidate] of this.store) if (candidate['metadata']['namespace'] === name) gone.push(other);
    }
    if (resource.kind === 'CustomResourceDefinition') {
      const group = object['spec']['group'];
      const kind = object['spec']['names']['kind'];
      for (const [other, candidate] of this.store) if (candidate['kind'] === kind && String(candidate['apiVersion']).startsWith(`${group}/`)) gone.push(other);
      this.crdEstablishedAt.delete(name);
    }
    for (const other of gone) {
      const deleted = this.store.get(other)!;
      this.store.delete(other);
      this.notify('DELETED', deleted);
    }
    this.send(response, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: resource.group, kind: resource.plural, uid: object['metadata']['uid'] } });
  }

  private notFound(resource: ApiResource, name: string): Obj {
    const qualified = resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
    return status(404, 'NotFound', `${qualified} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
  }

  private key(resource: ApiResource, namespace: string | undefined, name: string): string {
    return `${resource.group}/${resource.plural}/${resource.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  private listOrWatch(resource: ApiResource, namespace: string | undefined, url: URL, response: ServerResponse): void {
    const field = url.searchParams.get('fieldSelector') ?? '';
    const nameFilter = /metadata\.name=([^,]+)/.exec(field)?.[1];
    const matches = (o: Obj) =>
      o['kind'] === resource.kind &&
      (o['apiVersion'] as string).startsWith(resource.group === '' ? 'v1' : `${resource.group}/`) &&
      (!resource.namespaced || namespace === undefined || o['metadata']['namespace'] === namespace) &&
      (nameFilter === undefined || o['metadata']['name'] === nameFilter);
    const items = [...this.store.values()].filter(matches);
    if (url.searchParams.get('watch') !== 'true' && url.searchParams.get('watch') !== '1') {
      return this.send(response, 200, { kind: `${resource.kind}List`, apiVersion: resource.group === '' ? 'v1' : `${resource.group}/${resource.version}`, metadata: { resourceVersion: String(this.resourceVersion) }, items });
    }
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A real API server answers a watch at once; client-go's informers (kubectl wait) block until the headers come.
    response.flushHeaders();
    const watcher: Watcher = { resource, namespace, name: nameFilter, response };
    this.watchers.add(watcher);
    const since = Number(url.searchParams.get('resourceVersion') ?? 0);
    for (const item of items) if (Number(item['metadata']['resourceVersion']) > since) response.write(`${JSON.stringify({ type: 'MODIFIED', object: item })}\n`);
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
      if (watcher.resource.kind !== object['kind']) continue;
      if (watcher.resource.namespaced && watcher.namespace !== undefined && watcher.namespace !== object['metadata']['namespace']) continue;
      if (watcher.name !== undefined && watcher.name !== object['metadata']['name']) continue;
      watcher.response.write(`${JSON.stringify({ type, object })}\n`);
    }
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
    const existing = this.store.get(key);
    metadata['uid'] = existing?.['metadata']['uid'] ?? `uid-${this.resourceVersion + 1}`;
    metadata['creationTimestamp'] = existing?.['metadata']['creationTimestamp'] ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (existing !== undefined && sameContent(existing, object)) return { object: existing, type: 'UNCHANGED' };
    metadata['generation'] = existing === undefined ? 1 : existing['metadata']['generation'] + (specChanged(existing, object) ? 1 : 0);
    metadata['resourceVersion'] = String(++this.resourceVersion);
    this.store.set(key, object);
    const type = existing === undefined ? 'ADDED' : 'MODIFIED';
    this.notify(type, object);
    return { object, type };
  }

  /** A write that is not an apply (a create, a merge patch, a controller's): its manager takes the fields it changes. */
  private update(resource: ApiResource, object: Obj, manager: string, subresource?: string): { object: Obj; type: 'ADDED' | 'MODIFIED' | 'UNCHANGED' } {
    const before = this.store.get(this.key(resource, object['metadata']['namespace'], object['metadata']['name']));
    const apiVersion = resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
    recordUpdate({ before, after: object, manager, apiVersion, subresource, shape: this.shape(resource) });
    return this.write(resource, object);
  }

  /** What the API server itself sets on a new object: a Namespace is Active, a CRD starts establishing its names. */
  private initialStatus(resource: ApiResource, object: Obj): void {
    const name = object['metadata']['name'];
    if (resource.kind === 'Namespace') object['status'] = { phase: 'Active' };
    if (resource.kind === 'CustomResourceDefinition' && !this.crdEstablishedAt.has(name)) {
      this.crdEstablishedAt.set(name, Date.now() + this.options.crdDelayMs);
      object['status'] = { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'False', reason: 'Installing' }] };
    }
  }

  private missingNamespace(resource: ApiResource, namespace: string | undefined): Obj | undefined {
    if (!resource.namespaced || this.store.has(`/namespaces//${namespace}`)) return undefined;
    return status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
  }

  // ---- server-side apply with the checks a real server makes ----

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
    const existing = this.store.get(this.key(resource, namespace, name));

    // Status is the controllers' to write, and what the server sets in metadata is no applier's.
    const { status: _status, ...content } = applied;
    const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, managedFields: _m, ...metadata } = (content['metadata'] ?? {}) as Obj;
    const config = { ...content, metadata: { ...metadata, name, ...(resource.namespaced ? { namespace } : {}) } };
    const result = applyConfiguration({ live: existing, config, manager, force: url.searchParams.get('force') === 'true', shape: this.shape(resource) });
    if (!('object' in result)) return this.send(response, 409, conflictStatus(result.conflicts));

    const rejection = this.admissionRejection(resource, namespace, result.object, existing === undefined ? 'CREATE' : 'UPDATE');
    if (rejection !== undefined) return this.send(response, 500, status(500, 'InternalError', rejection));
    if (existing === undefined) this.initialStatus(resource, result.object);
    const written = this.write(resource, result.object);
    this.send(response, written.type === 'ADDED' ? 201 : 200, written.object);
  }

  /** POST: a create, which fails on an object that exists. */
  private create(resource: ApiResource, namespace: string | undefined, object: Obj, manager: string, response: ServerResponse): void {
    if (!isObj(object) || !isObj(object['metadata'])) return this.send(response, 400, status(400, 'BadRequest', 'the body of the request was in an unknown format'));
    const name = object['metadata']['name'] as string;
    const missing = this.missingNamespace(resource, namespace);
    if (missing !== undefined) return this.send(response, 404, missing);
    if (this.store.has(this.key(resource, namespace, name))) {
      const qualified = resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
      return this.send(response, 409, status(409, 'AlreadyExists', `${qualified} "${name}" already exists`, { name, group: resource.group, kind: resource.plural }));
    }
    const rejection = this.admissionRejection(resource, namespace, object, 'CREATE');
    if (rejection !== undefined) return this.send(response, 500, status(500, 'InternalError', rejection));
    const { status: _status, ...content } = object;
    const fresh: Obj = { ...content, metadata: { ...object['metadata'], ...(resource.namespaced ? { namespace } : {}) } };
    this.initialStatus(resource, fresh);
    this.send(response, 201, this.update(resource, fresh, manager).object);
  }

  /** JSON merge patch and strategic merge patch (as `kubectl label` sends): merged into the existing object. */
  private mergePatch(resource: ApiResource, namespace: string | undefined, name: string, body: string, manager: string, response: ServerResponse): void {
    const existing = this.store.get(this.key(resource, namespace, name));
    if (existing === undefined) return this.send(response, 404, this.notFound(resource, name));
    const merge = (target: Obj, patch: Obj): Obj => {
      const result: Obj = { ...target };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete result[key];
        else if (isObj(value) && isObj(result[key])) result[key] = merge(result[key], value);
        else result[key] = value;
      }
      return result;
    };
    const patched = merge(structuredClone(existing), JSON.parse(body) as Obj);
    // A patch of the object itself leaves its status alone, as on every kind with a status subresource.
    if (existing['status'] !== undefined) patched['status'] = existing['status'];
    else delete patched['status'];
    this.send(response, 200, this.update(resource, patched, manager).object);
  }

  private admissionRejection(resource: ApiResource, namespace: string | undefined, object: Obj, operation: string): string | undefined {
    const labels: Record<string, string> = object['metadata']?.['labels'] ?? {};
    const nsObject = namespace === undefined ? undefined : this.store.get(`/namespaces//${namespace}`);
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

  // ---- controllers: CRD establishment, workload availability, endpoints, cert-manager ----

  private async reconcile(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      const now = Date.now();
      for (const crd of this.list('CustomResourceDefinition')) {
        const at = this.crdEstablishedAt.get(crd['metadata']['name']);
        const established = crd['status']?.['conditions']?.some((c: Obj) => c['type'] === 'Established' && c['status'] === 'True');
        if (at !== undefined && at <= now && !established) {
          const next = structuredClone(crd);
          next['status'] = { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True', reason: 'InitialNamesAccepted' }] };
          this.update(this.resourceFor('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!, next, 'kube-apiserver', 'status');
        }
      }
      for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet']) {
        for (const workload of this.list(kind)) await this.reconcileWorkload(workload, now);
      }
      this.reconcileEndpoints();
      this.reconcileCertificates();
      this.reconcileIstioRootCert();
    } finally {
      this.reconciling = false;
    }
  }

  /** Why the workload's pods cannot run on the isolated target, or undefined when they can. */
  private async blocker(workload: Obj): Promise<string | undefined> {
    const namespace = workload['metadata']['namespace'];
    const pod = workload['spec']?.['template']?.['spec'] ?? {};
    const containers = [...(pod['initContainers'] ?? []), ...(pod['containers'] ?? [])] as Obj[];
    for (const container of containers) {
      const ref = container['image'] as string;
      const tag = ref.includes('@') ? undefined : ref.slice(ref.lastIndexOf('/') + 1).split(':')[1];
      const policy = container['imagePullPolicy'] ?? (ref.includes('@') || (tag !== undefined && tag !== 'latest') ? 'IfNotPresent' : 'Always');
      if (policy === 'Always') return `ImagePullBackOff: ${ref} (imagePullPolicy Always cannot pull without a registry)`;
      let present = this.imageCache.get(ref);
      if (present !== true) {
        present = await this.options.hasImage(ref);
        this.imageCache.set(ref, present);
      }
      if (!present) return policy === 'Never' ? `ErrImageNeverPull: ${ref}` : `ImagePullBackOff: ${ref} is not on the node`;
    }
    // The scheduler's view, for the one selector an installer pins a pod with.
    const hostname = pod['nodeSelector']?.['kubernetes.io/hostname'];
    const nodes = this.list('Node');
    if (hostname !== undefined && !nodes.some((node) => node['metadata']['labels']?.['kubernetes.io/hostname'] === hostname)) {
      return `FailedScheduling: 0/${nodes.length} nodes are available: ${nodes.length} node(s) didn't match Pod's node affinity/selector`;
    }
    for (const volume of (pod['volumes'] ?? []) as Obj[]) {
      const claimName = volume['persistentVolumeClaim']?.['claimName'];
      if (claimName !== undefined) {
        const claim = this.get('PersistentVolumeClaim', namespace, claimName);
        if (claim === undefined) return `FailedScheduling: persistentvolumeclaim "${claimName}" not found`;
        const storageClass = claim['spec']?.['storageClassName'];
        if (storageClass !== undefined && this.get('StorageClass', undefined, storageClass) === undefined) {
          return `FailedScheduling: pod has unbound immediate PersistentVolumeClaims (storageclass.storage.k8s.io "${storageClass}" not found)`;
        }
      }
      const secret = volume['secret'];
      if (secret && secret['optional'] !== true && this.get('Secret', namespace, secret['secretName']) === undefined) {
        return `FailedMount: secret "${secret['secretName']}" not found`;
      }
      const configMap = volume['configMap'];
      if (configMap && configMap['optional'] !== true && this.get('ConfigMap', namespace, configMap['name']) === undefined) {
        return `FailedMount: configmap "${configMap['name']}" not found`;
      }
    }
    return undefined;
  }

  private async reconcileWorkload(seen: Obj, now: number): Promise<void> {
    const id = `${seen['kind']}/${seen['metadata']['namespace']}/${seen['metadata']['name']}`;
    const blocked = await this.blocker(seen);
    // An apply may have replaced the object while the images were looked up: that one is judged on the next round.
    const workload = this.get(seen['kind'], seen['metadata']['namespace'], seen['metadata']['name']);
    if (workload === undefined || workload['metadata']['generation'] !== seen['metadata']['generation']) return;
    if (blocked === undefined && !this.readySince.has(id)) this.readySince.set(id, now);
    if (blocked !== undefined) this.readySince.delete(id);
    const available = blocked === undefined && now - this.readySince.get(id)! >= this.options.availableDelayMs;
    const replicas = workload['spec']?.['replicas'] ?? 1;
    const condition = available
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: blocked ?? 'pods starting' };
    const previous = workload['status']?.['conditions']?.[0];
    if (previous?.status === condition.status && previous?.message === condition.message && workload['status']?.['observedGeneration'] === workload['metadata']['generation']) return;
    const next = structuredClone(workload);
    next['status'] = {
      observedGeneration: workload['metadata']['generation'],
      replicas,
      readyReplicas: available ? replicas : 0,
      availableReplicas: available ? replicas : 0,
      updatedReplicas: replicas,
      numberReady: available ? replicas : 0,
      desiredNumberScheduled: replicas,
      conditions: [condition],
    };
    const plural = `${(workload['kind'] as string).toLowerCase()}s`;
    this.update(this.resourceFor('apps', 'v1', plural)!, next, 'kube-controller-manager', 'status');
  }

  /** Whether a workload is Available, for tests and for endpoints. */
  isAvailable(workload: Obj): boolean {
    return workload['status']?.['conditions']?.some((c: Obj) => c['type'] === 'Available' && c['status'] === 'True') === true;
  }

  private reconcileEndpoints(): void {
    const endpointsResource = this.resourceFor('', 'v1', 'endpoints')!;
    for (const service of this.list('Service')) {
      const namespace = service['metadata']['namespace'];
      const selector = service['spec']?.['selector'];
      const backends = ['Deployment', 'StatefulSet', 'DaemonSet']
        .flatMap((kind) => this.list(kind))
        .filter((w) => w['metadata']['namespace'] === namespace && isObj(selector) && selectorMatches({ matchLabels: selector }, w['spec']?.['template']?.['metadata']?.['labels'] ?? {}));
      const ready = backends.some((w) => this.isAvailable(w));
      const ports = ((service['spec']?.['ports'] ?? []) as Obj[]).map((p) => ({ name: p['name'], port: p['targetPort'] ?? p['port'], protocol: p['protocol'] ?? 'TCP' }));
      const subsets = ready ? [{ addresses: [{ ip: '10.0.0.10' }], ports }] : [];
      const existing = this.get('Endpoints', namespace, service['metadata']['name']);
      if (existing !== undefined && JSON.stringify(existing['subsets'] ?? []) === JSON.stringify(subsets)) continue;
      const endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { ...structuredClone(existing?.['metadata'] ?? {}), name: service['metadata']['name'], namespace }, subsets };
      this.update(endpointsResource, endpoints, 'kube-controller-manager');
    }
  }

  /** istiod publishes its root certificate as ConfigMap istio-ca-root-cert in every namespace once it runs. */
  private reconcileIstioRootCert(): void {
    const istiod = this.get('Deployment', 'istio-system', 'istiod');
    if (istiod === undefined || !this.isAvailable(istiod)) return;
    const configMaps = this.resourceFor('', 'v1', 'configmaps')!;
    for (const namespace of this.list('Namespace')) {
      const name = namespace['metadata']['name'];
      if (this.get('ConfigMap', name, 'istio-ca-root-cert') !== undefined) continue;
      this.update(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-ca-root-cert', namespace: name }, data: { 'root-cert.pem': 'double' } }, 'pilot-discovery');
    }
  }

  private reconcileCertificates(): void {
    const certManager = this.list('Deployment').filter((d) => d['metadata']['namespace'] === 'cert-manager');
    if (certManager.length === 0 || !certManager.every((d) => this.isAvailable(d))) return;
    const secretResource = this.resourceFor('', 'v1', 'secrets')!;
    for (const certificate of this.list('Certificate')) {
      const namespace = certificate['metadata']['namespace'];
      const secretName = certificate['spec']?.['secretName'];
      if (secretName === undefined || this.get('Secret', namespace, secretName) !== undefined) continue;
      const pem = Buffer.from('-----BEGIN CERTIFICATE-----\nZG91Ymxl\n-----END CERTIFICATE-----\n').toString('base64');
      const secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: secretName, namespace }, data: { 'tls.crt': pem, 'tls.key': pem, 'ca.crt': pem } };
      this.update(secretResource, secret, 'cert-manager-certificates-issuing');
      const next = structuredClone(certificate);
      next['status'] = { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }] };
      const [group, version] = (certificate['apiVersion'] as string).split('/') as [string, string];
      const resource = this.resourceFor(group, version, 'certificates');
      if (resource) this.update(resource, next, 'cert-manager-certificates-readiness', 'status');
    }
  }
}
