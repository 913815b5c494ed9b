// Upgrades and add-ons on real engines and registries. Delta bundles: A base release of images that share a base layer (as Kubeflow's do)
// is bundled whole; the next release keeps one image, renames one of identical content, changes one on the same base
// layer, and adds two, one of them in a new repository on the same base. `build --since` carries only what the base
// lacks; install.sh refuses an empty node or registry naming the base images it relies on, and on a node or a registry
// that holds the base every reference of the new release resolves, with the image IDs the new bundle records.
// `kfbundle diff` of the two full bundles says what changed and what the delta saves. An add-on bundle of images alone
// (`--image`, `--image-list`) is signed, verified, loaded and pushed by the same installer, which applies nothing.

import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import type { BundleDiff } from '../../src/core/bundle-diff.js';
import { runCommand, runKfbundle } from '../helpers/cli.js';
import { buildAndPush } from '../helpers/layered-images.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { fetchRegistryImage, putManifest } from '../helpers/registry-blobs.js';
import { dockerFor } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  ns: string;
  base: string;
  full: string;
  delta: string;
}

const test = suite<Context>('upgrades: delta bundles, diff, add-ons');
const INSTALL_MS = 180_000;

const names = (ns: string) => ({
  api: `gcr.io/${ns}/api:1`,
  ui1: `gcr.io/${ns}/ui:1`,
  ui2: `gcr.io/${ns}/ui:2`,
  db: `docker.io/${ns}/db:1`,
  dbRenamed: `docker.io/${ns}/db:1-renamed`,
  fresh: `ghcr.io/${ns}/fresh:1`,
  worker: `gcr.io/${ns}/worker:1`,
});

