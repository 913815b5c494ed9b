// Registries as they behave from inside China: throttled (429), failing (5xx), refusing access, and mirrors that lack
// an image or serve another one under the same name. A fault-injecting proxy sits in front of the local registry;
// a second registry plays the second mirror. Every case runs for both image sources: straight from the registries
// (the default) and through the Docker engine.

import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleMetadata } from '../../src/core/bundle-layout.js';
import { runKfbundle } from '../helpers/cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { buildSyntheticImage, dockerFor, pushImage, pushStandIns, type StandIn } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  onFirst: StandIn[];
  onSecond: StandIn[];
  origin: { ref: string; imageId: string; digest: string };
}

const test = suite<Context>('registry faults and mirror chains');

const THROTTLED = 'gcr.io/faults/throttled:1';
const DENIED = 'gcr.io/faults/denied:1';
const FINE = 'gcr.io/faults/fine:1';
const SLOW = 'gcr.io/faults/a-slow:1';
const QUICK = ['gcr.io/faults/quick-1:1', 'gcr.io/faults/quick-2:1', 'gcr.io/faults/quick-3:1'];
const ONLY_ON_SECOND = 'gcr.io/chain/only-on-second:1';
const PINNED_ON_SECOND = 'gcr.io/chain/pinned@sha256:0000000000000000000000000000000000000000000000000000000000000000';

const registryError = (code: string, message: string) => JSON.stringify({ errors: [{ code, message, detail: null }] });

type Source = 'registry' | 'engine';
const SOURCES: readonly Source[] = ['registry', 'engine'];

