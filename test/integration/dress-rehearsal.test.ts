// The capstone: the full Kubeflow v1.10.2 release. Every image the resolver finds is pushed to the local registry as
// a small stand-in under its real name; the bundle is built through mirrors, verified, and installed by install.sh
// into the target engine and the API server double. It ends with every workload Available.
//
// Digest pins cannot be reproduced with synthetic content: this test rewrites the release's seven Knative digests, in
// its own copy of rendered.yaml, to the digests of the stand-ins it pushed. Nothing else in the release is changed.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBundleSpec } from '../../src/core/bundle-spec.js';
import { discoverImages } from '../../src/core/discover-images.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { IMAGE_TIERS } from '../../src/core/discover-images.js';
import { resolveImages } from '../../src/core/resolve-images.js';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
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
}

const test = suite<Context>('dress rehearsal: Kubeflow v1.10.2 end to end');
const SPEC = join(REPO_ROOT, 'bundle-spec/v1.10.2.yaml');

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    await mkdir(join(context.work.path, 'home'));
    let text = await readRendered('v1.10.2');
    const spec = parseBundleSpec(await readFile(SPEC, 'utf8'), 'v1.10.2.yaml');
    const resolution = resolveImages(discoverImages(parseManifests(text, 'v1.10.2')), spec, IMAGE_TIERS);
    const refs = resolution.images.map((image) => image.locations[0]!.raw).filter((raw) => !raw.startsWith('$'));
    const standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, [...new Set(resolution.images.map((i) => i.ref))], { layerBytes: 4096 });
    assert.ok(refs.length > 0);
    for (const standIn of standIns) {
      const original = resolution.images.find((i) => i.ref.split('@')[0] === standIn.ref.split('@')[0] && i.parsed.digest !== undefined);
      if (original !== undefined) text = text.replaceAll(original.parsed.digest!, standIn.digest);
    }
    context.manifests = join(context.work.path, 'rendered.yaml');
    await writeFile(context.manifests, text);
    context.registries = [...new Set(resolution.images.map((i) => i.parsed.registry))];
  }),
);

test.after(
  loudHook('teardown', async (context) => {
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
    });
    assert.is.not(result.code, 0);
    assert.match(result.stderr, 'ensure CRDs are installed first');
  } finally {
    await double.stop();
  }
});

test('build → verify → install.sh ends with every Deployment, StatefulSet and DaemonSet Available', async ({ env, work, manifests, registries }) => {
  const bundle = join(work.path, 'bundle');
  const mirrors = registries.flatMap((registry) => ['--mirror', `${registry}=${env.registry}/${registry}`]);
  const built = await runKfbundle(['build', '--manifests', manifests, '--spec', SPEC, '--out', bundle, '--docker-host', env.builderHost, '--no-progress', '--concurrency', '4', ...mirrors]);
  assert.is(built.code, 0, built.stderr.slice(-3000));
  const verified = await runKfbundle(['verify', bundle]);
  assert.is(verified.code, 0, verified.stderr);

  const target = dockerFor(env.targetHost);
  const double = new ApiServerDouble({ hasImage: (ref) => target.getImage(ref).inspect().then(() => true, () => false) });
  await double.start();
  try {
    const result = await runCommand('bash', [join(bundle, 'install.sh'), '--timeout', '120', '--retry-delay', '2'], {
      env: { KUBECONFIG: await writeKubeconfig(work.path, double.url), HOME: join(work.path, 'home'), DOCKER_HOST: env.targetHost },
    });
    const workloads = ['Deployment', 'StatefulSet', 'DaemonSet'].flatMap((kind) => double.list(kind));
    const unavailable = workloads.filter((w) => !double.isAvailable(w)).map((w) => `${w['kind']}/${w['metadata']['namespace']}/${w['metadata']['name']}: ${w['status']?.['conditions']?.[0]?.['message']}`);
    assert.is(result.code, 0, `${result.stdout.slice(-4000)}\n${result.stderr.slice(-3000)}\nunavailable: ${unavailable.join('\n')}`);
    assert.ok(workloads.length >= 45, `workloads applied: ${workloads.length}`);
    assert.equal(unavailable, []);
    assert.not.match(result.stdout, 'apply failed', 'no phase needed a retry');
    assert.match(result.stdout, 'ensuring namespace kubeflow labelled istio-injection=enabled');
    assert.is(double.get('Namespace', undefined, 'kubeflow')!['metadata']['labels']['istio-injection'], 'enabled');
    assert.is(double.get('Namespace', undefined, 'kubeflow')!['metadata']['labels']['control-plane'], 'kubeflow', 'labelling kept the other labels');
    if (process.env['KFB_SHOW_INSTALL'] === '1') console.log(result.stdout);
  } finally {
    await double.stop();
  }
});

test.run();
