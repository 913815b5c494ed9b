// The install plan on the three real releases, checked against the rules a real API server enforces. Webhook
// matching, label selectors included, is re-derived here from the objects and the API's documented rules, not taken
// from the planner, so the test checks the plan rather than repeating it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { planInstall, type InstallPlan } from '../../src/core/install-plan.js';
import { describeObject, isRecord, parseManifests, type KubernetesObject } from '../../src/core/k8s-object.js';
import { readRendered, RELEASES, type Release } from '../helpers/fixtures.js';

const test = suite('install plan on real releases');
const data = new Map<Release, { objects: KubernetesObject[]; plan: InstallPlan; phaseOf: Map<number, number> }>();

test.before(async () => {
  for (const release of RELEASES) {
    const objects = parseManifests(await readRendered(release), release);
    const plan = planInstall(objects);
    const phaseOf = new Map<number, number>();
    plan.phases.forEach((phase, p) => phase.objects.forEach((index) => phaseOf.set(index, p)));
    data.set(release, { objects, plan, phaseOf });
  }
});

const find = (objects: KubernetesObject[], kind: string, namespace: string | undefined, name: string) =>
  objects.findIndex((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace));
const labels = (value: unknown): Record<string, string> => {
  const meta = isRecord(value) ? value['metadata'] : undefined;
  return isRecord(meta) && isRecord(meta['labels']) ? (meta['labels'] as Record<string, string>) : {};
};
/**
 * A LabelSelector as the Kubernetes API defines it: each matchLabels pair is the requirement `key In (value)`, every
 * requirement must hold, and an absent selector selects everything (as an absent webhook selector does).
 */
function labelSelectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isRecord(selector)) return true;
  const pairs = Object.entries((selector['matchLabels'] ?? {}) as Record<string, string>).map(([key, value]) => ({ key, operator: 'In', values: [value] }));
  const expressions = ((selector['matchExpressions'] ?? []) as { key: string; operator: string; values?: string[] }[]).map((e) => ({ ...e, values: e.values ?? [] }));
  return [...pairs, ...expressions].every(({ key, operator, values }) => {
    const value = Object.hasOwn(labels, key) ? labels[key] : undefined;
    switch (operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`selector operator ${operator} is not one the API accepts`);
    }
  });
}

/** A Service's selector is a plain map: it selects the pods that carry every one of its pairs; without one, none. */
const serviceSelects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

const podTemplate = (object: KubernetesObject): unknown => {
  const spec = object['spec'];
  if (!isRecord(spec)) return undefined;
  if (isRecord(spec['jobTemplate']) && isRecord(spec['jobTemplate']['spec'])) return spec['jobTemplate']['spec']['template'];
  return spec['template'];
};

