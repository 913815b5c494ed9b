// install.sh's preflight and post-install check on small bundles of the tests' own, against the API server double
// with the real kubectl: a Kubernetes version outside the release's range refuses the install before anything is
// applied (and --force goes on, listing it); this node's disk too small for the images is named; the check names a
// crash loop with its last log lines, a claim whose StorageClass does not exist, a claim with no class on a cluster
// with no default one, and an image a second node has not loaded.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble, type ApiServerDoubleOptions } from '../api-double/api-server-double.js';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { runCommand, type RunResult } from '../helpers/cli.js';
import { buildWithFakeStore } from '../helpers/fake-build.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { makeTempDir } from '../helpers/tmp.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { parseBundleSpec } from '../../src/core/bundle-spec.js';

const test = suite('preflight and post-install check');

const NAMESPACE = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n';
const SPEC = parseBundleSpec(
  'formatVersion: 1\nrelease: test\nsource: {repository: kubeflow/manifests, ref: test}\nkubernetes: {min: "1.30", max: "1.32", why: the test release}\n',
  'test-spec.yaml',
);
const app = (name: string, image: string, extra = '') =>
  deploymentYaml('kubeflow', name, `      - {name: main, image: "${image}", resources: {requests: {cpu: 500m, memory: 256Mi}}}\n`, extra);
const claim = (name: string, storageClass?: string) =>
  `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: ${name}, namespace: kubeflow}\nspec: {${storageClass === undefined ? '' : `storageClassName: ${storageClass}, `}accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n`;
const mounting = (claimName: string) => `      volumes: [{name: data, persistentVolumeClaim: {claimName: ${claimName}}}]\n`;

async function bundleOf(work: string, name: string, documents: string[], saveBytes?: number): Promise<string> {
  const path = join(work, `${name}.yaml`);
  await writeFile(path, documents.join('---\n'));
  const out = join(work, name);
  await buildWithFakeStore(path, out, { build: { spec: SPEC }, ...(saveBytes === undefined ? {} : { saveBytes }) });
  return out;
}

async function withDouble<T>(options: ApiServerDoubleOptions, work: string, body: (env: NodeJS.ProcessEnv, double: ApiServerDouble) => Promise<T>): Promise<T> {
  const double = new ApiServerDouble(options);
  await double.start();
  try {
    return await body({ KUBECONFIG: await writeKubeconfig(work, double.url), HOME: work, KFB_NODE_NAME: 'node-a' }, double);
  } finally {
    await double.stop();
  }
}

const install = (bundle: string, env: NodeJS.ProcessEnv, extra: string[]): Promise<RunResult> =>
  runCommand('bash', [join(bundle, 'install.sh'), '--timeout', '20', '--retry-delay', '1', ...extra], { env, timeoutMs: 240_000 });

test('the bundle records what it asks of a cluster, and the release range from its spec', async () => {
  const work = await makeTempDir('kfb-preflight-');
  try {
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('api', 'gcr.io/example/api:1'), claim('data')]);
    const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
    assert.equal(metadata.requirements?.requests, { cpuMillis: 500, memoryBytes: 256 * 2 ** 20, pods: 1 });
    assert.equal(metadata.requirements?.defaultClassClaims, ['kubeflow/data']);
    assert.equal(metadata.requirements?.kubernetes, { min: '1.30', max: '1.32' });
  } finally {
    await work.remove();
  }
});

test('a Kubernetes version outside the release range stops the install before anything is applied; --force goes on', async () => {
  const work = await makeTempDir('kfb-preflight-');
  try {
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('api', 'gcr.io/example/api:1')]);
    await withDouble({ hasImage: async () => true, kubernetesVersion: 'v1.28.9', nodes: ['node-a'] }, work.path, async (env, double) => {
      const refused = await install(bundle, env, ['--skip-images']);
      assert.is(refused.code, 1, refused.stdout);
      assert.match(refused.stdout, 'fail  kubernetes-version: the cluster runs Kubernetes 1.28; this release supports 1.30 to 1.32');
      assert.match(refused.stdout, 'fix: upgrade the cluster to Kubernetes 1.30 or newer');
      assert.match(refused.stdout, /pass  cpu: the bundle's pods request 500m CPU;/);
      assert.match(refused.stderr, 'preflight failed (kubernetes-version): nothing was loaded or applied');
      assert.is(double.get('Namespace', undefined, 'kubeflow'), undefined, 'nothing applied');

      const report = await install(bundle, env, ['--preflight', '--json']);
      assert.is(report.code, 1);
      const json = JSON.parse(report.stdout) as { kind: string; ok: boolean; checks: { name: string; status: string; message: string; fix: string }[] };
      assert.is(json.kind, 'preflight');
      assert.is(json.ok, false);
      assert.is(json.checks.find((check) => check.name === 'kubernetes-version')?.status, 'fail');
      assert.is(json.checks.find((check) => check.name === 'cluster')?.status, 'pass');
      assert.match(json.checks.find((check) => check.name === 'kubernetes-version')!.fix, '--force installs anyway');

      const forced = await install(bundle, env, ['--skip-images', '--force']);
      assert.is(forced.code, 0, `${forced.stdout}\n${forced.stderr}`);
      assert.match(forced.stderr, 'preflight failed (kubernetes-version); going on because of --force');
      assert.ok(double.get('Deployment', 'kubeflow', 'api'), 'applied');
      assert.match(forced.stdout, 'all ready: 1 of 1 workload');
    });
  } finally {
    await work.remove();
  }
});

