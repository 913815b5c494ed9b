// The API server double's server-side apply, driven by the real kubectl as install.sh drives a cluster: field
// ownership in managedFields, conflicts that fail without --force-conflicts with the API server's own message, shared
// ownership of equal values, fields left out of a configuration removed, and generation and resourceVersion that
// move only when something changed. The expectations are written out by hand from the API's documented rules.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand, type RunResult } from '../helpers/cli.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { crdYaml } from '../helpers/manifests.js';
import { loudHook } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

type Obj = Record<string, any>;

interface Context {
  work: { path: string; remove(): Promise<void> };
  double: ApiServerDouble;
  env: NodeJS.ProcessEnv;
}

const test = suite<Context>('server-side apply against the API server double, with the real kubectl');

test.before(
  loudHook('setup', async (context) => {
    context.work = await makeTempDir('kfb-ssa-');
    await mkdir(join(context.work.path, 'home'));
    context.double = new ApiServerDouble({ hasImage: async () => true });
    await context.double.start();
    context.env = { KUBECONFIG: await writeKubeconfig(context.work.path, context.double.url), HOME: join(context.work.path, 'home') };
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.double?.stop();
    await context.work?.remove();
  }),
);

const kubectl = (context: Context, args: string[]): Promise<RunResult> => runCommand('kubectl', args, { env: context.env, timeoutMs: QUICK_MS });

let files = 0;
/** `kubectl apply --server-side` of `yaml` as `manager`. */
async function applyAs(context: Context, manager: string, yaml: string, extra: string[] = []): Promise<RunResult> {
  const file = join(context.work.path, `config-${files++}.yaml`);
  await writeFile(file, yaml);
  return kubectl(context, ['apply', '--server-side', `--field-manager=${manager}`, ...extra, '-f', file]);
}

/** The object as kubectl shows it, managedFields included. */
async function show(context: Context, resource: string, namespace = 'default'): Promise<Obj> {
  const result = await kubectl(context, ['get', resource, '-n', namespace, '-o', 'json', '--show-managed-fields']);
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Obj;
}

/** The managers that own `fieldsV1` path `path` (e.g. ['f:spec', 'f:replicas']), as `manager/operation`. */
function owners(object: Obj, path: string[]): string[] {
  return ((object['metadata']['managedFields'] ?? []) as Obj[])
    .filter((entry) => path.reduce<Obj | undefined>((node, name) => node?.[name], entry['fieldsV1']) !== undefined)
    .map((entry) => `${entry['manager']}/${entry['operation']}`)
    .sort();
}

/** Waits until the double's controllers are done with the object: Available for its current generation. */
async function settled(context: Context, kind: string, name: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const object = context.double.get(kind, 'default', name);
    if (object !== undefined && context.double.isAvailable(object) && object['status']['observedGeneration'] === object['metadata']['generation']) return;
    if (Date.now() > deadline) throw new Error(`${kind} ${name} did not settle: ${JSON.stringify(object?.['status'])}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function deployment(options: { replicas?: number; labels?: Record<string, string>; env?: Record<string, string>; image?: string } = {}): string {
  const labels = Object.entries({ app: 'web', ...options.labels }).map(([k, v]) => `${k}: ${v}`).join(', ');
  const env = Object.entries(options.env ?? {}).map(([name, value]) => `{name: ${name}, value: "${value}"}`).join(', ');
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {${labels}}}
spec:
${options.replicas === undefined ? '' : `  replicas: ${options.replicas}\n`}  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: main, image: "${options.image ?? 'busybox:1.36'}"${env === '' ? '' : `, env: [${env}]`}}
`;
}

const CONFLICT_GUIDANCE = 'command with the `--force-conflicts` flag';

test('an apply that changes a field another manager owns fails with 409 and the API server message, and changes nothing', async (context) => {
  const created = await applyAs(context, 'alpha', deployment({ replicas: 1, labels: { owner: 'alpha' } }));
  assert.is(created.code, 0, created.stderr);
  assert.match(created.stdout, 'deployment.apps/web serverside-applied');
  let web = await show(context, 'deployment/web');
  assert.equal(owners(web, ['f:spec', 'f:replicas']), ['alpha/Apply']);
  assert.equal(owners(web, ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}', 'f:image']), ['alpha/Apply']);
  assert.is(web['metadata']['generation'], 1);

  const refused = await applyAs(context, 'beta', deployment({ replicas: 3 }));
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, 'error: Apply failed with 1 conflict: conflict with "alpha": .spec.replicas');
  assert.match(refused.stderr, CONFLICT_GUIDANCE);
  web = await show(context, 'deployment/web');
  assert.is(web['spec']['replicas'], 1);
  assert.equal(owners(web, ['f:spec', 'f:replicas']), ['alpha/Apply']);

  // The same request by another client gets the same Status object a real API server sends.
  const response = await fetch(`${context.double.url}/apis/apps/v1/namespaces/default/deployments/web?fieldManager=beta&force=false`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/apply-patch+yaml' },
    body: deployment({ replicas: 3 }),
  });
  assert.is(response.status, 409);
  assert.equal(await response.json(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Apply failed with 1 conflict: conflict with "alpha": .spec.replicas',
    reason: 'Conflict',
    details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "alpha"', field: '.spec.replicas' }] },
    code: 409,
  });
});

