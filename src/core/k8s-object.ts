// Kubernetes objects as plain data: multi-document YAML in, objects out, and back. Each document keeps its source
// text, so a document the bundle does not edit is written back byte for byte.

import { KfbundleError } from './errors.js';
import { readYaml, writeYaml, YamlSyntaxError } from './kube-yaml.js';

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

export interface ManifestDocument {
  /** The document's text as read, without its `---` separator. */
  text: string;
  /** 1-based line of the document's first line in the stream. */
  line: number;
  /** Its objects: none for an empty document, the items of a `kind: List`, otherwise one. */
  objects: KubernetesObject[];
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

// A separator is `---` at column 0, optionally followed by a comment. Inside a mapping document no content line can
// start at column 0 with `---`, so splitting on these lines is exact for Kubernetes manifests.
const SEPARATOR = /^---[ \t]*(?:#.*)?$/;

/**
 * Parses a multi-document YAML stream of Kubernetes objects, every scalar meaning what it means to kubectl
 * (core/kube-yaml.ts).
 * @param source names the input in error messages (a file path or "kustomize build DIR").
 * @throws KfbundleError MANIFEST_INVALID naming the source and line.
 */
export function parseManifestDocuments(text: string, source: string): ManifestDocument[] {
  const documents: ManifestDocument[] = [];
  const lines = text.split('\n');
  let start = 0;
  const flush = (end: number) => {
    const body = lines.slice(start, end).join('\n');
    documents.push({ text: body, line: start + 1, objects: parseDocument(body, start + 1, source) });
  };
  for (let i = 0; i < lines.length; i++) {
    if (SEPARATOR.test(lines[i]!)) {
      if (i > start) flush(i);
      start = i + 1;
    }
  }
  if (start < lines.length) flush(lines.length);
  return documents.filter((document) => document.objects.length > 0);
}

function parseDocument(body: string, firstLine: number, source: string): KubernetesObject[] {
  let value: unknown;
  try {
    value = readYaml(body);
  } catch (error) {
    const line = error instanceof YamlSyntaxError && error.line !== undefined ? firstLine + error.line : firstLine;
    const reason = error instanceof YamlSyntaxError ? error.reason : (error as Error).message;
    throw new KfbundleError('MANIFEST_INVALID', `malformed YAML in ${source} at line ${line}: ${reason}`);
  }
  if (value === null || value === undefined) return [];
  if (!isRecord(value)) {
    const offset = body.split('\n').findIndex((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
    throw new KfbundleError('MANIFEST_INVALID', `document in ${source} at line ${firstLine + Math.max(offset, 0)} is not a Kubernetes object`);
  }
  if (value['kind'] === 'List' && Array.isArray(value['items'])) {
    return value['items'].filter(isRecord) as KubernetesObject[];
  }
  return [value as KubernetesObject];
}

/** All objects of a stream, in order. */
export function parseManifests(text: string, source: string): KubernetesObject[] {
  return parseManifestDocuments(text, source).flatMap((document) => document.objects);
}

/** Serialises one object so that kubectl reads back every value as it is here (core/kube-yaml.ts). */
export function serializeObject(object: KubernetesObject): string {
  return writeYaml(object);
}

/**
 * Writes documents back as a stream. `objects` holds every document's objects in order, as edited; a document whose
 * objects are all the very ones it was parsed into keeps its original text.
 */
export function serializeDocuments(documents: readonly ManifestDocument[], objects: readonly KubernetesObject[]): string {
  const parts: string[] = [];
  let index = 0;
  for (const document of documents) {
    const current = objects.slice(index, index + document.objects.length);
    index += document.objects.length;
    if (current.every((object, i) => object === document.objects[i])) {
      parts.push(document.text.endsWith('\n') ? document.text : `${document.text}\n`);
    } else {
      for (const object of current) parts.push(serializeObject(object));
    }
  }
  return parts.join('---\n');
}

/**
 * The text of each object, in order: the original document text where the object is unedited and alone in its
 * document, a fresh serialisation otherwise. Lets objects be regrouped (install phases) without rewriting them.
 */
export function objectTexts(documents: readonly ManifestDocument[], objects: readonly KubernetesObject[]): string[] {
  const texts: string[] = [];
  let index = 0;
  for (const document of documents) {
    for (const original of document.objects) {
      const current = objects[index++]!;
      const keepsText = current === original && document.objects.length === 1;
      texts.push(keepsText ? (document.text.endsWith('\n') ? document.text : `${document.text}\n`) : serializeObject(current));
    }
  }
  return texts;
}
