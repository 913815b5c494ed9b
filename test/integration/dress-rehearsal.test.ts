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
/** Named by the bundle spec only: training-operator's compiled-in init container image. */
const SPEC_REFS = ['alpine:3.10'];

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
    const byName = new Map([...fields, ...HIDDEN_REFS, ...SPEC_REFS].map((ref) => [normalised(ref), ref]));
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

test('build → verify → install.sh ends with every Deployment, StatefulSet and DaemonSet Available', async ({ env, work, manifests, registries }) => {
  const bundle = join(work.path, 'bundle');
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
  for (const ref of [...HIDDEN_REFS, ...SPEC_REFS]) assert.ok(bundled.has(normalised(ref)), `the bundle holds ${ref}`);

  const target = dockerFor(env.targetHost);
  const double = new ApiServerDouble({ hasImage: (ref) => target.getImage(ref).inspect().then(() => true, () => false) });
  await double.start();
  try {
    const result = await runCommand('bash', [join(bundle, 'install.sh'), '--timeout', '120', '--retry-delay', '2'], {
      env: { KUBECONFIG: await writeKubeconfig(work.path, double.url), HOME: join(work.path, 'home'), DOCKER_HOST: env.targetHost },
      timeoutMs: 1_200_000,
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
