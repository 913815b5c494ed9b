// Orders a release's objects into install phases, each with what to wait for before the next, so an isolated cluster
// is installed in one pass instead of upstream's "apply until it stops failing" loop.
//
// The rules, from how the API server rejects objects:
// - a custom resource is rejected until its CRD is Established;
// - a namespaced object is rejected until its namespace exists;
// - an object a webhook (failurePolicy Fail) intercepts is rejected until the Deployment behind the webhook's Service
//   is Available with ready endpoints; so the webhook configuration itself is applied only once its backend is ready;
// - a Deployment that mounts a Secret issued by a cert-manager Certificate cannot become Available before that
//   Certificate is applied, so it is waited on no earlier than the Certificate's phase;
// - an object served by an aggregated API (APIService) is rejected until the APIService's backend is Available;
// - a workload whose pods a mutating webhook changes (Istio's sidecar injector) is applied after that webhook is
//   registered, or its first pods start without the mutation (no sidecar).

import { phaseName, type PlanWait } from './bundle-layout.js';
import { describeObject, isRecord, type KubernetesObject } from './k8s-object.js';

export type { PlanWait } from './bundle-layout.js';

export interface PlanPhase {
  /** e.g. `00-crds`, `03-cert-manager`; also the file name of its manifests (`manifests/<name>.yaml`). */
  name: string;
  /** Indexes into the objects given, in apply order. */
  objects: number[];
  /** What must be ready before the next phase starts. */
  waits: PlanWait[];
  /** Why the phase exists, for `install.sh --dry-run` and bundle.json. */
  why: string;
}

export interface InstallPlan {
  phases: PlanPhase[];
  warnings: string[];
}

interface ResourceInfo {
  group: string;
  plural: string;
  namespaced: boolean;
}

