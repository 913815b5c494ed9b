// The capstone: the full Kubeflow v1.10.2 release. Every image it names is pushed to the local registry as a small
// stand-in under its real name (found here without the resolver under test: the release's `image:` fields plus a
// hand-written list of the references it hides elsewhere); the bundle is built through mirrors, verified, and
// installed by install.sh into the target engine and the API server double. It ends with every workload Available.
//
// Digest pins cannot be reproduced with synthetic content: this test rewrites the release's seven Knative digests, in
// its own copy of rendered.yaml, to the digests of the stand-ins it pushed. Nothing else in the release is changed.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { formatImageRef, parseImageRef } from '../../src/core/image-ref.js';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { readRendered } from '../helpers/fixtures.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, REPO_ROOT, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  manifests: string;
  registries: string[];
  /** The bundle the full install built, and the double it was installed into (kept for the checks after it). */
  bundle: string;
  double: ApiServerDouble;
}

const test = suite<Context>('dress rehearsal: Kubeflow v1.10.2 end to end');
const SPEC = join(REPO_ROOT, 'bundle-spec/v1.10.2.yaml');

/**
 * The references of v1.10.2 that a default build (tiers install and runtime) bundles although no `image:` field names
 * them, each with where the release keeps it. Written out by hand, so that the bundle is checked to hold them.
 */
const HIDDEN_REFS = [
  'filebrowser/filebrowser:v2.25.0', // env VOLUME_VIEWER_IMAGE of volumes-web-app, and its viewer spec ConfigMap
  'kserve/agent:v0.15.0', // JSON in ConfigMap inferenceservice-config
  'kserve/router:v0.15.0', // the same
  'tensorflow/tensorflow:2.5.1', // ConfigMap tensorboard-controller-config
  'ghcr.io/kubeflow/kfp-driver:2.5.0', // env of Deployment ml-pipeline
  'ghcr.io/kubeflow/kfp-launcher:2.5.0', // the same
  'quay.io/argoproj/argoexec:v3.5.14', // an argument of Deployment workflow-controller
  'registry.k8s.io/busybox', // ConfigMap pipeline-install-config
];
/** Named by no manifest: training-operator v1's compiled-in init container images, from the component table. */
const COMPILED_IN_REFS = ['alpine:3.10', 'ghcr.io/kubeflow/training-v1/kubectl-delivery:latest'];

/** Every `image:` field's value in the rendered text, variables and templates aside. */
function imageFields(text: string): string[] {
  return [...text.matchAll(/^[ \t]*(?:- )?image:[ \t]*["']?([^\s"'#]+)/gm)].map((match) => match[1]!).filter((ref) => !/^(\$|\{\{)/.test(ref));
}

const normalised = (ref: string) => formatImageRef(parseImageRef(ref));

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    await mkdir(join(context.work.path, 'home'));
    let text = await readRendered('v1.10.2');
    for (const ref of HIDDEN_REFS) assert.ok(text.includes(ref), `v1.10.2 names ${ref}`);
    const fields = imageFields(text);
    assert.ok(fields.length > 50, `image fields: ${fields.length}`);
    // One stand-in per image, however the release spells it (`busybox` is `docker.io/library/busybox:latest`).
    const byName = new Map([...fields, ...HIDDEN_REFS, ...COMPILED_IN_REFS].map((ref) => [normalised(ref), ref]));
    const refs = [...byName.keys()];
    const standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, refs, { layerBytes: 4096 });
    refs.forEach((ref, i) => {
      const pinned = parseImageRef(ref).digest;
      if (pinned !== undefined) text = text.replaceAll(pinned, standIns[i]!.digest);
    });
    assert.is(standIns.filter((standIn) => standIn.ref.includes('@sha256:')).length, 7, 'the seven Knative digest pins');
    context.manifests = join(context.work.path, 'rendered.yaml');
    await writeFile(context.manifests, text);
    context.registries = [...new Set(refs.map((ref) => parseImageRef(ref).registry))];
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.double?.stop();
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the naive single kubectl apply of the release fails against the double', async ({ work, manifests }) => {
  const double = new ApiServerDouble({ hasImage: async () => true });
  await double.start();
  try {
    const result = await runCommand('kubectl', ['apply', '--server-side', '--force-conflicts', '-f', manifests], {
      env: { KUBECONFIG: await writeKubeconfig(work.path, double.url), HOME: join(work.path, 'home') },
      timeoutMs: QUICK_MS * 4,
    });
    assert.is.not(result.code, 0);
    assert.match(result.stderr, 'ensure CRDs are installed first');
  } finally {
    await double.stop();
  }
});

