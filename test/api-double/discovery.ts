// Discovery as kubectl reads it: /api, /apis, each group version's APIResourceList (with shortNames and
// subresources), and the OpenAPI v3 documents kubectl's server-side apply asks for.

import type { ApiResource } from './resources.js';

type Obj = Record<string, any>;

export function groupVersionOf(resource: ApiResource): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

export function byGroupVersion(resources: readonly ApiResource[]): Map<string, ApiResource[]> {
  const byGv = new Map<string, ApiResource[]>();
  for (const r of resources) {
    const gv = groupVersionOf(r);
    const list = byGv.get(gv);
    if (list) list.push(r);
    else byGv.set(gv, [r]);
  }
  return byGv;
}

export function apiGroupList(resources: readonly ApiResource[]): Obj {
  const groups = new Map<string, string[]>();
  for (const gv of byGroupVersion(resources).keys()) {
    if (!gv.includes('/')) continue;
    const [group, version] = gv.split('/') as [string, string];
    groups.set(group, [...(groups.get(group) ?? []), version]);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

export function resourceList(gv: string, resources: readonly ApiResource[]): Obj {
  const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: resources.flatMap((r) => [
      { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs, shortNames: r.shortNames ?? [] },
      { name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] },
      ...Object.entries(r.subresources ?? {}).map(([sub, subVerbs]) => ({
        name: `${r.plural}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: sub === 'scale' ? 'Scale' : sub === 'log' ? 'Pod' : r.kind,
        ...(sub === 'scale' ? { group: 'autoscaling', version: 'v1' } : {}),
        verbs: subVerbs,
      })),
    ]),
  };
}

export function openApiDoc(gv: string, resources: readonly ApiResource[], version: string): Obj {
  const paths: Obj = {};
  for (const r of resources) {
    const prefix = r.group === '' ? '/api/v1' : `/apis/${gv}`;
    const path = `${prefix}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
    paths[path] = {
      patch: {
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [
          { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version }, paths, components: { schemas: {} } };
}

/** The OpenAPI v3 index: a path per group version, its hash changing with what the group version serves. */
export function openApiIndex(resources: readonly ApiResource[]): Obj {
  const paths: Obj = {};
  for (const [gv, list] of byGroupVersion(resources)) {
    const key = gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${list.length}${list.map((r) => r.kind).join('').length}` };
  }
  return { paths };
}
