// A structural text rewrite over every string value of every object, keys untouched. Relocation and the AWS
// partition patch both need "this text, wherever it stands", including inside JSON/YAML held in ConfigMap values.

import { isRecord, type KubernetesObject } from './k8s-object.js';

export interface RewrittenObjects {
  objects: KubernetesObject[];
  /** Indexes of the objects that changed; the others are the same references as given. */
  changed: number[];
}

export function rewriteStrings(objects: readonly KubernetesObject[], rewrite: (text: string) => string): RewrittenObjects {
  const changed: number[] = [];
  const result = objects.map((object, index) => {
    const rewritten = rewriteNode(object, rewrite);
    if (rewritten === object) return object;
    changed.push(index);
    return rewritten as KubernetesObject;
  });
  return { objects: result, changed };
}

/** Returns the node itself when nothing under it changed, so unchanged objects keep their original text. */
function rewriteNode(node: unknown, rewrite: (text: string) => string): unknown {
  if (typeof node === 'string') return rewrite(node);
  if (Array.isArray(node)) {
    let copy: unknown[] | undefined;
    node.forEach((item, index) => {
      const next = rewriteNode(item, rewrite);
      if (next !== item) (copy ??= [...node])[index] = next;
    });
    return copy ?? node;
  }
  if (isRecord(node)) {
    let copy: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(node)) {
      const next = rewriteNode(value, rewrite);
      if (next !== value) (copy ??= { ...node })[key] = next;
    }
    return copy ?? node;
  }
  return node;
}