test('build → verify → install.sh ends with every Deployment, StatefulSet and DaemonSet Available', async (context) => {
  const { env, work, manifests, registries } = context;
  const bundle = join(work.path, 'bundle');
  context.bundle = bundle;
  const mirrors = registries.flatMap((registry) => ['--mirror', `${registry}=${env.registry}/${registry}`]);
  // Some ninety images to pull and save: minutes, not seconds.
  const built = await runKfbundle(['build', '--no-seed-registry', '--manifests', manifests, '--spec', SPEC, '--out', bundle, '--cache', join(work.path, 'cache'), '--no-progress', '--concurrency', '4', ...mirrors], {
    timeoutMs: 900_000,
  });
  assert.is(built.code, 0, built.stderr.slice(-3000));
  const verified = await runKfbundle(['verify', bundle]);
  assert.is(verified.code, 0, verified.stderr);
  // The images no pod template names, which the double could not miss, are in the bundle all the same.
  const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  const bundled = new Set(metadata.images.map((image) => image.ref));
  for (const ref of [...HIDDEN_REFS, ...COMPILED_IN_REFS]) assert.ok(bundled.has(normalised(ref)), `the bundle holds ${ref}`);

  const target = dockerFor(env.targetHost);
  // One node, this machine's, whose images are the target engine's; kept running for the checks below.
  const double = new ApiServerDouble({ hasImage: (ref) => target.getImage(ref).inspect().then(() => true, () => false), nodes: ['node-1'] });
  await double.start();
  context.double = double;
  {
    const result = await runCommand('bash', [join(bundle, 'install.sh'), '--timeout', '120', '--retry-delay', '2'], {
      env: { KUBECONFIG: await writeKubeconfig(work.path, double.url), HOME: join(work.path, 'home'), DOCKER_HOST: env.targetHost, KFB_NODE_NAME: 'node-1' },
      timeoutMs: 1_200_000,
    });
    const workloads = ['Deployment', 'StatefulSet', 'DaemonSet'].flatMap((kind) => double.list(kind));
    const unavailable = workloads.filter((w) => !double.isAvailable(w)).map((w) => `${w['kind']}/${w['metadata']['namespace']}/${w['metadata']['name']}: ${double.whyUnavailable(w)}`);
    assert.is(result.code, 0, `${result.stdout.slice(-4000)}\n${result.stderr.slice(-3000)}\nunavailable: ${unavailable.join('\n')}`);
    assert.ok(workloads.length >= 45, `workloads applied: ${workloads.length}`);
    assert.equal(unavailable, []);
    assert.not.match(result.stdout, 'apply failed', 'no phase needed a retry');
    assert.match(result.stdout, 'ensuring namespace kubeflow labelled istio-injection=enabled');
    assert.is(double.get('Namespace', undefined, 'kubeflow')!['metadata']['labels']['istio-injection'], 'enabled');
    assert.is(double.get('Namespace', undefined, 'kubeflow')!['metadata']['labels']['control-plane'], 'kubeflow', 'labelling kept the other labels');
    // The preflight passed on a node of 16 CPUs and 64Gi, and the check after the last phase found everything ready.
    assert.match(result.stdout, /pass  kubernetes-version: Kubernetes 1\.32 is within what the release supports \(1\.30 to 1\.32\)/);
    assert.match(result.stdout, "pass  storage-class: default StorageClass standard provisions the bundle's claims that name no class (3 claims)");
    assert.match(result.stdout, /pass  cpu: the bundle's pods request [\d.]+ CPU/);
    assert.match(result.stdout, /pass  disk: loading the images needs at least/);
    assert.match(result.stdout, new RegExp(`all ready: ${workloads.length} of ${workloads.length} workloads`));
    assert.match(result.stdout, /\n  kubeflow +(\d+)\/\1\n/);
    if (process.env['KFB_SHOW_INSTALL'] === '1') console.log(result.stdout);
  }
});

/** The installer of the bundle the second test built, run against `double` with this node named as the double's. */
function installer(context: Context, double: ApiServerDouble, args: string[], timeoutMs = 300_000) {
  return writeKubeconfig(context.work.path, double.url).then((kubeconfig) =>
    runCommand('bash', [join(context.bundle, 'install.sh'), ...args], {
      env: { KUBECONFIG: kubeconfig, HOME: join(context.work.path, 'home'), DOCKER_HOST: context.env.targetHost, KFB_NODE_NAME: 'node-1' },
      cwd: context.work.path,
      timeoutMs,
    }),
  );
}

async function until(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const waitingReason = (pod: Record<string, any> | undefined) => pod?.['status']?.['containerStatuses']?.[0]?.['state']?.['waiting']?.['reason'] as string | undefined;

test('an image removed from the node: the check names the image, the node, and that the bundle has it', async (context) => {
  const { double } = context;
  const dashboard = double.get('Deployment', 'kubeflow', 'centraldashboard')!;
  const image = dashboard['spec']['template']['spec']['containers'][0]['image'] as string;
  const target = dockerFor(context.env.targetHost);
  // Untagged, not deleted: the layers stay, so putting the name back restores it.
  await target.getImage(image).tag({ repo: 'kfb-kept/centraldashboard', tag: 'check' });
  await target.getImage(image).remove();
  try {
    const [pod] = double.podsOf(dashboard);
    const deleted = await runCommand('kubectl', ['-n', 'kubeflow', 'delete', 'pod', pod!['metadata']['name']], { env: { KUBECONFIG: await writeKubeconfig(context.work.path, double.url) }, timeoutMs: QUICK_MS });
    assert.is(deleted.code, 0, deleted.stderr);
    await until('the new pod to fail its pull', () => double.podsOf(double.get('Deployment', 'kubeflow', 'centraldashboard')!).some((p) => /ImagePull/.test(waitingReason(p) ?? '')));
    const check = await installer(context, double, ['--check', '--timeout', '5']);
    assert.is(check.code, 1, check.stdout);
    assert.match(check.stdout, /kubeflow +\d+\/\d+ +not ready/);
    assert.match(check.stdout, new RegExp(`pod kubeflow/centraldashboard-[a-z0-9]+-[a-z0-9]+ \\(Deployment/centraldashboard\\) on node node-1: image ${image.replace(/[.]/g, '\\.')} cannot be pulled`));
    assert.match(check.stdout, 'in the bundle, not loaded on this node: load it with:');
    assert.not.match(check.stdout, 'leak watch');
    const json = await installer(context, double, ['--check', '--json', '--timeout', '1']);
    const report = JSON.parse(json.stdout) as { ready: boolean; problems: { reason: string; image: string; node: string; inBundle: boolean; loadedOnNode: boolean | null }[] };
    assert.is(report.ready, false);
    assert.equal(report.problems.filter((p) => p.reason === 'image-pull').map(({ image: i, node, inBundle, loadedOnNode }) => ({ i, node, inBundle, loadedOnNode })), [{ i: image, node: 'node-1', inBundle: true, loadedOnNode: false }]);
  } finally {
    await target.getImage('kfb-kept/centraldashboard:check').tag({ repo: image.slice(0, image.lastIndexOf(':')), tag: image.slice(image.lastIndexOf(':') + 1) });
    await target.getImage('kfb-kept/centraldashboard:check').remove();
  }
  await until('the dashboard to heal', () => double.isAvailable(double.get('Deployment', 'kubeflow', 'centraldashboard')!), 60_000);
  const healed = await installer(context, double, ['--check', '--timeout', '30']);
  assert.is(healed.code, 0, healed.stdout);
  assert.match(healed.stdout, /all ready: \d+ of \d+ workloads/);
});

test('a leak: a pipeline step pulls an image no manifest names; the check lists it, and its command makes the add-on bundle that heals it', async (context) => {
  const { double, env, work, registries } = context;
  const leaked = 'docker.io/library/python:3.9-slim';
  await pushStandIns(dockerFor(env.builderHost), env.registry, [leaked], { layerBytes: 4096 });
  // Not on the node, even where an earlier run on the same engines loaded its add-on.
  await dockerFor(env.targetHost).getImage(leaked).remove({ force: true }).catch(() => undefined);
  const step = `apiVersion: v1
kind: Pod
metadata:
  name: iris-pipeline-train-step
  namespace: kubeflow
  ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Workflow, name: iris-pipeline, uid: 7d2c8f3e-0000-4000-8000-000000000001, controller: true}]
spec:
  restartPolicy: Never
  containers: [{name: main, image: "python:3.9-slim", command: [python, -c, "print(1)"]}]
`;
  const podFile = join(work.path, 'step.yaml');
  await writeFile(podFile, step);
  const kubeconfig = await writeKubeconfig(work.path, double.url);
  const applied = await runCommand('kubectl', ['apply', '-f', podFile], { env: { KUBECONFIG: kubeconfig }, timeoutMs: QUICK_MS });
  assert.is(applied.code, 0, applied.stderr);
  await until('the step to fail its pull', () => /ImagePull/.test(waitingReason(double.get('Pod', 'kubeflow', 'iris-pipeline-train-step')) ?? ''));

  const leaksFile = join(work.path, 'leaks.txt');
  const check = await installer(context, double, ['--check', '--timeout', '5', '--leaks-file', leaksFile]);
  assert.is(check.code, 1, check.stdout);
  assert.match(check.stdout, 'leak watch: pods tried to pull 1 image in neither the bundle nor a registry');
  assert.match(check.stdout, `  ${leaked}  pod kubeflow/iris-pipeline-train-step (Workflow/iris-pipeline) on node node-1`);
  assert.match(check.stdout, `the list is in ${leaksFile}`);
  assert.match(check.stdout, 'kfbundle build --image-list leaks.txt --out kubeflow-addon');
  const list = await readFile(leaksFile, 'utf8');
  assert.equal(list.split('\n').filter((line) => line !== '' && !line.startsWith('#')), [leaked]);

  // The printed command, run as the build machine would (its mirrors are its own).
  const addon = join(work.path, 'kubeflow-addon');
  const mirrors = registries.flatMap((registry) => ['--mirror', `${registry}=${env.registry}/${registry}`]);
  // --no-seed-registry as the release's own build here: the test registry has no seed registry image.
  const built = await runKfbundle(['build', '--image-list', leaksFile, '--no-seed-registry', '--out', addon, '--cache', join(work.path, 'cache'), '--no-progress', ...mirrors], { timeoutMs: 300_000 });
  assert.is(built.code, 0, built.stderr);
  const loaded = await runCommand('bash', [join(addon, 'install.sh'), '--images-only'], { env: { DOCKER_HOST: env.targetHost, HOME: join(work.path, 'home') }, timeoutMs: 300_000 });
  assert.is(loaded.code, 0, loaded.stderr);
  await until('the step to run', () => waitingReason(double.get('Pod', 'kubeflow', 'iris-pipeline-train-step')) === undefined, 30_000);
  const again = await installer(context, double, ['--check', '--timeout', '30', '--leaks-file', leaksFile]);
  assert.is(again.code, 0, again.stdout);
  assert.not.match(again.stdout, 'leak watch');
});

test('no default StorageClass: the preflight refuses before anything is loaded or applied, naming the claims and the fix', async (context) => {
  const double = new ApiServerDouble({ hasImage: async () => true, storageClasses: [] });
  await double.start();
  try {
    const preflight = await installer(context, double, ['--preflight']);
    assert.is(preflight.code, 1, preflight.stdout);
    assert.match(preflight.stdout, "fail  storage-class: the cluster has no StorageClass at all: the bundle's claims that name no class (kubeflow/katib-mysql, kubeflow/minio-pvc, kubeflow/mysql-pv-claim) would stay Pending");
    assert.match(preflight.stdout, 'fix: install a storage provisioner');
    const install = await installer(context, double, ['--timeout', '30']);
    assert.is(install.code, 1, install.stdout);
    assert.match(install.stderr, 'preflight failed (storage-class): nothing was loaded or applied');
    assert.is(double.get('Namespace', undefined, 'kubeflow'), undefined);
  } finally {
    await double.stop();
  }
});

test('too little CPU: the preflight names the shortfall', async (context) => {
  const double = new ApiServerDouble({ hasImage: async () => true, nodes: [{ name: 'node-1', cpu: '4', memory: '64Gi' }] });
  await double.start();
  try {
    const metadata = JSON.parse(await readFile(join(context.bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
    const needed = metadata.requirements!.requests.cpuMillis + metadata.requirements!.perNode.cpuMillis;
    const preflight = await installer(context, double, ['--preflight']);
    assert.is(preflight.code, 1, preflight.stdout);
    const short = needed - 4000;
    const cpu = (millis: number) => (millis % 1000 === 0 ? String(millis / 1000) : millis >= 1000 ? (millis / 1000).toFixed(1) : `${millis}m`);
    assert.match(preflight.stdout, `fail  cpu: not enough CPU: the bundle's pods request ${cpu(needed)} CPU, DaemonSets' pods counted on each node; the ready nodes offer 4 allocatable (node-1 4): short by ${cpu(short)}`);
    assert.match(preflight.stdout, 'pass  memory:');
    const json = JSON.parse((await installer(context, double, ['--preflight', '--json'])).stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    assert.is(json.ok, false);
    assert.equal(json.checks.filter((c) => c.status === 'fail').map((c) => c.name), ['cpu']);
  } finally {
    await double.stop();
  }
});

test.run();
