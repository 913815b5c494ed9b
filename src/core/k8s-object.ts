// Kubernetes objects as plain data: multi-document YAML in, objects out, and back. Unknown fields are kept as they are.

import { parseAllDocuments, stringify } from 'yaml';
import { KfbundleError } from './errors.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  [key: string]: unknown;
}

export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: how messages and reports name an object. */
export function describeObject(object: KubernetesObject): string {
  const kind = object.kind ?? '<no kind>';
  const name = object.metadata?.name ?? '<no name>';
  const namespace = object.metadata?.namespace;
  return namespace === undefined ? `${kind}/${name}` : `${kind}/${namespace}/${name}`;
}

/**
 * Parses a multi-document YAML stream of Kubernetes objects. Empty documents are skipped and `kind: List` items are
 * flattened, as kubectl does.
 * @param source names the input in error messages (a file path or "kustomize build DIR").
 * @throws KfbundleError MANIFEST_INVALID naming the source and line.
 */
export function parseManifests(text: string, source: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  const documents = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: false });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    const firstError = document.errors[0];
    if (firstError !== undefined) {
      const line = firstError.linePos?.[0].line;
      throw new KfbundleError(
        'MANIFEST_INVALID',
        `malformed YAML in ${source}${line === undefined ? '' : ` at line ${line}`}: ${firstError.message.split('\n')[0]}`,
      );
    }
    const value: unknown = document.toJS({ maxAliasCount: -1 });
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) {
      const line = document.contents?.range ? lineOf(text, document.contents.range[0]) : undefined;
      throw new KfbundleError(
        'MANIFEST_INVALID',
        `document in ${source}${line === undefined ? '' : ` at line ${line}`} is not a Kubernetes object`,
      );
    }
    if (value['kind'] === 'List' && Array.isArray(value['items'])) {
      for (const item of value['items']) if (isRecord(item)) objects.push(item as KubernetesObject);
    } else {
      objects.push(value as KubernetesObject);
    }
  }
  return objects;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Serialises objects as one multi-document YAML stream, without line folding so long strings stay intact. */
export function serializeManifests(objects: readonly KubernetesObject[]): string {
  return objects.map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