test('--force-conflicts takes the field: the value changes and so does its owner; equal values are owned together', async (context) => {
  const forced = await applyAs(context, 'beta', deployment({ replicas: 3 }), ['--force-conflicts']);
  assert.is(forced.code, 0, forced.stderr);
  let web = await show(context, 'deployment/web');
  assert.is(web['spec']['replicas'], 3);
  assert.equal(owners(web, ['f:spec', 'f:replicas']), ['beta/Apply']);
  // The fields beta set to the values they had are beta's and alpha's at once.
  assert.equal(owners(web, ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"main"}', 'f:image']), ['alpha/Apply', 'beta/Apply']);
  assert.equal(owners(web, ['f:metadata', 'f:labels', 'f:owner']), ['alpha/Apply']);
  assert.is(web['metadata']['generation'], 2, 'replicas is spec');

  // A third manager applying the value beta set shares it without --force-conflicts.
  const shared = await applyAs(context, 'gamma', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 3}\n');
  assert.is(shared.code, 0, shared.stderr);
  web = await show(context, 'deployment/web');
  assert.equal(owners(web, ['f:spec', 'f:replicas']), ['beta/Apply', 'gamma/Apply']);
  assert.is(web['metadata']['generation'], 2, 'nothing changed in the spec');

  // A co-owned field cannot be changed by one of its owners alone: alpha still owns the image.
  const image = await applyAs(context, 'beta', deployment({ replicas: 3, image: 'busybox:1.37' }));
  assert.is.not(image.code, 0);
  assert.match(image.stderr, 'conflict with "alpha": .spec.template.spec.containers[name="main"].image');
});

test('the same configuration again writes nothing: generation and resourceVersion stay; a spec change bumps generation', async (context) => {
  await settled(context, 'Deployment', 'web');
  const before = await show(context, 'deployment/web');
  const again = await applyAs(context, 'beta', deployment({ replicas: 3 }));
  assert.is(again.code, 0, again.stderr);
  const after = await show(context, 'deployment/web');
  assert.is(after['metadata']['resourceVersion'], before['metadata']['resourceVersion']);
  assert.is(after['metadata']['generation'], before['metadata']['generation']);
  assert.equal(after['metadata']['managedFields'], before['metadata']['managedFields'], 'not even the times of managedFields move');

  // A container env var that nobody owned: a spec change, no conflict.
  const changed = await applyAs(context, 'beta', deployment({ replicas: 3, env: { MODE: 'fast' } }));
  assert.is(changed.code, 0, changed.stderr);
  const withEnv = await show(context, 'deployment/web');
  assert.is(withEnv['metadata']['generation'], before['metadata']['generation'] + 1);
  assert.equal(withEnv['spec']['template']['spec']['containers'][0]['env'], [{ name: 'MODE', value: 'fast' }]);

  // A label is metadata: a new resourceVersion, the same generation.
  await settled(context, 'Deployment', 'web');
  const labelled = await applyAs(context, 'beta', deployment({ replicas: 3, env: { MODE: 'fast' }, labels: { tier: 'front' } }));
  assert.is(labelled.code, 0, labelled.stderr);
  const withLabel = await show(context, 'deployment/web');
  assert.is(withLabel['metadata']['generation'], withEnv['metadata']['generation']);
  assert.ok(Number(withLabel['metadata']['resourceVersion']) > Number(withEnv['metadata']['resourceVersion']));
  assert.is(withLabel['metadata']['labels']['tier'], 'front');
});

test('fields left out of a configuration are removed, unless another manager still owns them', async (context) => {
  // beta leaves out the env var and the label it alone set, and replicas, which gamma owns too.
  const dropped = await applyAs(context, 'beta', deployment({}));
  assert.is(dropped.code, 0, dropped.stderr);
  const web = await show(context, 'deployment/web');
  assert.is(web['spec']['template']['spec']['containers'][0]['env'], undefined, 'the env var only beta owned is gone');
  assert.is(web['metadata']['labels']['tier'], undefined, 'the label only beta owned is gone');
  assert.is(web['spec']['replicas'], 3, 'gamma still owns replicas');
  assert.equal(owners(web, ['f:spec', 'f:replicas']), ['gamma/Apply']);
  assert.is(web['metadata']['labels']['owner'], 'alpha', "alpha's label stays");
});

test('merge patches and controllers are recorded as updates, and an apply conflicts with them like with an applier', async (context) => {
  const patched = await kubectl(context, ['patch', 'deployment', 'web', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"minReadySeconds":5}}']);
  assert.is(patched.code, 0, patched.stderr);
  const labelled = await kubectl(context, ['label', 'deployment', 'web', '-n', 'default', 'team=ml']);
  assert.is(labelled.code, 0, labelled.stderr);
  await settled(context, 'Deployment', 'web');
  const web = await show(context, 'deployment/web');
  const entry = (manager: string) => (web['metadata']['managedFields'] as Obj[]).find((e) => e['manager'] === manager);
  assert.equal(owners(web, ['f:spec', 'f:minReadySeconds']), ['kubectl-patch/Update']);
  assert.is(entry('kubectl-patch')!['apiVersion'], 'apps/v1');
  assert.equal(owners(web, ['f:metadata', 'f:labels', 'f:team']), ['kubectl-label/Update']);
  assert.is(entry('kube-controller-manager')!['subresource'], 'status');
  assert.equal(owners(web, ['f:status', 'f:observedGeneration']), ['kube-controller-manager/Update']);

  const refused = await applyAs(context, 'beta', deployment({}).replace('spec:\n', 'spec:\n  minReadySeconds: 10\n'));
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.minReadySeconds');

  // The same label again changes nothing, so it writes nothing.
  const rv = web['metadata']['resourceVersion'];
  const relabelled = await kubectl(context, ['label', 'deployment', 'web', '-n', 'default', 'team=ml', '--overwrite']);
  assert.is(relabelled.code, 0, relabelled.stderr);
  assert.is((await show(context, 'deployment/web'))['metadata']['resourceVersion'], rv);
});

test('custom resources: generation counts spec changes only; conflicts are reported on their fields too', async (context) => {
  const crd = crdYaml('example.com', 'Widget', 'widgets');
  assert.is((await applyAs(context, 'kubectl', crd, ['--force-conflicts'])).code, 0);
  const established = await kubectl(context, ['wait', '--for=condition=Established', 'crd/widgets.example.com', '--timeout=10s']);
  assert.is(established.code, 0, established.stderr);
  const widget = (size: number, label = 'a') => `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default, labels: {l: ${label}}}\nspec: {size: ${size}, ports: [80]}\n`;
  assert.is((await applyAs(context, 'kubectl', widget(1), ['--force-conflicts'])).code, 0);
  const first = await show(context, 'widgets/w');
  assert.is(first['metadata']['generation'], 1);

  assert.is((await applyAs(context, 'kubectl', widget(1), ['--force-conflicts'])).code, 0);
  assert.is((await show(context, 'widgets/w'))['metadata']['resourceVersion'], first['metadata']['resourceVersion'], 'a repeated apply writes nothing');
  assert.is((await applyAs(context, 'kubectl', widget(1, 'b'), ['--force-conflicts'])).code, 0);
  assert.is((await show(context, 'widgets/w'))['metadata']['generation'], 1, 'a label is not spec');
  assert.is((await applyAs(context, 'kubectl', widget(2, 'b'), ['--force-conflicts'])).code, 0);
  assert.is((await show(context, 'widgets/w'))['metadata']['generation'], 2, 'spec.size is');

  // A list in a custom resource without list annotations is atomic: owned and replaced whole.
  const refused = await applyAs(context, 'other', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {ports: [80, 443]}\n');
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.ports');
});

test('an apply without a field manager is refused as invalid', async (context) => {
  const response = await fetch(`${context.double.url}/api/v1/namespaces/default/configmaps/c`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/apply-patch+yaml' },
    body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
  });
  assert.is(response.status, 422);
  const body = (await response.json()) as Obj;
  assert.is(body['reason'], 'Invalid');
  assert.is(body['message'], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
});

test.run();