for (const release of RELEASES) {
  test(`${release}: every object is applied exactly once, and nothing is left for an unknown-kinds phase`, () => {
    const { objects, plan, phaseOf } = data.get(release)!;
    assert.is(phaseOf.size, objects.length);
    assert.is(plan.phases.reduce((sum, phase) => sum + phase.objects.length, 0), objects.length);
    assert.equal(plan.warnings, []);
    assert.equal(plan.phases.slice(0, 2).map((p) => p.name), ['00-crds', '01-namespaces']);
  });

  test(`${release}: no custom resource before its CRD is Established, no namespaced object before its namespace`, () => {
    const { objects, plan, phaseOf } = data.get(release)!;
    const crdOf = new Map<string, number>();
    objects.forEach((o, i) => {
      if (o.kind !== 'CustomResourceDefinition') return;
      const spec = o['spec'] as { group: string; names: { kind: string } };
      crdOf.set(`${spec.group}/${spec.names.kind}`, i);
    });
    objects.forEach((object, index) => {
      const group = object.apiVersion?.includes('/') ? object.apiVersion.split('/')[0] : '';
      const crd = crdOf.get(`${group}/${object.kind}`);
      if (crd !== undefined) {
        assert.ok(phaseOf.get(crd)! < phaseOf.get(index)!, `${describeObject(object)} after its CRD`);
        const crdPhase = plan.phases[phaseOf.get(crd)!]!;
        assert.ok(crdPhase.waits.some((w) => w.type === 'established' && w.crd === objects[crd]!.metadata?.name));
      }
      const namespace = object.metadata?.namespace;
      const ns = namespace === undefined ? -1 : find(objects, 'Namespace', undefined, namespace);
      if (ns !== -1) assert.ok(phaseOf.get(ns)! < phaseOf.get(index)!, `${describeObject(object)} after its namespace`);
    });
  });

  test(`${release}: nothing a webhook intercepts is applied before that webhook's backend is Available with endpoints`, () => {
    const { objects, plan, phaseOf } = data.get(release)!;
    const plurals = new Map<string, string>();
    for (const o of objects) {
      if (o.kind !== 'CustomResourceDefinition') continue;
      const spec = o['spec'] as { group: string; names: { kind: string; plural: string } };
      plurals.set(`${spec.group}/${spec.names.kind}`, spec.names.plural);
    }
    let checked = 0;
    objects.forEach((configuration, configIndex) => {
      if (!/^(Mutating|Validating)WebhookConfiguration$/.test(configuration.kind ?? '')) return;
      for (const webhook of (configuration['webhooks'] as Record<string, any>[]) ?? []) {
        const service = webhook['clientConfig']?.service;
        if ((webhook['failurePolicy'] ?? 'Fail') !== 'Fail' || service === undefined) continue;
        const svc = objects[find(objects, 'Service', service.namespace, service.name)];
        assert.ok(svc, `service ${service.namespace}/${service.name} is in the release`);
        const backends = objects
          .map((o, i) => [o, i] as const)
          .filter(([o]) => o.kind === 'Deployment' && o.metadata?.namespace === service.namespace && serviceSelects((svc!['spec'] as any).selector, labels(podTemplate(o))));
        assert.ok(backends.length > 0, `${service.name} has a Deployment behind it`);
        for (const [backend, backendIndex] of backends) {
          const backendPhase = phaseOf.get(backendIndex)!;
          assert.ok(backendPhase < phaseOf.get(configIndex)!, `${describeObject(configuration)} after its backend`);
          const waits = plan.phases[backendPhase]!.waits;
          assert.ok(waits.some((w) => w.type === 'available' && w.deployment === backend.metadata?.name && w.namespace === backend.metadata?.namespace));
          assert.ok(waits.some((w) => w.type === 'endpoints' && w.service === service.name && w.namespace === service.namespace));
          objects.forEach((object, index) => {
            if (index === backendIndex) return;
            const group = object.apiVersion?.includes('/') ? object.apiVersion.split('/')[0]! : '';
            const plural = plurals.get(`${group}/${object.kind}`) ?? `${(object.kind ?? '').toLowerCase()}s`;
            const matched = (webhook['rules'] ?? []).some(
              (r: any) =>
                (r.apiGroups.includes('*') || r.apiGroups.includes(group)) &&
                (r.resources.includes('*') || r.resources.includes('*/*') || r.resources.includes(plural)) &&
                (r.operations.includes('*') || r.operations.includes('CREATE')),
            );
            if (!matched || !labelSelectorMatches(webhook['objectSelector'], labels(object))) return;
            const nsIndex = object.metadata?.namespace === undefined ? -1 : find(objects, 'Namespace', undefined, object.metadata.namespace);
            const nsLabels = { 'kubernetes.io/metadata.name': object.metadata?.namespace ?? '', ...(nsIndex === -1 ? {} : labels(objects[nsIndex])) };
            if (object.metadata?.namespace !== undefined && !labelSelectorMatches(webhook['namespaceSelector'], nsLabels)) return;
            checked++;
            assert.ok(backendPhase < phaseOf.get(index)!, `${describeObject(object)} after webhook backend ${describeObject(backend)}`);
          });
        }
      }
    });
    assert.ok(checked > 10, `intercepted objects checked: ${checked}`);
  });

  test(`${release}: a workload is never waited on before the Certificate whose Secret it mounts`, () => {
    const { objects, plan, phaseOf } = data.get(release)!;
    let checked = 0;
    plan.phases.forEach((phase, p) => {
      for (const wait of phase.waits) {
        if (wait.type !== 'available') continue;
        const deployment = objects[find(objects, 'Deployment', wait.namespace, wait.deployment)]!;
        const volumes = ((podTemplate(deployment) as any)?.spec?.volumes ?? []) as any[];
        for (const volume of volumes) {
          const secret = volume?.secret?.secretName;
          const certificate = objects.findIndex((o) => o.kind === 'Certificate' && o.metadata?.namespace === wait.namespace && (o['spec'] as any)?.secretName === secret);
          if (certificate === -1) continue;
          checked++;
          assert.ok(phaseOf.get(certificate)! <= p, `${wait.deployment} waited on in phase ${p}, its Certificate comes in ${phaseOf.get(certificate)}`);
        }
      }
    });
    assert.ok(checked >= 3, `certificate-mounting backends checked: ${checked}`);
  });

  test(`${release}: the namespaces phase ensures istio-injection=enabled where the manifests expect it`, () => {
    const { objects, plan } = data.get(release)!;
    const expected = objects
      .filter((o) => o.kind === 'Namespace' && labels(o)['istio-injection'] === 'enabled')
      .map((o) => o.metadata!.name!)
      .sort();
    assert.ok(expected.includes('kubeflow') && expected.includes('knative-serving'));
    const ensured = plan.phases[1]!.waits.filter((w) => w.type === 'label');
    assert.equal(ensured, expected.map((namespace) => ({ type: 'label', namespace, label: 'istio-injection=enabled' })));
  });

  test(`${release}: workloads in istio-injection namespaces start after the sidecar injector is registered`, () => {
    const { objects, phaseOf } = data.get(release)!;
    const injector = find(objects, 'MutatingWebhookConfiguration', undefined, 'istio-sidecar-injector');
    assert.ok(injector !== -1);
    objects.forEach((object, index) => {
      if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(object.kind ?? '')) return;
      const ns = find(objects, 'Namespace', undefined, object.metadata?.namespace ?? '');
      if (ns === -1 || labels(objects[ns])['istio-injection'] !== 'enabled') return;
      if (labels(podTemplate(object))['sidecar.istio.io/inject'] === 'false') return;
      assert.ok(phaseOf.get(index)! >= phaseOf.get(injector)!, `${describeObject(object)} after the injector`);
    });
  });
}

