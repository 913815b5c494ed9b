// The three patch types the API server takes besides server-side apply: JSON merge patch (RFC 7386), strategic merge
// patch (what kubectl label, cordon, set image and patch send by default: lists with a merge key, such as containers
// by name, merged item by item), and JSON patch (RFC 6902).

import type { Shape } from './field-ownership.js';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class PatchError extends Error {}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const result: Obj = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** A strategic merge patch: maps merged, keyed lists merged by key (`$patch: delete` removes an item), others replaced. */
export function strategicMergePatch(target: unknown, patch: unknown, shape: Shape, names: readonly string[] = []): unknown {
  if (isObj(patch)) {
    if (patch['$patch'] === 'replace') {
      const { $patch: _p, ...rest } = patch;
      return structuredClone(rest);
    }
    const result: Obj = isObj(target) ? { ...target } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith('$')) continue;
      if (value === null) delete result[key];
      else result[key] = strategicMergePatch(result[key], value, shape, [...names, key]);
    }
    return result;
  }
  const keys = shape.listKeys(names);
  if (Array.isArray(patch) && Array.isArray(target) && keys !== undefined) {
    const sameKey = (a: Obj, b: Obj) => keys.every((k) => a[k] === b[k]);
    const result: unknown[] = [...target];
    for (const item of patch) {
      if (!isObj(item)) continue;
      const index = result.findIndex((existing) => isObj(existing) && sameKey(existing, item));
      if (item['$patch'] === 'delete') {
        if (index !== -1) result.splice(index, 1);
        continue;
      }
      if (index === -1) result.push(strategicMergePatch(undefined, item, shape, names));
      else result[index] = strategicMergePatch(result[index], item, shape, names);
    }
    return result;
  }
  return structuredClone(patch);
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** JSON patch: add, remove, replace, move, copy and test. */
export function jsonPatch(target: Obj, operations: unknown): Obj {
  if (!Array.isArray(operations)) throw new PatchError('json patch must be a list of operations');
  let document: unknown = structuredClone(target);
  const parentOf = (parts: string[]): [any, string] => {
    let current: any = document;
    for (const part of parts.slice(0, -1)) {
      current = Array.isArray(current) ? current[Number(part)] : current?.[part];
      if (current === undefined) throw new PatchError(`doc is missing path: /${parts.join('/')}`);
    }
    return [current, parts.at(-1)!];
  };
  const get = (parts: string[]): unknown => parts.reduce<any>((current, part) => (current === undefined ? undefined : Array.isArray(current) ? current[Number(part)] : current[part]), document);
  const remove = (parts: string[]): unknown => {
    const [parent, last] = parentOf(parts);
    if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
    if (!isObj(parent) || !(last in parent)) throw new PatchError(`unable to remove nonexistent key: ${last}`);
    const value = parent[last];
    delete parent[last];
    return value;
  };
  const add = (parts: string[], value: unknown) => {
    if (parts.length === 0) {
      document = value;
      return;
    }
    const [parent, last] = parentOf(parts);
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, value);
    else if (isObj(parent)) parent[last] = value;
    else throw new PatchError(`doc is missing path: /${parts.join('/')}`);
  };
  for (const op of operations as Obj[]) {
    const path = pointer(String(op['path'] ?? ''));
    switch (op['op']) {
      case 'add':
        add(path, structuredClone(op['value']));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        if (get(path) === undefined) throw new PatchError(`replace operation does not apply: doc is missing key: /${path.join('/')}`);
        remove(path);
        add(path, structuredClone(op['value']));
        break;
      case 'move':
        add(path, remove(pointer(String(op['from']))));
        break;
      case 'copy':
        add(path, structuredClone(get(pointer(String(op['from'])))));
        break;
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op['value'])) throw new PatchError(`testing value /${path.join('/')} failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${op['op']}`);
    }
  }
  return document as Obj;
}
