// What the manifests ask of a cluster, summed at build time for the installer's preflight.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { clusterRequirements } from '../../src/core/cluster-requirements.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { cpuMillis, memoryBytes, parseQuantity } from '../../src/core/resource-quantity.js';
import { readFile } from 'node:fs/promises';
import { KUBEFLOW_FIXTURES } from '../helpers/fixtures.js';

const test = suite('cluster requirements');

test('quantities as the API server writes them', () => {
  assert.is(cpuMillis('250m'), 250);
  assert.is(cpuMillis('1.5'), 1500);
  assert.is(cpuMillis(2), 2000);
  assert.is(cpuMillis('0.0001'), 1, 'below a millicore rounds up, as the API server does');
  assert.is(memoryBytes('128Mi'), 128 * 2 ** 20);
  assert.is(memoryBytes('1G'), 1e9);
  assert.is(memoryBytes('16318412Ki'), 16318412 * 1024);
  assert.is(memoryBytes('2e3'), 2000);
  assert.is(parseQuantity('12 cores'), undefined);
  assert.is(parseQuantity('Mi'), undefined);
});

const deployment = (name: string, replicas: number | undefined, containers: string, extra = '') =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: app}\nspec:\n${replicas === undefined ? '' : `  replicas: ${replicas}\n`}  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n${extra}      containers: ${containers}\n`;

test('replicas multiply, requests fall back to limits, and an init container counts only when it is the larger', () => {
  const objects = parseManifests(
    [
      deployment('web', 3, '[{name: a, image: x, resources: {requests: {cpu: 100m, memory: 64Mi}}}, {name: b, image: y, resources: {limits: {cpu: "1", memory: 1Gi}}}]'),
      deployment('one', undefined, '[{name: a, image: x, resources: {requests: {cpu: 200m}}}]', '      initContainers: [{name: init, image: z, resources: {requests: {cpu: "2", memory: 10Mi}}}]\n'),
      deployment('off', 0, '[{name: a, image: x, resources: {requests: {cpu: "8"}}}]'),
      'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: app}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x, resources: {requests: {cpu: 50m, memory: 32Mi}}}]\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: app}\n',
    ].join('---\n'),
    'test.yaml',
  );
  const required = clusterRequirements(objects);
  // web: 3 × (100m + 1000m); one: max(200m, the 2-CPU init container); off: none.
  assert.is(required.requests.cpuMillis, 3 * 1100 + 2000);
  assert.is(required.requests.memoryBytes, 3 * (64 + 1024) * 2 ** 20 + 10 * 2 ** 20);
  assert.is(required.requests.pods, 4);
  assert.equal(required.perNode, { cpuMillis: 50, memoryBytes: 32 * 2 ** 20, pods: 1 });
  assert.equal(required.largestPod, { name: 'Deployment/app/one', cpuMillis: 2000, memoryBytes: 10 * 2 ** 20 });
});

test('claims with no class need a default StorageClass; StatefulSet templates make one claim per replica', () => {
  const objects = parseManifests(
    [
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: db}\nspec: {resources: {requests: {storage: 10Gi}}}\n',
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: fast, namespace: db}\nspec: {storageClassName: ssd, resources: {requests: {storage: 1Gi}}}\n',
      'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: static, namespace: db}\nspec: {storageClassName: "", resources: {requests: {storage: 1Gi}}}\n',
      'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: kv, namespace: db}\nspec:\n  replicas: 2\n  template: {spec: {containers: [{name: a, image: x}]}}\n  volumeClaimTemplates: [{metadata: {name: store}, spec: {resources: {requests: {storage: 5Gi}}}}]\n',
    ].join('---\n'),
    'test.yaml',
  );
  const required = clusterRequirements(objects, { min: '1.30', max: '1.32' });
  assert.equal(required.defaultClassClaims, ['db/data', 'db/store-kv-0', 'db/store-kv-1']);
  assert.is(required.storageBytes, (10 + 1 + 1 + 2 * 5) * 2 ** 30);
  assert.equal(required.kubernetes, { min: '1.30', max: '1.32' });
});

test("Istio's proxy is added to the pods of injected namespaces, from the injector's own values, unless a pod opts out", () => {
  const injector = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-sidecar-injector, namespace: istio-system}\ndata:\n  values: '{"global": {"proxy": {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}}}'\n`;
  const objects = parseManifests(
    [
      injector,
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: app, labels: {istio-injection: enabled}}\n',
      deployment('meshed', 2, '[{name: a, image: x, resources: {requests: {cpu: 10m}}}]'),
      deployment('opted-out', 1, '[{name: a, image: x, resources: {requests: {cpu: 10m}}}]').replace('labels: {app: opted-out}', 'labels: {app: opted-out, sidecar.istio.io/inject: "false"}'),
    ].join('---\n'),
    'test.yaml',
  );
  const required = clusterRequirements(objects);
  assert.equal(required.sidecars, { pods: 2, cpuMillis: 100, memoryBytes: 128 * 2 ** 20 });
  assert.is(required.requests.cpuMillis, 2 * 110 + 10);
});

test('real releases: every release asks for a few CPUs and GiB, with Istio sidecars and the database claims', async () => {
  for (const release of ['v1.8.1', 'v1.10.2', 'v1.11.0', '26.03']) {
    const required = clusterRequirements(parseManifests(await readFile(`${KUBEFLOW_FIXTURES}${release}/rendered.yaml`, 'utf8'), release));
    // Upstream's README for v1.10.2 totals 4372m and 12198Mi (the larger of measured use and requests per component).
    assert.ok(required.requests.cpuMillis > 2500 && required.requests.cpuMillis < 8000, `${release} cpu ${required.requests.cpuMillis}m`);
    assert.ok(required.requests.memoryBytes > 6 * 2 ** 30 && required.requests.memoryBytes < 16 * 2 ** 30, `${release} memory`);
    assert.ok(required.sidecars.pods >= 25, `${release} sidecars ${required.sidecars.pods}`);
    assert.ok(required.defaultClassClaims.some((claim) => claim.endsWith('/katib-mysql')), `${release} claims ${required.defaultClassClaims.join(' ')}`);
    assert.ok(required.defaultClassClaims.some((claim) => claim.endsWith('/mysql-pv-claim')), `${release} claims`);
  }
});

test.run();
