// Server-side apply's field ownership, as far as the double needs it to answer kubectl as a real API server does.
// Each writer ("manager") owns the set of fields it set, recorded in metadata.managedFields as FieldsV1. An apply that
// changes a field another manager owns fails with a conflict unless forced; forcing moves the field to the applier.
// Setting a field to the value it already has shares its ownership. A field the applier set before and leaves out now
// is removed, unless another manager owns it. Updates (merge patches, controllers) take the fields they change.
//
// Which lists are maps keyed by some field (containers by name, ports by port and protocol) is schema knowledge a real
// server reads from OpenAPI; the double knows the few built-in ones the tests meet and treats every other list, and
// every list of a custom resource, as atomic (what a CRD without list annotations gets).

import { isDeepStrictEqual } from 'node:util';

type Obj = Record<string, any>;

export type PathElement = { field: string } | { key: Record<string, unknown> };
export type FieldPath = readonly PathElement[];
/** Field paths by a canonical form of each. */
export type FieldSet = Map<string, FieldPath>;

export interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time: string;
  fields: FieldSet;
}

export interface Conflict {
  manager: Manager;
  path: FieldPath;
}

/** What the double knows of a kind's schema: which lists are keyed and which maps are replaced whole. */
export interface Shape {
  /** The key fields of the list at a path (given by its field names), or undefined for an atomic list. */
  listKeys(names: readonly string[]): readonly string[] | undefined;
  atomicMap(names: readonly string[]): boolean;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);
const SELECTOR_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'PodDisruptionBudget']);
/** Metadata the server sets or that names the object: never owned by a manager. */
const SERVER_METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds']);

export function shapeOf(kind: string, builtin: boolean): Shape {
  if (!builtin) return { listKeys: () => undefined, atomicMap: () => false };
  return {
    listKeys(names) {
      const last = names.at(-1);
      const inContainer = CONTAINER_LISTS.has(names.at(-2) ?? '');
      if (last !== undefined && CONTAINER_LISTS.has(last)) return ['name'];
      if (last === 'volumes' || last === 'imagePullSecrets') return ['name'];
      if (last === 'env' && inContainer) return ['name'];
      if (last === 'volumeMounts' && inContainer) return ['mountPath'];
      if (last === 'ports' && inContainer) return ['containerPort', 'protocol'];
      if (last === 'ports' && kind === 'Service' && names.length === 2) return ['port', 'protocol'];
      if (last === 'webhooks' && kind.endsWith('WebhookConfiguration') && names.length === 1) return ['name'];
      if (last === 'versions' && kind === 'CustomResourceDefinition' && names.length === 2) return ['name'];
      if (last === 'conditions' && names.length === 2 && names[0] === 'status') return ['type'];
      return undefined;
    },
    // A LabelSelector is replaced whole (x-kubernetes-map-type: atomic).
    atomicMap: (names) => SELECTOR_KINDS.has(kind) && names.length === 2 && names[0] === 'spec' && names[1] === 'selector',
  };
}

// ---- paths ----

const pathKey = (path: FieldPath): string => JSON.stringify(path);