test('objects of an aggregated API come after the APIService backend is Available with endpoints', () => {
  const objects = parseManifests(
    `apiVersion: v1
kind: Namespace
metadata: {name: m}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: m}
spec: {selector: {matchLabels: {app: ms}}, template: {metadata: {labels: {app: ms}}, spec: {containers: [{name: c, image: "registry.k8s.io/metrics-server:v0.7.0"}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: m}
spec: {selector: {app: ms}, ports: [{port: 443}]}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.example.com}
spec: {group: metrics.example.com, version: v1beta1, service: {name: metrics-server, namespace: m}}
---
apiVersion: metrics.example.com/v1beta1
kind: Rule
metadata: {name: r, namespace: m}
`,
    't',
  );
  const plan = planInstall(objects);
  const phaseOf = (kind: string) => plan.phases.findIndex((p) => p.objects.some((i) => objects[i]!.kind === kind));
  assert.ok(phaseOf('Deployment') < phaseOf('Rule'));
  assert.equal(plan.phases[phaseOf('Deployment')]!.waits, [
    { type: 'available', namespace: 'm', deployment: 'metrics-server' },
    { type: 'endpoints', namespace: 'm', service: 'metrics-server' },
  ]);
  assert.equal(plan.warnings, []);
});

test('a kind with no CRD in the bundle goes last, with a warning naming it', () => {
  const objects = parseManifests(
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n',
    't',
  );
  const plan = planInstall(objects);
  assert.equal(plan.phases.map((p) => p.name), ['00-namespaces', '01-resources', '02-unknown-kinds']);
  assert.match(plan.warnings[0]!, 'Widget/a/w: kind example.com/v1/Widget has no CRD in the bundle');
});

test.run();
