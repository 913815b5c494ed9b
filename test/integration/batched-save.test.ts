// Saves in batches on a real engine: nine images sharing busybox's layer go into two `docker save` runs, merged into
// one archive that holds the same entries as a single save, each once, loads into Docker and containerd, and comes
// out byte-identical from another engine.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { dockerFor, pushStandIns, type StandIn } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  standIns: StandIn[];
  rendered: string;
}

const test = suite<Context>('batched save on real engines');

const REFS = [
  'ghcr.io/kubeflow/kfp-api-server:2.5.0-batch',
  'ghcr.io/kubeflow/kfp-persistence-agent:2.5.0-batch',
  'ghcr.io/kubeflow/kfp-scheduled-workflow-controller:2.5.0-batch',
  'ghcr.io/kubeflow/kfp-frontend:2.5.0-batch',
  'ghcr.io/kubeflow/kfp-launcher:2.5.0-batch',
  'ghcr.io/kubeflow/kfp-driver:2.5.0-batch',
  'ghcr.io/kubeflow/katib/katib-controller:v0.18.0-batch',
  'quay.io/jetstack/cert-manager-webhook:v1.16.1-batch',
  'docker.io/istio/pilot:1.26.1-batch',
];

const mirrorArgs = (env: TestEnv) => ['gcr.io', 'ghcr.io', 'quay.io', 'docker.io'].flatMap((host) => ['--mirror', `${host}=${env.registry}/${host}`]);

async function entryNames(archive: string): Promise<string[]> {
  const listed = await runCommand('tar', ['-tf', archive]);
  assert.is(listed.code, 0, listed.stderr);
  return listed.stdout.trim().split('\n');
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    context.standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, REFS, { layers: 1, layerBytes: 256 * 1024 });
    context.rendered = join(context.work.path, 'rendered.yaml');
    await writeFile(
      context.rendered,
      context.standIns.map((standIn, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${standIn.ref}"}\n`)).join('---\n'),
    );
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('two saves merge into the archive one save would give; it loads everywhere; another engine writes the same bytes', async (context) => {
  const build = (out: string, host: string) =>
    runKfbundle(['build', '--no-seed-registry', '--manifests', context.rendered, '--out', out, '--source', 'engine', '--docker-host', host, '--no-progress', ...mirrorArgs(context.env)]);
  const bundle = join(context.work.path, 'bundle');
  const built = await build(bundle, context.env.builderHost);
  assert.is(built.code, 0, built.stderr);
  assert.match(built.stderr, `save: ${REFS.length} images in 2 batches`);
  const metadata = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
  const bundleRefs = metadata.images.map((image) => image.bundleRef);
  assert.is(bundleRefs.length, REFS.length);

  // The same entries as one `docker save` of all nine, none twice; busybox's layer is in both batches' saves.
  const archive = join(bundle, 'images/images.tar');
  const merged = await entryNames(archive);
  assert.equal(merged.filter((name, index) => merged.indexOf(name) !== index), [], 'no entry twice');
  const single = join(context.work.path, 'single.tar');
  const saved = await runCommand('docker', ['--host', context.env.builderHost, 'save', '-o', single, ...bundleRefs]);
  assert.is(saved.code, 0, saved.stderr);
  assert.equal([...merged].sort(), (await entryNames(single)).sort());
  const tagsIn = async (file: string) =>
    (JSON.parse((await runCommand('tar', ['-xOf', file, 'manifest.json'])).stdout) as { RepoTags: string[] }[]).flatMap((entry) => entry.RepoTags).sort();
  const tags = await tagsIn(archive);
  assert.is(tags.length, REFS.length);
  assert.equal(tags, await tagsIn(single));

  for (const runtime of ['docker', 'containerd']) {
    const installed = await runCommand('bash', [join(bundle, 'install.sh'), '--images-only', '--runtime', runtime], {
      env: { CONTAINERD_ADDRESS: context.env.containerdAddress, DOCKER_HOST: context.env.targetHost },
    });
    assert.is(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, `all ${REFS.length} images present in ${runtime}`);
  }
  const target = dockerFor(context.env.targetHost);
  for (const image of metadata.images) assert.is((await target.getImage(image.bundleRef).inspect()).Id, image.imageId);
  for (const image of metadata.images) await target.getImage(image.bundleRef).remove({ force: true });

  const other = join(context.work.path, 'other');
  const again = await build(other, context.env.targetHost);
  assert.is(again.code, 0, again.stderr);
  assert.is(await readFile(join(other, 'SHA256SUMS'), 'utf8'), await readFile(join(bundle, 'SHA256SUMS'), 'utf8'));
  for (const standIn of context.standIns) {
    for (const host of [context.env.builderHost, context.env.targetHost]) {
      for (const name of [standIn.ref, standIn.pushedAs]) await dockerFor(host).getImage(name).remove({ force: true }).catch(() => undefined);
    }
  }
});

test.run();