async function release(dir: string, name: string, refs: readonly string[]): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, refs.map((ref, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${ref}"}\n`)).join('---\n'));
  return path;
}

/** `build` through the mirrors into `out`, with no manifests unless `extra` names some. */
function buildArgs(context: Context, out: string, extra: string[]): string[] {
  const { env, ns, work } = context;
  const mirrors = ['gcr.io', 'docker.io', 'ghcr.io'].flatMap((host) => ['--mirror', `${host}=${env.registry}/${ns}/${host}`]);
  return ['build', '--no-seed-registry', '--out', out, '--cache', join(work.path, 'cache'), '--no-progress', ...mirrors, ...extra];
}

function build(context: Context, manifests: string, out: string, extra: string[] = []) {
  return runKfbundle(buildArgs(context, out, ['--manifests', manifests, ...extra]));
}

const metadataOf = async (bundle: string) => JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as BundleMetadata;
const archiveBytes = (metadata: BundleMetadata) => metadata.imageArchives.reduce((sum, archive) => sum + archive.size, 0);
const pushLines = async (bundle: string, kind: string) =>
  (await readFile(join(bundle, 'images/push.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith(`${kind}\t`))
    .map((line) => line.split('\t'));

async function clearTarget(context: Context): Promise<void> {
  const target = dockerFor(context.env.targetHost);
  for (const image of await target.listImages()) {
    if ((image.RepoTags ?? []).some((tag) => tag.includes(`/${context.ns}/`))) await target.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  }
}

function install(context: Context, bundle: string, extra: string[]) {
  return runCommand('bash', [join(bundle, 'install.sh'), '--images-only', ...extra], { env: { DOCKER_HOST: context.env.targetHost, HOME: context.work.path }, timeoutMs: INSTALL_MS });
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-delta-');
    context.ns = `kfbdelta-${randomBytes(4).toString('hex')}`;
    const { env, ns, work } = context;
    const src = `${env.registry}/${ns}`;
    const n = names(ns);
    await buildAndPush(env, `${src}/gcr.io/${ns}/common:1`, undefined, 400_000, work.path);
    for (const ref of [n.api, n.ui1, n.ui2, n.worker]) await buildAndPush(env, `${src}/${ref}`, `${src}/gcr.io/${ns}/common:1`, 300_000, work.path);
    for (const ref of [n.db, n.fresh]) await buildAndPush(env, `${src}/${ref}`, undefined, 300_000, work.path);
    // The same image under a new tag: its manifest, byte for byte.
    const db = await fetchRegistryImage(`${src}/${n.db}`);
    await putManifest(`${src}/docker.io/${ns}/db`, '1-renamed', db.manifestBytes, db.manifestMediaType);

    const old = await release(work.path, 'old', [n.api, n.ui1, n.db]);
    const next = await release(work.path, 'next', [n.api, n.ui2, n.dbRenamed, n.fresh, n.worker]);
    context.base = join(work.path, 'base');
    context.full = join(work.path, 'full');
    context.delta = join(work.path, 'delta');
    for (const [manifests, out, extra] of [[old, context.base, []], [next, context.full, []], [next, context.delta, ['--since', context.base]]] as const) {
      const built = await build(context, manifests, out, [...extra]);
      assert.is(built.code, 0, built.stderr);
    }
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    if (context.env !== undefined) await clearTarget(context);
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the delta carries only what the base lacks, compared by content, and says what it relies on', async (context) => {
  const n = names(context.ns);
  const [base, full, delta] = await Promise.all([metadataOf(context.base), metadataOf(context.full), metadataOf(context.delta)]);
  assert.is(delta.base!.contentDigest, base.contentDigest);
  assert.equal(delta.base!.taken, [n.dbRenamed, n.api].sort(), 'the unchanged image, and the renamed one of identical content');
  // The manifests are the full release's: every image is named, the archives hold every reference.
  assert.equal(delta.images.map((image) => image.ref).sort(), full.images.map((image) => image.ref).sort());
  assert.equal(delta.imageArchives.flatMap((archive) => archive.refs).sort(), full.imageArchives.flatMap((archive) => archive.refs).sort());
  assert.is((await runKfbundle(['verify', context.delta])).code, 0);
  const inspected = await runKfbundle(['inspect', context.delta]);
  assert.match(inspected.stdout, /base       a delta on release old\.yaml \(bundle [0-9a-f]{12}\): 2 images are its own, and the target needs \d+ of its images \(images\/base\.txt\)/);

  // No layer of the base is in the delta's archives; each is a base line naming where the registry has it.
  const baseLayers = new Set(base.images.flatMap((image) => image.layers ?? []));
  assert.ok(baseLayers.size >= 4);
  const carried = (await pushLines(context.delta, 'blob')).map((line) => line[4]!);
  assert.equal(carried.filter((digest) => baseLayers.has(digest)), [], 'no base layer carried');
  const based = await pushLines(context.delta, 'base');
  assert.ok(based.length > 0 && based.every((line) => baseLayers.has(line[4]!)));
  const common = based.find((line) => line[5]!.split(' ').includes(`gcr.io/${context.ns}/worker`))!;
  assert.ok(common[5]!.split(' ').includes(`gcr.io/${context.ns}/api`), 'a new repository mounts the base layer from a base one');

  const ratio = archiveBytes(delta) / archiveBytes(full);
  assert.ok(ratio < 0.5, `the delta is ${ratio.toFixed(2)} of the full bundle`);
  const uses = await readFile(join(context.delta, 'images/base.txt'), 'utf8');
  for (const ref of [n.api, n.db]) assert.match(uses, `\t${ref}\tsame\n`);
  assert.match(uses, `\t${n.api}\t`);
});

test('kfbundle diff of the base and the full bundle: the changes, and what a delta leaves out', async (context) => {
  const n = names(context.ns);
  const diffed = await runKfbundle(['diff', context.base, context.full, '--json']);
  assert.is(diffed.code, 0, diffed.stderr);
  const diff = JSON.parse(diffed.stdout) as BundleDiff;
  assert.equal(diff.images.added.map((image) => image.ref), [n.fresh, n.worker].sort());
  assert.equal(diff.images.removed, []);
  assert.equal(diff.images.changed.map((change) => `${change.from.ref} -> ${change.to.ref}`).sort(), [`${n.db} -> ${n.dbRenamed}`, `${n.ui1} -> ${n.ui2}`].sort());
  assert.is(diff.images.unchanged, 1);
  // Exactly the full bundle's blobs that the base brought.
  const base = await metadataOf(context.base);
  const baseLayers = new Set(base.images.flatMap((image) => image.layers ?? []));
  const blobs = await pushLines(context.full, 'blob');
  const saved = blobs.filter((line) => baseLayers.has(line[4]!)).reduce((sum, line) => sum + Number(line[3]), 0);
  assert.ok(saved > 0);
  assert.equal(diff.delta, { bytes: blobs.reduce((sum, line) => sum + Number(line[3]), 0), saved });
  const text = await runKfbundle(['diff', context.base, context.full]);
  assert.match(text.stdout, /delta      a delta of the second on the first \(kfbundle build --since\) leaves out [0-9.]+ \w+ of [0-9.]+ \w+ of image blobs/);
});

test('onto a node without the base it is refused before loading, naming the base images; with the base every reference resolves', async (context) => {
  const n = names(context.ns);
  await clearTarget(context);
  const target = dockerFor(context.env.targetHost);
  const refused = await install(context, context.delta, ['--runtime', 'docker']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /this is a delta bundle on release old\.yaml \(bundle [0-9a-f]{12}\)/, refused.stderr);
  assert.match(refused.stderr, new RegExp(`are not in docker on this node: .*${n.api.replace(/[.]/g, '\\.')} \\(sha256:[0-9a-f]{64}\\)`));
  assert.match(refused.stderr, /install the base bundle's images first .*nothing was loaded/);
  assert.not.ok(await target.getImage(n.fresh).inspect().then(() => true, () => false), 'nothing was loaded');

  const base = await install(context, context.base, ['--runtime', 'docker']);
  assert.is(base.code, 0, base.stderr);
  const loaded = await install(context, context.delta, ['--runtime', 'docker']);
  assert.is(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, /a delta bundle on .*: the \d+ base images it relies on are in docker on this node/);
  for (const image of (await metadataOf(context.delta)).images) {
    assert.is((await target.getImage(image.bundleRef).inspect()).Id, image.imageId, image.bundleRef);
  }
});

test('pushed to a registry without the base it stops naming the base; after the base, every reference resolves', async (context) => {
  const registry = `${context.env.secondRegistry}/${context.ns}-pushed`;
  const refused = await install(context, context.delta, ['--registry', registry, '--push-with', 'ctr']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /--push-with ctr: this is a delta bundle on .*pushed with --push-with http/, refused.stderr);
  const empty = await install(context, context.delta, ['--registry', registry]);
  assert.is.not(empty.code, 0);
  assert.match(empty.stderr, /has no blob sha256:[0-9a-f]{64} \(for [^)]+\), a layer of the base bundle .*: push the base bundle there first \(its install\.sh --images-only --registry /, empty.stderr);
  assert.match(empty.stderr, /nothing of this bundle was sent/);
  // Checked before a byte of the delta's own went: not one of its blobs is in the registry.
  const [host, ...prefix] = registry.split('/');
  for (const line of await pushLines(context.delta, 'blob')) {
    const repository = line[5]!.split(' ')[0]!;
    const head = await fetch(`http://${host}/v2/${[...prefix, repository].join('/')}/blobs/${line[4]}`, { method: 'HEAD' });
    assert.is(head.status, 404, `${repository}@${line[4]} was not sent`);
  }

  const base = await install(context, context.base, ['--registry', registry, '--push-with', 'http']);
  assert.is(base.code, 0, base.stderr);
  const pushed = await install(context, context.delta, ['--registry', registry]);
  assert.is(pushed.code, 0, pushed.stderr);
  await clearTarget(context);
  for (const image of (await metadataOf(context.delta)).images) {
    const ref = `${registry}/${image.bundleRef}`;
    const pulled = await runCommand('docker', ['--host', context.env.targetHost, 'pull', '-q', ref], { timeoutMs: 60_000 });
    assert.is(pulled.code, 0, `${ref}: ${pulled.stderr}`);
    assert.is((await dockerFor(context.env.targetHost).getImage(ref).inspect()).Id, image.imageId, ref);
  }
});

test('an add-on bundle of --image and --image-list: signed, verified, loaded and pushed by its installer, nothing applied', async (context) => {
  const n = names(context.ns);
  const { work } = context;
  const list = join(work.path, 'pipeline-images.txt');
  await writeFile(list, `# images a pipeline pulls at run time\n${n.fresh}\n\n${n.worker}  # its worker\n`);
  const keys = await runKfbundle(['keygen', '--private', join(work.path, 'team.key'), '--public', join(work.path, 'team.pub')]);
  assert.is(keys.code, 0, keys.stderr);
  const out = join(work.path, 'addon');
  const addOn = await runKfbundle(buildArgs(context, out, ['--image-list', list, '--image', n.api, '--sign', join(work.path, 'team.key')]));
  assert.is(addOn.code, 0, addOn.stderr);
  const metadata = await metadataOf(out);
  assert.is(metadata.input.kind, 'images');
  assert.equal(metadata.images.map((image) => image.ref).sort(), [n.api, n.fresh, n.worker].sort());
  assert.is(metadata.plan.phases.length, 0);
  assert.is((await runKfbundle(['verify', out, '--key', join(work.path, 'team.pub')])).code, 0);

  await clearTarget(context);
  const installed = await runCommand('bash', [join(out, 'install.sh'), '--key', join(work.path, 'team.pub'), '--runtime', 'docker'], { env: { DOCKER_HOST: context.env.targetHost, HOME: work.path }, timeoutMs: INSTALL_MS });
  assert.is(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /no manifests in this bundle \(images only\): nothing to apply/);
  for (const image of metadata.images) assert.is((await dockerFor(context.env.targetHost).getImage(image.bundleRef).inspect()).Id, image.imageId, image.bundleRef);
  const registry = `${context.env.secondRegistry}/${context.ns}-addon`;
  const pushed = await install(context, out, ['--registry', registry, '--push-with', 'http']);
  assert.is(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /all 3 images pushed to/);

  // Beside a release, an --image is bundled whatever the tiers; a bad line names its file and line.
  const next = join(work.path, 'next.yaml');
  const beside = await build(context, next, join(work.path, 'beside'), ['--image', n.db, '--tiers', 'install']);
  assert.is(beside.code, 0, beside.stderr);
  assert.ok((await metadataOf(join(work.path, 'beside'))).images.some((image) => image.ref === n.db));
  await writeFile(list, `${n.fresh}\nNot A Reference\n`);
  const bad = await runKfbundle(buildArgs(context, join(work.path, 'bad-list'), ['--image-list', list]));
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /pipeline-images\.txt line 2: invalid image reference "Not A Reference"/);
});

test('--since refuses what cannot be a base, and an engine build', async (context) => {
  const next = join(context.work.path, 'next.yaml');
  const bad = await build(context, next, join(context.work.path, 'bad'), ['--since', next]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--since .*next\.yaml: not valid JSON/);
  const engine = await build(context, next, join(context.work.path, 'engine'), ['--since', context.base, '--source', 'engine', '--docker-host', context.env.builderHost]);
  assert.is(engine.code, 2);
  assert.match(engine.stderr, /--since: a delta bundle is built from registries/);
});

test.run();