// Built-in kinds a Kubeflow release uses; anything else needs a CRD (in the bundle, or already on the cluster).
const BUILTIN: Record<string, ResourceInfo> = {
  Namespace: { group: '', plural: 'namespaces', namespaced: false },
  ServiceAccount: { group: '', plural: 'serviceaccounts', namespaced: true },
  ConfigMap: { group: '', plural: 'configmaps', namespaced: true },
  Secret: { group: '', plural: 'secrets', namespaced: true },
  Service: { group: '', plural: 'services', namespaced: true },
  Pod: { group: '', plural: 'pods', namespaced: true },
  PersistentVolumeClaim: { group: '', plural: 'persistentvolumeclaims', namespaced: true },
  PersistentVolume: { group: '', plural: 'persistentvolumes', namespaced: false },
  LimitRange: { group: '', plural: 'limitranges', namespaced: true },
  ResourceQuota: { group: '', plural: 'resourcequotas', namespaced: true },
  Endpoints: { group: '', plural: 'endpoints', namespaced: true },
  Deployment: { group: 'apps', plural: 'deployments', namespaced: true },
  StatefulSet: { group: 'apps', plural: 'statefulsets', namespaced: true },
  DaemonSet: { group: 'apps', plural: 'daemonsets', namespaced: true },
  ReplicaSet: { group: 'apps', plural: 'replicasets', namespaced: true },
  Job: { group: 'batch', plural: 'jobs', namespaced: true },
  CronJob: { group: 'batch', plural: 'cronjobs', namespaced: true },
  Role: { group: 'rbac.authorization.k8s.io', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', plural: 'rolebindings', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: 'rbac.authorization.k8s.io', plural: 'clusterrolebindings', namespaced: false },
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions', namespaced: false },
  MutatingWebhookConfiguration: { group: 'admissionregistration.k8s.io', plural: 'mutatingwebhookconfigurations', namespaced: false },
  ValidatingWebhookConfiguration: { group: 'admissionregistration.k8s.io', plural: 'validatingwebhookconfigurations', namespaced: false },
  ValidatingAdmissionPolicy: { group: 'admissionregistration.k8s.io', plural: 'validatingadmissionpolicies', namespaced: false },
  ValidatingAdmissionPolicyBinding: { group: 'admissionregistration.k8s.io', plural: 'validatingadmissionpolicybindings', namespaced: false },
  APIService: { group: 'apiregistration.k8s.io', plural: 'apiservices', namespaced: false },
  NetworkPolicy: { group: 'networking.k8s.io', plural: 'networkpolicies', namespaced: true },
  Ingress: { group: 'networking.k8s.io', plural: 'ingresses', namespaced: true },
  IngressClass: { group: 'networking.k8s.io', plural: 'ingressclasses', namespaced: false },
  PodDisruptionBudget: { group: 'policy', plural: 'poddisruptionbudgets', namespaced: true },
  HorizontalPodAutoscaler: { group: 'autoscaling', plural: 'horizontalpodautoscalers', namespaced: true },
  PriorityClass: { group: 'scheduling.k8s.io', plural: 'priorityclasses', namespaced: false },
  StorageClass: { group: 'storage.k8s.io', plural: 'storageclasses', namespaced: false },
  CSIDriver: { group: 'storage.k8s.io', plural: 'csidrivers', namespaced: false },
  Lease: { group: 'coordination.k8s.io', plural: 'leases', namespaced: true },
};

const CRDS = 0;
const NAMESPACES = 1;
const FIRST_RESOURCE_LEVEL = 2;

function groupOf(apiVersion: string | undefined): string {
  if (apiVersion === undefined || !apiVersion.includes('/')) return '';
  return apiVersion.slice(0, apiVersion.indexOf('/'));
}

function labelsOf(value: unknown): Record<string, string> {
  const labels = isRecord(value) && isRecord(value['metadata']) ? value['metadata']['labels'] : undefined;
  return isRecord(labels) ? (labels as Record<string, string>) : {};
}

/** Kubernetes label selector semantics: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist). */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isRecord(selector)) return true;
  const matchLabels = isRecord(selector['matchLabels']) ? selector['matchLabels'] : {};
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  const expressions = Array.isArray(selector['matchExpressions']) ? selector['matchExpressions'] : [];
  for (const expression of expressions) {
    if (!isRecord(expression)) continue;
    const key = String(expression['key']);
    const values = Array.isArray(expression['values']) ? expression['values'].map(String) : [];
    const has = Object.hasOwn(labels, key);
    switch (expression['operator']) {
      case 'In':
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

interface Webhook {
  configuration: number;
  failurePolicy: string;
  rules: { groups: string[]; resources: string[]; operations: string[] }[];
  namespaceSelector: unknown;
  objectSelector: unknown;
  service: { namespace: string; name: string } | undefined;
}

function webhooksOf(objects: readonly KubernetesObject[]): Webhook[] {
  const webhooks: Webhook[] = [];
  objects.forEach((object, index) => {
    if (object.kind !== 'MutatingWebhookConfiguration' && object.kind !== 'ValidatingWebhookConfiguration') return;
    const list = Array.isArray(object['webhooks']) ? object['webhooks'] : [];
    for (const webhook of list) {
      if (!isRecord(webhook)) continue;
      const clientConfig = isRecord(webhook['clientConfig']) ? webhook['clientConfig'] : {};
      const service = isRecord(clientConfig['service']) ? clientConfig['service'] : undefined;
      const rules = (Array.isArray(webhook['rules']) ? webhook['rules'] : []).filter(isRecord).map((rule) => ({
        groups: (Array.isArray(rule['apiGroups']) ? rule['apiGroups'] : []).map(String),
        resources: (Array.isArray(rule['resources']) ? rule['resources'] : []).map(String),
        operations: (Array.isArray(rule['operations']) ? rule['operations'] : []).map(String),
      }));
      webhooks.push({
        configuration: index,
        failurePolicy: typeof webhook['failurePolicy'] === 'string' ? webhook['failurePolicy'] : 'Fail',
        rules,
        namespaceSelector: webhook['namespaceSelector'],
        objectSelector: webhook['objectSelector'],
        service: service === undefined ? undefined : { namespace: String(service['namespace']), name: String(service['name']) },
      });
    }
  });
  return webhooks;
}

function ruleMatches(rule: Webhook['rules'][number], group: string, plural: string): boolean {
  const groupOk = rule.groups.includes('*') || rule.groups.includes(group);
  // Subresources (`pods/status`) are never created by an apply, so only the resource itself and wildcards count.
  const resourceOk = rule.resources.some((resource) => resource === '*' || resource === '*/*' || resource === plural);
  const createOk = rule.operations.includes('*') || rule.operations.includes('CREATE');
  return groupOk && resourceOk && createOk;
}

/**
 * Plans phases for the objects. Pure: the same objects always give the same plan.
 */
export function planInstall(objects: readonly KubernetesObject[]): InstallPlan {
  const warnings: string[] = [];
  const resources = new Map<string, ResourceInfo>(Object.entries(BUILTIN));
  const crdByKind = new Map<string, string>();
  const namespaceLabels = new Map<string, Record<string, string>>();
  objects.forEach((object) => {
    if (object.kind === 'CustomResourceDefinition' && isRecord(object['spec'])) {
      const spec = object['spec'];
      const names = isRecord(spec['names']) ? spec['names'] : {};
      const key = `${String(spec['group'])}/${String(names['kind'])}`;
      resources.set(key, { group: String(spec['group']), plural: String(names['plural']), namespaced: spec['scope'] === 'Namespaced' });
      crdByKind.set(key, object.metadata?.name ?? '');
    }
    if (object.kind === 'Namespace' && object.metadata?.name !== undefined) namespaceLabels.set(object.metadata.name, labelsOf(object));
  });
  const infoOf = (object: KubernetesObject): ResourceInfo | undefined => {
    const group = groupOf(object.apiVersion);
    const builtin = BUILTIN[object.kind ?? ''];
    if (builtin !== undefined && builtin.group === group) return builtin;
    return resources.get(`${group}/${object.kind}`);
  };

  const webhooks = webhooksOf(objects).filter((webhook) => webhook.failurePolicy === 'Fail' && webhook.service !== undefined);
  const services = new Map<string, number>();
  const deployments: number[] = [];
  objects.forEach((object, index) => {
    const id = `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    if (object.kind === 'Service') services.set(id, index);
    if (object.kind === 'Deployment') deployments.push(index);
  });

  /** The Deployment(s) whose pods a Service selects. */
  const backendsOf = (namespace: string, serviceName: string): number[] => {
    const serviceIndex = services.get(`${namespace}/${serviceName}`);
    if (serviceIndex === undefined) return [];
    const spec = objects[serviceIndex]!['spec'];
    const selector = isRecord(spec) && isRecord(spec['selector']) ? (spec['selector'] as Record<string, string>) : undefined;
    if (selector === undefined) return [];
    return deployments.filter((index) => {
      const deployment = objects[index]!;
      if (deployment.metadata?.namespace !== namespace) return false;
      const template = isRecord(deployment['spec']) ? deployment['spec']['template'] : undefined;
      return selectorMatches({ matchLabels: selector }, labelsOf(template));
    });
  };

  /** Secret name -> Certificate index, per namespace (cert-manager writes the Secret named by spec.secretName). */
  const certificateBySecret = new Map<string, number>();
  objects.forEach((object, index) => {
    if (object.kind === 'Certificate' && groupOf(object.apiVersion) === 'cert-manager.io' && isRecord(object['spec'])) {
      certificateBySecret.set(`${object.metadata?.namespace ?? ''}/${String(object['spec']['secretName'])}`, index);
    }
  });
  const certificatesMountedBy = (index: number): number[] => {
    const object = objects[index]!;
    const spec = isRecord(object['spec']) && isRecord(object['spec']['template']) ? object['spec']['template']['spec'] : undefined;
    const volumes = isRecord(spec) && Array.isArray(spec['volumes']) ? spec['volumes'] : [];
    const found: number[] = [];
    for (const volume of volumes) {
      const secret = isRecord(volume) && isRecord(volume['secret']) ? volume['secret']['secretName'] : undefined;
      const certificate = typeof secret === 'string' ? certificateBySecret.get(`${object.metadata?.namespace ?? ''}/${secret}`) : undefined;
      if (certificate !== undefined) found.push(certificate);
    }
    return found;
  };

  /** Pod webhook configurations that mutate the pods of a workload: the workload must come after them. */
  const podMutatorsOf = (index: number): number[] => {
    const object = objects[index]!;
    const spec = isRecord(object['spec']) ? object['spec'] : undefined;
    const jobTemplate = spec !== undefined && isRecord(spec['jobTemplate']) && isRecord(spec['jobTemplate']['spec']) ? spec['jobTemplate']['spec'] : undefined;
    const template = spec === undefined ? undefined : (jobTemplate ?? spec)['template'];
    if (!isRecord(template) || object.metadata?.namespace === undefined) return [];
    const namespace = object.metadata.namespace;
    const nsLabels = { 'kubernetes.io/metadata.name': namespace, ...(namespaceLabels.get(namespace) ?? {}) };
    const found: number[] = [];
    for (const webhook of webhooks) {
      if (objects[webhook.configuration]!.kind !== 'MutatingWebhookConfiguration') continue;
      if (!webhook.rules.some((rule) => ruleMatches(rule, '', 'pods'))) continue;
      if (!selectorMatches(webhook.namespaceSelector, nsLabels) || !selectorMatches(webhook.objectSelector, labelsOf(template))) continue;
      if (backendsOf(webhook.service!.namespace, webhook.service!.name).includes(index)) continue;
      found.push(webhook.configuration);
    }
    return found;
  };

  /** Aggregated APIs: `group/version` -> the Service behind the APIService. */
  const aggregated = new Map<string, { namespace: string; name: string }>();
  for (const object of objects) {
    const spec = object.kind === 'APIService' && isRecord(object['spec']) ? object['spec'] : undefined;
    if (spec === undefined || !isRecord(spec['service'])) continue;
    aggregated.set(`${String(spec['group'])}/${String(spec['version'])}`, { namespace: String(spec['service']['namespace']), name: String(spec['service']['name']) });
  }

  /** The webhook and aggregated-API backends (Deployments) that must be Available before `object` can be created. */
  const gatekeepersOf = (index: number): { backends: number[]; services: { namespace: string; name: string }[] } => {
    const object = objects[index]!;
    const result = { backends: [] as number[], services: [] as { namespace: string; name: string }[] };
    const api = aggregated.get(object.apiVersion ?? '');
    if (api !== undefined) {
      result.backends.push(...backendsOf(api.namespace, api.name));
      result.services.push(api);
    }
    const info = infoOf(object);
    if (info === undefined) return result;
    const nsLabels = info.namespaced ? (namespaceLabels.get(object.metadata?.namespace ?? '') ?? { 'kubernetes.io/metadata.name': object.metadata?.namespace ?? '' }) : {};
    for (const webhook of webhooks) {
      if (webhook.configuration === index) continue;
      if (!webhook.rules.some((rule) => ruleMatches(rule, info.group, info.plural))) continue;
      if (info.namespaced && !selectorMatches(webhook.namespaceSelector, { 'kubernetes.io/metadata.name': object.metadata?.namespace ?? '', ...nsLabels })) continue;
      if (!selectorMatches(webhook.objectSelector, labelsOf(object))) continue;
      const backends = backendsOf(webhook.service!.namespace, webhook.service!.name);
      if (backends.includes(index)) continue;
      result.backends.push(...backends);
      result.services.push(webhook.service!);
    }
    return result;
  };

  // Levels: 0 CRDs, 1 namespaces, then each object one level past what it needs ready.
  const levels = new Map<number, number>();
  const visiting = new Set<number>();
  const waitsAt = new Map<number, PlanWait[]>();
  const addWait = (level: number, wait: PlanWait) => {
    const list = waitsAt.get(level) ?? [];
    if (!list.some((existing) => JSON.stringify(existing) === JSON.stringify(wait))) list.push(wait);
    waitsAt.set(level, list);
  };
  const unknownKinds: number[] = [];

  const levelOf = (index: number): number => {
    const known = levels.get(index);
    if (known !== undefined) return known;
    const object = objects[index]!;
    if (object.kind === 'CustomResourceDefinition') return CRDS;
    if (object.kind === 'Namespace') return NAMESPACES;
    if (visiting.has(index)) {
      warnings.push(`dependency cycle through ${describeObject(object)}; applied without waiting for it`);
      return FIRST_RESOURCE_LEVEL;
    }
    visiting.add(index);
    let level = FIRST_RESOURCE_LEVEL;
    const gate = gatekeepersOf(index);
    for (const backend of gate.backends) level = Math.max(level, levelOf(backend) + 1);
    if (object.kind === 'MutatingWebhookConfiguration' || object.kind === 'ValidatingWebhookConfiguration') {
      for (const webhook of webhooks.filter((w) => w.configuration === index)) {
        for (const backend of backendsOf(webhook.service!.namespace, webhook.service!.name)) level = Math.max(level, levelOf(backend) + 1);
      }
    }
    if (object.kind === 'Deployment') for (const certificate of certificatesMountedBy(index)) level = Math.max(level, levelOf(certificate));
    for (const mutator of podMutatorsOf(index)) level = Math.max(level, levelOf(mutator));
    visiting.delete(index);
    levels.set(index, level);
    return level;
  };

  objects.forEach((object, index) => {
    const info = infoOf(object);
    if (info === undefined && !aggregated.has(object.apiVersion ?? '')) {
      unknownKinds.push(index);
      warnings.push(`${describeObject(object)}: kind ${object.apiVersion}/${object.kind} has no CRD in the bundle; applied last`);
      return;
    }
    levelOf(index);
  });

  // Namespaces whose pods need Istio's sidecar get the label explicitly, even when they existed before with another
  // value: a namespace created by hand without it is the classic cause of a Kubeflow without sidecars.
  const injected = new Set<string>();
  for (const [name, nsLabels] of namespaceLabels) if (nsLabels['istio-injection'] === 'enabled') injected.add(name);
  objects.forEach((object) => {
    const namespace = object.metadata?.namespace;
    if (namespace === undefined || namespaceLabels.has(namespace)) return;
    const spec = isRecord(object['spec']) ? object['spec'] : undefined;
    const template = spec !== undefined && isRecord(spec['template']) ? spec['template'] : undefined;
    const meta = isRecord(template?.['metadata']) ? template['metadata'] : {};
    const wantsSidecar = [meta['labels'], meta['annotations']].some((m) => isRecord(m) && m['sidecar.istio.io/inject'] === 'true');
    if (wantsSidecar) injected.add(namespace);
  });
  for (const namespace of [...injected].sort()) addWait(NAMESPACES, { type: 'label', namespace, label: 'istio-injection=enabled' });

  // Waits: CRDs Established; every webhook backend Available with endpoints, in the backend's own phase.
  objects.forEach((object, index) => {
    if (object.kind === 'CustomResourceDefinition') addWait(CRDS, { type: 'established', crd: object.metadata?.name ?? '' });
  });
  const gatedServices = [...webhooks.map((webhook) => webhook.service!), ...aggregated.values()];
  for (const service of gatedServices) {
    for (const backend of backendsOf(service.namespace, service.name)) {
      const deployment = objects[backend]!;
      const level = levels.get(backend);
      if (level === undefined) continue;
      addWait(level, { type: 'available', namespace: deployment.metadata?.namespace ?? '', deployment: deployment.metadata?.name ?? '' });
      addWait(level, { type: 'endpoints', namespace: service.namespace, service: service.name });
    }
  }

  const byLevel = new Map<number, number[]>();
  objects.forEach((object, index) => {
    if (unknownKinds.includes(index)) return;
    const level = object.kind === 'CustomResourceDefinition' ? CRDS : object.kind === 'Namespace' ? NAMESPACES : levels.get(index)!;
    byLevel.set(level, [...(byLevel.get(level) ?? []), index]);
  });
  const phases: PlanPhase[] = [];
  const sortedLevels = [...byLevel.keys()].sort((a, b) => a - b);
  for (const level of sortedLevels) {
    const waits = waitsAt.get(level) ?? [];
    phases.push({ name: phaseName(phases.length, phaseLabel(level, waits)), objects: byLevel.get(level)!, waits, why: phaseWhy(level, waits) });
  }
  if (unknownKinds.length > 0) {
    phases.push({ name: phaseName(phases.length, 'unknown-kinds'), objects: unknownKinds, waits: [], why: 'kinds whose CRD is not in the bundle' });
  }
  return { phases, warnings };
}

function phaseLabel(level: number, waits: readonly PlanWait[]): string {
  if (level === CRDS) return 'crds';
  if (level === NAMESPACES) return 'namespaces';
  const first = waits.find((wait) => wait.type === 'available');
  if (first !== undefined && first.type === 'available') return first.namespace === 'kubeflow' ? first.deployment : first.namespace;
  return 'resources';
}

function phaseWhy(level: number, waits: readonly PlanWait[]): string {
  if (level === CRDS) return 'custom resource definitions, waited on until Established';
  if (level === NAMESPACES) return 'namespaces, before anything namespaced';
  const backends = waits.filter((wait) => wait.type === 'available').map((wait) => (wait.type === 'available' ? `${wait.namespace}/${wait.deployment}` : ''));
  return backends.length === 0 ? 'everything nothing later depends on' : `webhook backends ${backends.join(', ')}, which later phases need`;
}

