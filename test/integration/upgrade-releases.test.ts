// The upgrade the issue names, on the real releases: every image v1.10.2 and v1.11.0 bundle by default gets a small
// stand-in under its real name (one per reference, so the images the releases share are the same stand-ins; all of
// them on one busybox layer, as real images share base layers); their digest pins are rewritten to the stand-ins', in
// this test's own copies of the two rendered.yaml files. A full bundle of v1.10.2 is the base; a delta of v1.11.0 on it
// is much smaller than the full v1.11.0 bundle, is refused by an empty node naming the base images it relies on, and
// on a node holding the base's images leaves every reference of v1.11.0 resolvable, with the IDs it records.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { formatImageRef, parseImageRef } from '../../src/core/image-ref.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { readRendered, type Release } from '../helpers/fixtures.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  rendered: Record<'old' | 'new', string>;
  mirrors: string[];
  refs: string[];
  base: string;
  full: string;
  delta: string;
}

const test = suite<Context>('upgrade v1.10.2 → v1.11.0 with a delta bundle');
const INSTALL_MS = 300_000;

/** What a default build of the release bundles, as `kfbundle images` lists it. */
async function bundledRefs(path: string): Promise<string[]> {
  const listed = await runKfbundle(['images', '--manifests', path, '--json']);
  assert.is(listed.code, 0, listed.stderr);
  return (JSON.parse(listed.stdout) as { images: { ref: string; included: boolean }[] }).images.filter((image) => image.included).map((image) => image.ref);
}

async function clearTarget(context: Context): Promise<void> {
  const target = dockerFor(context.env.targetHost);
  const names = new Set(context.refs.map((ref) => formatImageRef({ ...parseImageRef(ref), digest: undefined, tag: undefined })));
  for (const image of await target.listImages()) {
    if ((image.RepoTags ?? []).some((tag) => names.has(tag.slice(0, tag.lastIndexOf(':'))))) await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  }
}

const metadataOf = async (bundle: string) => JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
const archiveBytes = (metadata: BundleMetadata) => metadata.imageArchives.reduce((sum, archive) => sum + archive.size, 0);

function build(context: Context, release: 'old' | 'new', out: string, extra: string[] = []) {
  return runKfbundle(['build', '--no-seed-registry', '--manifests', context.rendered[release], '--out', out, '--cache', join(context.work.path, 'cache'), '--no-progress', ...context.mirrors, ...extra]);
}

function install(context: Context, bundle: string) {
  return runCommand('bash', [join(bundle, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost }, timeoutMs: INSTALL_MS });
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-upgrade-releases-');
    const releases: Record<'old' | 'new', Release> = { old: 'v1.10.2', new: 'v1.11.0' };
    const texts: Record<'old' | 'new', string> = { old: await readRendered(releases.old), new: await readRendered(releases.new) };
    const lists: Record<'old' | 'new', string[]> = { old: [], new: [] };
    for (const side of ['old', 'new'] as const) {
      const path = join(context.work.path, `${releases[side]}.yaml`);
      await writeFile(path, texts[side]);
      lists[side] = await bundledRefs(path);
    }
    const shared = lists.new.filter((ref) => lists.old.includes(ref));
    assert.ok(shared.length >= 10 && shared.length < lists.new.length - 10, `${shared.length} shared of ${lists.new.length}`);
    context.refs = [...new Set([...lists.old, ...lists.new])];
    const standIns = await pushStandIns(dockerFor(context.env.builderHost), context.env.registry, context.refs, { layerBytes: 4096 });
    context.rendered = { old: '', new: '' };
    for (const side of ['old', 'new'] as const) {
      let text = texts[side];
      context.refs.forEach((ref, index) => {
        const pinned = parseImageRef(ref).digest;
        if (pinned !== undefined) text = text.replaceAll(pinned, standIns[index]!.digest);
      });
      context.rendered[side] = join(context.work.path, `${releases[side]}-stand-ins.yaml`);
      await writeFile(context.rendered[side], text);
    }
    const registries = [...new Set(context.refs.map((ref) => parseImageRef(ref).registry))];
    context.mirrors = registries.flatMap((registry) => ['--mirror', `${registry}=${context.env.registry}/${registry}`]);
    context.base = join(context.work.path, 'base-v1.10.2');
    context.full = join(context.work.path, 'full-v1.11.0');
    context.delta = join(context.work.path, 'delta-v1.11.0');
    for (const [release, out, extra] of [['old', context.base, []], ['new', context.full, []], ['new', context.delta, ['--since', context.base]]] as const) {
      const built = await build(context, release, out, [...extra]);
      assert.is(built.code, 0, built.stderr);
    }
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    if (context.env !== undefined && context.refs !== undefined) await clearTarget(context);
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the delta of v1.11.0 on v1.10.2 is much smaller than the full bundle, and takes the shared images from the base', async (context) => {
  const [base, full, delta] = await Promise.all([metadataOf(context.base), metadataOf(context.full), metadataOf(context.delta)]);
  // Here most bytes are the busybox layer every stand-in shares; a real release's images share their base OS layers so.
  const ratio = archiveBytes(delta) / archiveBytes(full);
  assert.ok(ratio < 0.5, `the delta's archives are ${ratio.toFixed(2)} of the full bundle's`);
  const common = base.images[0]!.layers![0]!;
  assert.ok(base.images.every((image) => image.layers![0] === common), 'one base layer under every stand-in');
  const blobs = async (bundle: string) => (await readFile(join(bundle, 'images/push.txt'), 'utf8')).split('\n').filter((line) => line.startsWith('blob\t')).map((line) => line.split('\t')[4]);
  assert.ok((await blobs(context.full)).includes(common));
  assert.not.ok((await blobs(context.delta)).includes(common), 'the base layer the base brought is not carried again');
  const shared = full.images.filter((image) => base.images.some((old) => old.ref === image.ref)).map((image) => image.bundleRef);
  assert.equal(delta.base!.taken, [...new Set(shared)].sort(), 'every image the releases share, and only those');
  assert.equal([...new Set(delta.images.map((image) => image.ref))].sort(), [...new Set(full.images.map((image) => image.ref))].sort());
  assert.is((await runKfbundle(['verify', context.delta])).code, 0);
});

test('an empty node refuses the delta, naming base images; after the base every reference of v1.11.0 resolves', async (context) => {
  await clearTarget(context);
  const refused = await install(context, context.delta);
  assert.is.not(refused.code, 0);
  const delta = await metadataOf(context.delta);
  const someShared = delta.base!.taken[0]!;
  assert.match(refused.stderr, /this is a delta bundle on release v1\.10\.2-stand-ins\.yaml \(bundle [0-9a-f]{12}\)/, refused.stderr);
  assert.ok(refused.stderr.includes(`${someShared} (sha256:`), `names ${someShared}`);
  assert.match(refused.stderr, /nothing was loaded/);

  const base = await install(context, context.base);
  assert.is(base.code, 0, base.stderr);
  const loaded = await install(context, context.delta);
  assert.is(loaded.code, 0, loaded.stderr);
  const target = dockerFor(context.env.targetHost);
  for (const image of delta.images) assert.is((await target.getImage(image.bundleRef).inspect()).Id, image.imageId, image.bundleRef);
});

test.run();