async function build(context: Context, source: Source, name: string, refs: readonly string[], mirrors: string[]) {
  const manifests = join(context.work.path, `${name}-${source}.yaml`);
  await writeFile(manifests, refs.map((ref, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${ref}"}\n`)).join('---\n'));
  const out = join(context.work.path, `${name}-${source}`);
  const sourceArgs = source === 'engine' ? ['--source', 'engine', '--docker-host', context.env.builderHost] : ['--cache', join(context.work.path, `cache-${name}`)];
  const result = await runKfbundle([
    'build', '--no-seed-registry', '--manifests', manifests, '--out', out, ...sourceArgs, '--no-progress', '--attempts', '4',
    ...mirrors.flatMap((mirror) => ['--mirror', mirror]),
  ]);
  const metadata = result.code === 0 ? (JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')) as BundleMetadata) : undefined;
  return { ...result, out, metadata };
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    const docker = dockerFor(context.env.builderHost);
    context.onFirst = await pushStandIns(docker, context.env.registry, [THROTTLED, DENIED, FINE, SLOW, ...QUICK]);
    context.onSecond = await pushStandIns(docker, context.env.secondRegistry, [ONLY_ON_SECOND, PINNED_ON_SECOND]);
    // An image whose origin is the first registry, and another image under the same name on the second.
    const ref = `${context.env.registry}/team/origin-app:1`;
    const imageId = await buildSyntheticImage(docker, ref);
    const digest = await pushImage(docker, ref);
    const impostor = `${context.env.secondRegistry}/mirror/team/origin-app:1`;
    await buildSyntheticImage(docker, impostor);
    await pushImage(docker, impostor);
    for (const name of [ref, impostor]) await docker.getImage(name).remove({ force: true });
    context.origin = { ref, imageId, digest };
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.work?.remove();
    await context.env?.release();
  }),
);

for (const source of SOURCES) {
  test(`429 and 503 from the registry are retried with backoff, and the pull then succeeds (${source})`, async (context) => {
    // GET only: the engine falls back from a failed HEAD to a GET within one pull, so a HEAD fault is not a failed pull.
    // The registry source retries a request once itself before the pull counts as failed, so it reports fewer pull
    // retries for the same faults; and its estimate asks for the manifest first (two requests, both 429), so it
    // meets two more.
    const manifests = /^GET \/v2\/gcr\.io\/faults\/throttled\/manifests\//;
    const throttled = source === 'registry' ? 4 : 2;
    const proxy = new FaultProxy(context.env.registry, [
      { match: manifests, status: 429, body: registryError('TOOMANYREQUESTS', 'rate limit exceeded'), times: throttled },
      { match: manifests, status: 503, body: 'upstream unavailable', times: 1 },
    ]);
    const address = await proxy.start();
    try {
      const result = await build(context, source, 'throttled', [THROTTLED], [`gcr.io=${address}/gcr.io`]);
      assert.is(result.code, 0, result.stderr);
      assert.is(proxy.matching(manifests).filter((request) => request.fault).length, throttled + 1, 'every fault was served');
      if (source === 'registry') assert.match(result.stderr, `1 more not known before pulling (${THROTTLED})`, 'the estimate does not wait for a refusal');
      assert.match(result.stderr, `retry ${THROTTLED} (attempt 2)`);
      if (source === 'engine') {
        assert.match(result.stderr, `retry ${THROTTLED} (attempt 3)`);
        assert.match(result.stderr, `retry ${THROTTLED} (attempt 4)`);
      }
      const image = result.metadata!.images[0]!;
      assert.is(image.imageId, context.onFirst.find((s) => s.ref === THROTTLED)!.imageId);
      assert.is(image.pulledFrom, `${address}/${THROTTLED}`);
    } finally {
      await proxy.stop();
    }
  });

  test(`access denied is not retried: the build names the image, still pulls the others, and writes nothing (${source})`, async (context) => {
    const denied = /^(GET|HEAD) \/v2\/gcr\.io\/faults\/denied\/manifests\//;
    const proxy = new FaultProxy(context.env.registry, [
      { match: denied, status: 403, body: registryError('DENIED', 'requested access to the resource is denied'), times: Infinity },
    ]);
    const address = await proxy.start();
    try {
      const result = await build(context, source, 'denied', [DENIED, FINE], [`gcr.io=${address}/gcr.io`]);
      assert.is(result.code, 5, result.stderr);
      assert.match(result.stderr, `1 of 2 images could not be pulled`);
      assert.match(result.stderr, new RegExp(`${DENIED.replace(/[.]/g, '\\.')}: .*denied`));
      assert.not.match(result.stderr, `retry ${DENIED}`, 'a refusal is final');
      assert.ok(proxy.matching(denied).length <= 2, `${proxy.matching(denied).length} requests for the denied image`);
      assert.match(result.stderr, `pulled ${FINE}`);
      assert.not.ok((await readdir(context.work.path)).includes(`denied-${source}`));
    } finally {
      await proxy.stop();
    }
  });

  test(`a slow pull does not stall the others: with two at a time, the quick images finish while it waits (${source})`, async (context) => {
    const slow = /^GET \/v2\/gcr\.io\/faults\/a-slow\/manifests\//;
    const proxy = new FaultProxy(context.env.registry, [{ match: slow, status: 0, delayMs: 5000, body: '', times: Infinity }]);
    const address = await proxy.start();
    try {
      const result = await build(context, source, 'slow', [SLOW, ...QUICK], [`gcr.io=${address}/gcr.io`]);
      assert.is(result.code, 0, result.stderr);
      const order = [...result.stderr.matchAll(/pulled (\S+)/g)].map((match) => match[1]);
      assert.equal(order, [...QUICK, SLOW], result.stderr);
    } finally {
      await proxy.stop();
    }
  });

  test(`a mirror chain: the first mirror lacks the image, the second serves it; bundle.json records which (${source})`, async (context) => {
    const { registry, secondRegistry } = context.env;
    const pinned = context.onSecond.find((s) => s.ref.startsWith('gcr.io/chain/pinned@'))!;
    const result = await build(context, source, 'chain', [ONLY_ON_SECOND, pinned.ref], [`gcr.io=${registry}/gcr.io,${secondRegistry}/gcr.io`]);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stderr, `source failed for ${ONLY_ON_SECOND}: ${registry}/${ONLY_ON_SECOND}`);
    const byRef = new Map(result.metadata!.images.map((image) => [image.ref, image]));
    assert.is(byRef.get(ONLY_ON_SECOND)!.pulledFrom, `${secondRegistry}/${ONLY_ON_SECOND}`);
    const pinnedImage = byRef.get(pinned.ref)!;
    assert.ok(pinnedImage.pulledFrom.startsWith(`${secondRegistry}/gcr.io/chain/pinned@`), pinnedImage.pulledFrom);
    assert.is(pinnedImage.digest, pinned.digest);
    assert.is(pinnedImage.imageId, pinned.imageId);
  });

  test(`a mirror serving another image under the same name is refused when the origin answers; the origin serves it (${source})`, async (context) => {
    const { registry, secondRegistry } = context.env;
    const result = await build(context, source, 'impostor', [context.origin.ref], [`${registry}=${secondRegistry}/mirror`]);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stderr, `source failed for ${context.origin.ref}: ${secondRegistry}/mirror/team/origin-app:1: served sha256:`);
    assert.match(result.stderr, `not the origin's ${context.origin.digest}`);
    const image = result.metadata!.images[0]!;
    assert.is(image.pulledFrom, context.origin.ref);
    assert.is(image.digest, context.origin.digest);
    assert.is(image.imageId, context.origin.imageId);
  });
}

test.run();