test("this node's disk too small for the images is named before anything is loaded", async () => {
  const work = await makeTempDir('kfb-preflight-');
  const small = await mountTmpfs(256 * 1024);
  try {
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('api', 'gcr.io/example/api:1')], 2_000_000);
    await withDouble({ hasImage: async () => true, nodes: ['node-a'] }, work.path, async (env) => {
      const result = await install(bundle, { ...env, KFB_CONTAINERD_ROOT: small.path }, ['--preflight', '--runtime', 'containerd']);
      assert.is(result.code, 1, result.stdout);
      assert.match(result.stdout, /fail  disk: not enough disk: loading the images needs at least 2Mi .* on .* \(containerd\), which has \d+Mi free/);
      assert.match(result.stdout, 'or push the images to a registry instead (--registry, --seed-registry)');
    });
  } finally {
    await small.remove();
    await work.remove();
  }
});

test('the check names a crash loop with its last lines and a claim whose StorageClass is missing', async () => {
  const work = await makeTempDir('kfb-check-');
  try {
    const crashing = 'gcr.io/example/model-server:1';
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('server', crashing), app('db', 'gcr.io/example/db:1', mounting('fast-data')), claim('fast-data', 'fast')]);
    const options: ApiServerDoubleOptions = {
      hasImage: async () => true,
      nodes: ['node-a'],
      crashes: (ref) => (ref === crashing ? ['loading model', 'panic: model file /models/m.bin not found'] : undefined),
    };
    await withDouble(options, work.path, async (env) => {
      const result = await install(bundle, env, ['--skip-images', '--timeout', '8']);
      assert.is(result.code, 1, result.stdout);
      assert.match(result.stdout, /kubeflow +0\/2 +not ready/);
      assert.match(result.stdout, /pod kubeflow\/server-[a-z0-9]+-[a-z0-9]+ \(Deployment\/server\) on node node-a: container main keeps crashing \(CrashLoopBackOff, \d+ restarts\); its last lines:\n {6}loading model\n {6}panic: model file \/models\/m\.bin not found/);
      assert.match(result.stdout, /pod kubeflow\/db-[a-z0-9]+-[a-z0-9]+ \(Deployment\/db\) cannot be scheduled: 0\/1 nodes are available: pod has unbound immediate PersistentVolumeClaims/);
      assert.match(result.stdout, 'claim kubeflow/fast-data names StorageClass fast, which does not exist');
      assert.match(result.stderr, /check again with: .*install\.sh --check/);

      const json = await install(bundle, env, ['--check', '--json', '--timeout', '1']);
      assert.is(json.code, 1);
      const report = JSON.parse(json.stdout) as { kind: string; ready: boolean; problems: { reason: string; logs: string[]; fix: string }[] };
      assert.is(report.kind, 'check');
      assert.is(report.ready, false);
      assert.equal(report.problems.find((problem) => problem.reason === 'crash-loop')?.logs, ['loading model', 'panic: model file /models/m.bin not found']);
      assert.match(report.problems.find((problem) => problem.reason === 'unschedulable')!.fix, 'names StorageClass fast, which does not exist');
    });
  } finally {
    await work.remove();
  }
});

test('no default StorageClass: the preflight names the claims and the fix; forced, the check names the claim', async () => {
  const work = await makeTempDir('kfb-check-');
  try {
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('db', 'gcr.io/example/db:1', mounting('data')), claim('data')]);
    await withDouble({ hasImage: async () => true, nodes: ['node-a'], storageClasses: [{ name: 'slow', default: false }] }, work.path, async (env) => {
      const preflight = await install(bundle, env, ['--preflight']);
      assert.is(preflight.code, 1, preflight.stdout);
      assert.match(preflight.stdout, "fail  storage-class: no default StorageClass for the bundle's claims that name no class (kubeflow/data): they would stay Pending");
      assert.match(preflight.stdout, `make one of this cluster's classes (slow) the default: kubectl patch storageclass slow -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`);

      const forced = await install(bundle, env, ['--skip-images', '--force', '--timeout', '6']);
      assert.is(forced.code, 1, forced.stdout);
      assert.match(forced.stdout, 'claim kubeflow/data names no StorageClass and the cluster has no default one: make one the default');
    });
  } finally {
    await work.remove();
  }
});

test('an image a second node has not loaded is named with that node and what to run there', async () => {
  const work = await makeTempDir('kfb-check-');
  try {
    const image = 'gcr.io/example/api:1';
    const bundle = await bundleOf(work.path, 'app', [NAMESPACE, app('api', image).replace('spec:\n  selector', 'spec:\n  replicas: 2\n  selector')]);
    const nodes = [
      { name: 'node-a', hasImage: async () => true },
      { name: 'node-b', hasImage: async () => false },
    ];
    await withDouble({ hasImage: async () => true, nodes }, work.path, async (env, double) => {
      const result = await install(bundle, env, ['--skip-images', '--timeout', '6']);
      assert.is(result.code, 1, result.stdout);
      assert.is(double.list('Pod').filter((pod) => pod['spec']['nodeName'] === 'node-b').length, 1, 'one replica on each node');
      assert.match(result.stdout, new RegExp(`pod kubeflow/api-[a-z0-9]+-[a-z0-9]+ \\(Deployment/api\\) on node node-b: image ${image} cannot be pulled \\((ErrImagePull|ImagePullBackOff)\\)`));
      assert.match(result.stdout, 'in the bundle, not loaded on node node-b: run there: ./install.sh --images-only');
      assert.not.match(result.stdout, 'leak watch', 'an image of the bundle is no leak');
    });
  } finally {
    await work.remove();
  }
});

test.run();
