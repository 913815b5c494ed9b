// Selectors as the API server and the scheduler read them: LabelSelector objects (webhooks, workloads), the
// labelSelector and fieldSelector query parameters of a list or watch, node selectors and affinity, and tolerations.

type Obj = Record<string, any>;
type Labels = Record<string, string>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A metav1.LabelSelector (matchLabels and matchExpressions); an absent one matches everything. */
export function selectorMatches(selector: unknown, labels: Labels): boolean {
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

/** A Service's selector: a plain map (an empty one selects every pod, as labels.Set({}) does). */
export function mapSelects(selector: unknown, labels: Labels): boolean {
  if (!isObj(selector)) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// ---- query parameters ----

export class SelectorError extends Error {}

type Requirement = (labels: Labels) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[-A-Za-z0-9_.]*`;

/** The labelSelector parameter: `=`, `==`, `!=`, `in`, `notin`, `key` (exists) and `!key`, comma-joined. */
export function parseLabelSelector(text: string): (labels: Labels) => boolean {
  const requirements: Requirement[] = splitTopLevel(text).map((part) => {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(part))) {
      const key = m[1]!;
      return (labels) => !Object.hasOwn(labels, key);
    }
    if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(part))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      if (op === 'in') return (labels) => Object.hasOwn(labels, key) && values.includes(labels[key]!);
      return (labels) => !Object.hasOwn(labels, key) || !values.includes(labels[key]!);
    }
    if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(part))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      if (op === '!=') return (labels) => labels[key] !== value;
      return (labels) => labels[key] === value;
    }
    if ((m = new RegExp(`^(${KEY})$`).exec(part))) {
      const key = m[1]!;
      return (labels) => Object.hasOwn(labels, key);
    }
    throw new SelectorError(`unable to parse requirement: found '${part}', expected: identifier, '!', 'in', 'notin', '=', '==' or '!='`);
  });
  return (labels) => requirements.every((r) => r(labels));
}

/** The value of a dotted field path as a field selector compares it: text, and "" for what is absent. */
export function fieldValue(object: Obj, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) {
    if (!isObj(current)) return '';
    current = current[part];
  }
  if (current === undefined || current === null) return '';
  return typeof current === 'object' ? JSON.stringify(current) : String(current);
}

/** The fieldSelector parameter: `path=value`, `path==value`, `path!=value`, comma-joined. */
export function parseFieldSelector(text: string): { matches: (object: Obj) => boolean; equals: Map<string, string> } {
  const equals = new Map<string, string>();
  const requirements = splitTopLevel(text).map((part) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m === null) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    if (op !== '!=') equals.set(path, value);
    return (object: Obj) => (fieldValue(object, path) === value) === (op !== '!=');
  });
  return { matches: (object) => requirements.every((r) => r(object)), equals };
}

// ---- nodes ----

function nodeFieldValue(node: Obj, key: string): string | undefined {
  return key === 'metadata.name' ? node['metadata']['name'] : undefined;
}

function matchesExpression(value: string | undefined, e: Obj): boolean {
  const values: string[] = e['values'] ?? [];
  switch (e['operator']) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
      return value !== undefined && Number(value) > Number(values[0]);
    case 'Lt':
      return value !== undefined && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

/** A NodeSelectorTerm: every matchExpressions (labels) and matchFields (metadata.name) requirement holds. */
function termMatches(node: Obj, term: Obj): boolean {
  const labels: Labels = node['metadata']['labels'] ?? {};
  const expressions = (term['matchExpressions'] ?? []) as Obj[];
  const fields = (term['matchFields'] ?? []) as Obj[];
  // A term with no requirements matches no objects.
  if (expressions.length === 0 && fields.length === 0) return false;
  return expressions.every((e) => matchesExpression(labels[e['key']], e)) && fields.every((e) => matchesExpression(nodeFieldValue(node, e['key']), e));
}

/** Whether the pod's nodeSelector and required node affinity admit the node (the NodeAffinity filter). */
export function podMatchesNode(podSpec: Obj, node: Obj): boolean {
  const labels: Labels = node['metadata']['labels'] ?? {};
  for (const [k, v] of Object.entries((podSpec['nodeSelector'] ?? {}) as Labels)) if (labels[k] !== v) return false;
  const required = podSpec['affinity']?.['nodeAffinity']?.['requiredDuringSchedulingIgnoredDuringExecution'];
  if (isObj(required)) {
    const terms = (required['nodeSelectorTerms'] ?? []) as Obj[];
    if (!terms.some((term) => termMatches(node, term))) return false;
  }
  return true;
}

// ---- taints ----

export function tolerates(tolerations: readonly Obj[], taint: Obj): boolean {
  return tolerations.some((t) => {
    if (t['effect'] && t['effect'] !== taint['effect']) return false;
    if ((t['operator'] ?? 'Equal') === 'Exists') return !t['key'] || t['key'] === taint['key'];
    return t['key'] === taint['key'] && (t['value'] ?? '') === (taint['value'] ?? '');
  });
}

/** The first NoSchedule or NoExecute taint the tolerations do not tolerate, as the TaintToleration filter finds it. */
export function untoleratedTaint(node: Obj, tolerations: readonly Obj[]): Obj | undefined {
  for (const taint of (node['spec']?.['taints'] ?? []) as Obj[]) {
    if (taint['effect'] !== 'NoSchedule' && taint['effect'] !== 'NoExecute') continue;
    if (!tolerates(tolerations, taint)) return taint;
  }
  return undefined;
}