function sortedKey(key: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(key).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The path as the API server prints it in a conflict: `.spec.template.spec.containers[name="main"].image`. */
function formatPath(path: FieldPath): string {
  return path
    .map((element) =>
      'field' in element
        ? `.${element.field}`
        : `[${Object.entries(element.key)
            .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
            .join(',')}]`,
    )
    .join('');
}

/** The key of each item when the list at `names` is keyed and every item has a distinct key; undefined otherwise. */
function itemKeys(list: unknown[], names: readonly string[], shape: Shape): Record<string, unknown>[] | undefined {
  const fields = shape.listKeys(names);
  if (fields === undefined) return undefined;
  const keys: Record<string, unknown>[] = [];
  for (const item of list) {
    if (!isObj(item)) return undefined;
    const key = sortedKey(Object.fromEntries(fields.filter((f) => item[f] !== undefined).map((f) => [f, item[f]])));
    if (Object.keys(key).length === 0 || keys.some((k) => isDeepStrictEqual(k, key))) return undefined;
    keys.push(key);
  }
  return keys;
}

type Visit = (path: FieldPath, value: unknown) => void;

/**
 * Visits every field a manager can own: each leaf (a scalar, an atomic list or map, an empty map) and each item of a
 * keyed list (with `undefined` as its value, since its fields are visited on their own).
 */
function walk(value: unknown, path: FieldPath, names: readonly string[], shape: Shape, visit: Visit): void {
  if (isObj(value) && Object.keys(value).length > 0 && !shape.atomicMap(names)) {
    for (const [field, child] of Object.entries(value)) walk(child, [...path, { field }], [...names, field], shape, visit);
    return;
  }
  if (Array.isArray(value)) {
    const keys = itemKeys(value, names, shape);
    if (keys !== undefined) {
      value.forEach((item, i) => {
        const itemPath = [...path, { key: keys[i]! }];
        visit(itemPath, undefined);
        for (const [field, child] of Object.entries(item as Obj)) walk(child, [...itemPath, { field }], [...names, field], shape, visit);
      });
      return;
    }
  }
  visit(path, value);
}

/** Every ownable field of an object: its content and metadata labels, annotations and the like; status if asked. */
function visitObject(object: Obj, shape: Shape, withStatus: boolean, visit: Visit): void {
  for (const [field, value] of Object.entries(object)) {
    if (field === 'apiVersion' || field === 'kind' || (field === 'status' && !withStatus)) continue;
    if (field === 'metadata' && isObj(value)) {
      for (const [name, child] of Object.entries(value)) {
        if (!SERVER_METADATA.has(name)) walk(child, [{ field }, { field: name }], [field, name], shape, visit);
      }
      continue;
    }
    walk(value, [{ field }], [field], shape, visit);
  }
}

function fieldValues(object: Obj, shape: Shape, withStatus: boolean): Map<string, { path: FieldPath; value: unknown }> {
  const values = new Map<string, { path: FieldPath; value: unknown }>();
  visitObject(object, shape, withStatus, (path, value) => values.set(pathKey(path), { path, value }));
  return values;
}

/** The fields a configuration sets: what its applier owns. */
function configFields(config: Obj, shape: Shape): FieldSet {
  const fields: FieldSet = new Map();
  visitObject(config, shape, false, (path) => fields.set(pathKey(path), path));
  return fields;
}

/** Fields whose value differs between the two objects, or that only `after` has. */
function changedFields(before: Obj, after: Obj, shape: Shape, withStatus: boolean): FieldSet {
  const old = fieldValues(before, shape, withStatus);
  const changed: FieldSet = new Map();
  for (const [key, { path, value }] of fieldValues(after, shape, withStatus)) {
    const previous = old.get(key);
    if (previous === undefined || !isDeepStrictEqual(previous.value, value)) changed.set(key, path);
  }
  return changed;
}

/** Whether `path` or anything under it is in `set`. */
function coversOrContains(set: FieldSet, path: FieldPath): boolean {
  const prefix = pathKey(path).slice(0, -1);
  for (const key of set.keys()) if (key.startsWith(prefix)) return true;
  return false;
}

// ---- reading and changing objects by path ----

function child(container: unknown, element: PathElement): unknown {
  if ('field' in element) return isObj(container) ? container[element.field] : undefined;
  if (!Array.isArray(container)) return undefined;
  return container.find((item) => isObj(item) && Object.entries(element.key).every(([k, v]) => isDeepStrictEqual(item[k], v)));
}

function hasPath(object: Obj, path: FieldPath): boolean {
  let current: unknown = object;
  for (const element of path) {
    current = child(current, element);
    if (current === undefined) return false;
  }
  return true;
}

/**
 * Removes the field or list item at `path`, and the lists and maps that it leaves empty below the top level: a
 * built-in object's empty list or map is not serialised at all, so it does not stay behind as `env: []`.
 */
function removePath(object: Obj, path: FieldPath): void {
  const parents: unknown[] = [object];
  for (const element of path.slice(0, -1)) parents.push(child(parents.at(-1), element));
  for (let depth = path.length - 1; depth >= 0; depth--) {
    const parent = parents[depth];
    const element = path[depth]!;
    if ('field' in element && isObj(parent)) delete parent[element.field];
    if ('key' in element && Array.isArray(parent)) {
      const index = parent.indexOf(child(parent, element));
      if (index !== -1) parent.splice(index, 1);
    }
    const emptied = Array.isArray(parent) ? parent.length === 0 : isObj(parent) && Object.keys(parent).length === 0;
    if (depth <= 1 || !emptied) return;
  }
}

/** The configuration merged into the live object: maps field by field, keyed lists item by item, the rest replaced. */
function merge(live: unknown, config: unknown, names: readonly string[], shape: Shape): unknown {
  if (isObj(live) && isObj(config) && !shape.atomicMap(names)) {
    const result: Obj = { ...live };
    for (const [field, value] of Object.entries(config)) result[field] = merge(live[field], value, [...names, field], shape);
    return result;
  }
  if (Array.isArray(live) && Array.isArray(config)) {
    const liveKeys = itemKeys(live, names, shape);
    const configKeys = itemKeys(config, names, shape);
    if (liveKeys !== undefined && configKeys !== undefined) {
      const merged = config.map((item, i) => {
        const j = liveKeys.findIndex((key) => isDeepStrictEqual(key, configKeys[i]));
        return j === -1 ? structuredClone(item) : merge(live[j], item, names, shape);
      });
      const kept = live.filter((_, j) => !configKeys.some((key) => isDeepStrictEqual(key, liveKeys[j])));
      return [...merged, ...kept];
    }
  }
  return structuredClone(config);
}

// ---- managedFields ----

/** How the API server tells managers apart (and sorts them in a conflict message): appliers regardless of version. */
function managerId(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify({
    manager: m.manager,
    operation: m.operation,
    ...(m.operation === 'Update' ? { apiVersion: m.apiVersion } : {}),
    ...(m.subresource !== undefined ? { subresource: m.subresource } : {}),
  });
}

/** A manager as the API server names it in a conflict: `"kubectl"`, or `"kubectl-patch" using apps/v1` for an update. */
function describeManager(m: Manager): string {
  const name = `${JSON.stringify(m.manager)}${m.subresource !== undefined ? ` with subresource ${JSON.stringify(m.subresource)}` : ''}`;
  return m.operation === 'Update' ? `${name} using ${m.apiVersion}` : name;
}

function toFieldsV1(fields: FieldSet): Obj {
  const root: Obj = {};
  for (const path of fields.values()) {
    let node = root;
    for (const element of path) {
      const name = 'field' in element ? `f:${element.field}` : `k:${JSON.stringify(element.key)}`;
      node = node[name] ??= {};
    }
    if ('key' in path.at(-1)!) node['.'] = {};
  }
  const sorted = (node: Obj): Obj =>
    Object.fromEntries(
      Object.keys(node)
        .sort((a, b) => (a === '.' ? -1 : b === '.' ? 1 : a < b ? -1 : a > b ? 1 : 0))
        .map((name) => [name, sorted(node[name])]),
    );
  return sorted(root);
}

function fromFieldsV1(node: Obj, path: FieldPath, fields: FieldSet): void {
  const names = Object.keys(node).filter((name) => name !== '.');
  // A leaf, or a list item marked as owned itself (`.`); a map with fields is only the way to them.
  if (path.length > 0 && (names.length === 0 || '.' in node)) fields.set(pathKey(path), path);
  for (const name of names) {
    const colon = name.indexOf(':');
    const [kind, rest] = [name.slice(0, colon), name.slice(colon + 1)];
    const element: PathElement = kind === 'k' ? { key: JSON.parse(rest) as Record<string, unknown> } : { field: rest };
    fromFieldsV1(node[name] as Obj, [...path, element], fields);
  }
}

function readManagers(object: Obj | undefined): Manager[] {
  return ((object?.['metadata']?.['managedFields'] ?? []) as Obj[]).map((entry) => {
    const fields: FieldSet = new Map();
    fromFieldsV1(entry['fieldsV1'] ?? {}, [], fields);
    return {
      manager: entry['manager'],
      operation: entry['operation'],
      apiVersion: entry['apiVersion'],
      time: entry['time'],
      fields,
      ...(entry['subresource'] !== undefined ? { subresource: entry['subresource'] } : {}),
    };
  });
}

function writeManagers(object: Obj, managers: readonly Manager[]): void {
  const live = managers.filter((m) => {
    for (const [key, path] of m.fields) if (!hasPath(object, path)) m.fields.delete(key);
    return m.fields.size > 0;
  });
  object['metadata'] ??= {};
  object['metadata']['managedFields'] = live.map((m) => ({
    manager: m.manager,
    operation: m.operation,
    apiVersion: m.apiVersion,
    time: m.time,
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(m.fields),
    ...(m.subresource !== undefined ? { subresource: m.subresource } : {}),
  }));
  if (live.length === 0) delete object['metadata']['managedFields'];
}

/** Now, to the second, as managedFields carry it. */
const managedTime = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

// ---- the two operations ----

export interface ApplyRequest {
  /** The stored object, undefined on create. */
  live: Obj | undefined;
  /** The applied configuration, without status or server-set metadata. */
  config: Obj;
  manager: string;
  force: boolean;
  shape: Shape;
}

export type ApplyResult = { conflicts: Conflict[] } | { conflicts: []; object: Obj };

/**
 * Server-side apply: the configuration merged into the live object with the applier's ownership recorded; or the
 * conflicts, when it would change fields other managers own and is not forced.
 */
export function applyConfiguration(request: ApplyRequest): ApplyResult {
  const { live, config, manager, force, shape } = request;
  const managers = readManagers(live);
  const id = managerId({ manager, operation: 'Apply', apiVersion: config['apiVersion'] });
  const previous = managers.find((m) => managerId(m) === id);
  const others = managers.filter((m) => m !== previous);
  const applied = configFields(config, shape);
  const merged = merge(structuredClone(live ?? {}), config, [], shape) as Obj;

  const changed = changedFields(live ?? {}, merged, shape, false);
  const conflicts: Conflict[] = [];
  for (const other of others) for (const [key, path] of other.fields) if (changed.has(key)) conflicts.push({ manager: other, path });
  if (conflicts.length > 0 && !force) return { conflicts };
  for (const { manager: other, path } of conflicts) other.fields.delete(pathKey(path));

  // What the applier set before and leaves out now goes, unless someone else still owns it (or a field under it).
  for (const [key, path] of previous?.fields ?? []) {
    if (applied.has(key) || [applied, ...others.map((other) => other.fields)].some((fields) => coversOrContains(fields, path))) continue;
    removePath(merged, path);
  }
  const applier: Manager = { manager, operation: 'Apply', apiVersion: config['apiVersion'], time: managedTime(), fields: applied };
  writeManagers(merged, previous === undefined ? [...managers, applier] : managers.map((m) => (m === previous ? applier : m)));
  return { conflicts: [], object: merged };
}

export interface UpdateRequest {
  before: Obj | undefined;
  /** The object as the update leaves it; its managedFields are replaced. */
  after: Obj;
  manager: string;
  apiVersion: string;
  subresource?: string;
  shape: Shape;
}

/** An update (a merge patch, a create, a controller's write) takes every field it changes from whoever owned it. */
export function recordUpdate(request: UpdateRequest): Obj {
  const { before, after, manager, apiVersion, subresource, shape } = request;
  const managers = readManagers(before);
  const changed = changedFields(before ?? {}, after, shape, true);
  const id = managerId({ manager, operation: 'Update', apiVersion, ...(subresource !== undefined ? { subresource } : {}) });
  let updater = managers.find((m) => managerId(m) === id);
  for (const other of managers) if (other !== updater) for (const key of changed.keys()) other.fields.delete(key);
  if (updater === undefined && changed.size > 0) {
    updater = { manager, operation: 'Update', apiVersion, time: managedTime(), fields: new Map(), ...(subresource !== undefined ? { subresource } : {}) };
    managers.push(updater);
  }
  if (updater !== undefined && changed.size > 0) {
    for (const [key, path] of changed) updater.fields.set(key, path);
    updater.time = managedTime();
  }
  writeManagers(after, managers);
  return after;
}

/** A conflict as the API server reports it: status 409, reason Conflict, one cause per field. */
export function conflictStatus(conflicts: readonly Conflict[]): Obj {
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${describeManager(c.manager)}`, field: formatPath(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${describeManager(conflicts[0]!.manager)}: ${formatPath(conflicts[0]!.path)}`;
  } else {
    const byManager = new Map<string, Conflict[]>();
    for (const c of conflicts) byManager.set(managerId(c.manager), [...(byManager.get(managerId(c.manager)) ?? []), c]);
    const lines = [...byManager.keys()].sort().flatMap((id) => {
      const group = byManager.get(id)!;
      return [`conflicts with ${describeManager(group[0]!.manager)}:`, ...group.map((c) => `- ${formatPath(c.path)}`)];
    });
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Conflict', details: { causes }, code: 409 };
}
