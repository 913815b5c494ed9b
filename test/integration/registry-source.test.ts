// `kfbundle build` straight from registries (the default source): no Docker engine on the build machine, layers kept
// as the registry serves them, every image loading into Docker and containerd with the ID and digest a pull gives,
// half the size of the engine path's archive or less, and a blob cache that makes a rerun download nothing.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILD_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { buildCompressibleImage } from '../helpers/compressible-images.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { dockerFor, pushImage } from '../helpers/synthetic-images.js';
import { loudHook, REPO_ROOT, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Context {
  env: TestEnv;
  dir: { path: string; remove(): Promise<void> };
  manifests: string;
  /** Upstream reference -> where the local registry holds it (behind the mirror prefix). */
  images: { ref: string; pushedAs: string; digest: string }[];
}

const test = suite<Context>('build from registries');
// Names of this test's own, so parallel tests sharing the engines and registry never meet them.
const UPSTREAM = ['gcr.io/kfb-regsrc/base-a:1', 'gcr.io/kfb-regsrc/base-b:2', 'ghcr.io/kfb-regsrc/tool:v3'];
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** SHA256SUMS less bundle.json's line: bundle.json records the mirror address, which differs through the proxy. */
const contentSums = async (bundle: string) => (await readFile(join(bundle, 'SHA256SUMS'), 'utf8')).split('\n').filter((line) => !line.endsWith('  bundle.json')).join('\n');

test.before(
  loudHook('registry source setup', async (context) => {
    context.env = await useTestEnv();
    context.dir = await makeTempDir('kfb-regsrc-');
    const builder = dockerFor(context.env.builderHost);
    context.images = [];
    for (const [index, ref] of UPSTREAM.entries()) {
      const [registry, ...rest] = ref.split('/');
      const pushedAs = `${context.env.registry}/${registry}/${rest.join('/')}`;
      // Two of them share a 3 MB base layer; each has 1-2 MB of its own.
      await buildCompressibleImage(builder, pushedAs, { baseBytes: 3_000_000, uniqueBytes: 1_000_000 + index * 500_000, uniqueSkip: index * 2_000_000 });
      const digest = await pushImage(builder, pushedAs);
      await builder.getImage(pushedAs).remove({ force: true });
      context.images.push({ ref, pushedAs, digest });
    }
    context.manifests = join(context.dir.path, 'rendered.yaml');
    await writeFile(
      context.manifests,
      UPSTREAM.map((ref, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${ref}"}\n`)).join('---\n'),
    );
  }),
);

test.after(async (context) => {
  const builder = dockerFor(context.env.builderHost);
  const target = dockerFor(context.env.targetHost);
  for (const image of context.images ?? []) {
    await builder.getImage(image.pushedAs).remove({ force: true }).catch(() => {});
    await builder.getImage(image.ref).remove({ force: true }).catch(() => {});
    await target.getImage(image.ref).remove({ force: true }).catch(() => {});
  }
  await context.dir?.remove();
  await context.env?.release();
});

const mirrors = (env: TestEnv, registry = env.registry) => ['--mirror', `gcr.io=${registry}/gcr.io`, '--mirror', `ghcr.io=${registry}/ghcr.io`];

/** A build with no engine anywhere: DOCKER_HOST points at a socket nobody listens on. */
async function registryBuild(context: Context, out: string, cache: string, extra: string[] = []) {
  const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', out, '--cache', cache, '--json', '--no-progress', ...mirrors(context.env), ...extra], {
    env: { DOCKER_HOST: `unix://${join(context.dir.path, 'no-engine.sock')}` },
  });
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { metadata: { images: { ref: string; imageId: string; digest: string }[]; imageArchives: { path: string; size: number }[] } };
}

/** Every entry of a tar file: name -> sha256 of its bytes. */
async function tarEntries(file: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      const hash = createHash('sha256');
      entry.on('data', (chunk: Buffer) => hash.update(chunk));
      entry.on('end', () => entries.set(entry.path, hash.digest('hex')));
    },
  });
  await pipeline(createReadStream(file), parser);
  return entries;
}

test('builds with no engine; layers stay as served, once each; IDs and digests equal what pulls give', async (context) => {
  const { env, dir } = context;
  const out = join(dir.path, 'bundle');
  const result = await registryBuild(context, out, join(dir.path, 'cache'));
  const archive = join(out, 'images/images.tar');
  const entries = await tarEntries(archive);

  // What the registry serves, asked independently of kfbundle: the builder engine pulls each image.
  const builder = dockerFor(env.builderHost);
  for (const image of context.images) {
    await runCommand('docker', ['-H', env.builderHost, 'pull', image.pushedAs], { timeoutMs: 120_000 }).then((r) => assert.is(r.code, 0, r.stderr));
    const pulled = await builder.getImage(image.pushedAs).inspect();
    const recorded = result.metadata.images.find((i) => i.ref === image.ref)!;
    assert.is(recorded.imageId, pulled.Id, `${image.ref}: image ID`);
    assert.is(recorded.digest, image.digest, `${image.ref}: repository digest`);
    // Each layer blob is in the archive by its digest, with exactly the registry's bytes.
    const manifest = JSON.parse(await (await fetch(`http://${image.pushedAs.replace(/^([^/]+)\/(.*):([^:]+)$/, '$1/v2/$2/manifests/$3')}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).text()) as { layers: { digest: string }[] };
    for (const layer of manifest.layers) {
      const hex = layer.digest.slice('sha256:'.length);
      assert.is(entries.get(`blobs/sha256/${hex}`), hex, `${image.ref}: layer ${layer.digest} as served`);
    }
  }
  const layerEntries = [...entries.keys()].filter((name) => name.startsWith('blobs/'));
  assert.is(new Set(layerEntries).size, layerEntries.length, 'every blob once');

  // Docker loads it; the loaded IDs are the pulled ones.
  const load = await runCommand('docker', ['-H', env.targetHost, 'load', '-i', archive], { timeoutMs: 120_000 });
  assert.is(load.code, 0, load.stderr);
  const target = dockerFor(env.targetHost);
  for (const image of context.images) {
    const pulled = await builder.getImage(image.pushedAs).inspect();
    assert.is((await target.getImage(image.ref).inspect()).Id, pulled.Id, `${image.ref} loaded with the pulled ID`);
  }

  // containerd imports it and keeps the upstream manifest digests.
  const imported = await runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', 'images', 'import', archive], { timeoutMs: 120_000 });
  assert.is(imported.code, 0, imported.stderr);
  const listed = await runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', 'images', 'ls'], { timeoutMs: 30_000 });
  for (const image of context.images) {
    const line = listed.stdout.split('\n').find((l) => l.startsWith(`${image.ref} `));
    assert.ok(line?.includes(image.digest), `${image.ref} in containerd with ${image.digest}: ${line}`);
    await runCommand('ctr', ['--address', env.containerdAddress, '-n', 'k8s.io', 'images', 'rm', image.ref], { timeoutMs: 30_000 });
  }

  // The bundle installs as any other: install.sh verifies and loads it.
  const install = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: env.targetHost }, timeoutMs: 180_000 });
  assert.is(install.code, 0, install.stderr);
  assert.match(install.stdout, /all 3 images present in docker/);
});

test('at most half the size of the engine path\'s archive of the same images', async (context) => {
  const { env, dir } = context;
  const fromRegistry = await registryBuild(context, join(dir.path, 'size-registry'), join(dir.path, 'cache'));
  const engine = await runKfbundle(
    ['build', '--no-seed-registry', '--manifests', context.manifests, '--out', join(dir.path, 'size-engine'), '--source', 'engine', '--docker-host', env.builderHost, '--json', '--no-progress', ...mirrors(env)],
  );
  assert.is(engine.code, 0, engine.stderr);
  const engineSize = (await stat(join(dir.path, 'size-engine/images/images.tar'))).size;
  const registrySize = (await stat(join(dir.path, 'size-registry/images/images.tar'))).size;
  assert.equal(fromRegistry.metadata.imageArchives.map((archive) => [archive.path, archive.size]), [['images/images.tar', registrySize]]);
  assert.ok(registrySize <= 0.5 * engineSize, `registry archive ${registrySize} bytes, engine archive ${engineSize}`);
  const engineImages = (JSON.parse(engine.stdout) as typeof fromRegistry).metadata.images;
  for (const image of fromRegistry.metadata.images) {
    assert.is(engineImages.find((i) => i.ref === image.ref)!.imageId, image.imageId, `${image.ref}: same image ID from both sources`);
  }
  await rm(join(dir.path, 'size-engine'), { recursive: true });
  await rm(join(dir.path, 'size-registry'), { recursive: true });
});

test('a rerun downloads no blob; a corrupt cache entry is found by its digest and fetched again; same SHA256SUMS', async (context) => {
  const { env, dir } = context;
  const cache = join(dir.path, 'cache-rerun');
  await registryBuild(context, join(dir.path, 'first'), cache);
  const proxy = new FaultProxy(env.registry, []);
  await proxy.start();
  try {
    const rerun = join(dir.path, 'rerun');
    const result = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', rerun, '--cache', cache, '--no-progress', ...mirrors(env, proxy.address)]);
    assert.is(result.code, 0, result.stderr);
    assert.equal(proxy.matching(/^GET \/v2\/.*\/blobs\//), [], 'no blob fetched on a rerun');
    assert.is(await contentSums(rerun), await contentSums(join(dir.path, 'first')));

    // Damage one layer in the cache: the next build notices, fetches it once, and the bundle is the same.
    const blobs = join(cache, 'blobs/sha256');
    const names = await readdir(blobs);
    const layer = context.images[0]!;
    const manifestPath = `${layer.pushedAs.slice(env.registry.length + 1).replace(/:([^:]+)$/, '/manifests/$1')}`;
    const manifest = JSON.parse(await (await fetch(`http://${env.registry}/v2/${manifestPath}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).text()) as { layers: { digest: string }[] };
    const victim = manifest.layers.at(-1)!.digest.slice('sha256:'.length);
    assert.ok(names.includes(victim));
    const bytes = await readFile(join(blobs, victim));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(join(blobs, victim), bytes);
    const repaired = join(dir.path, 'repaired');
    const again = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', repaired, '--cache', cache, '--no-progress', ...mirrors(env, proxy.address)]);
    assert.is(again.code, 0, again.stderr);
    assert.is(proxy.matching(new RegExp(`^GET /v2/.*/blobs/sha256:${victim}`)).length, 1, 'the damaged blob is fetched once');
    assert.is(proxy.matching(/^GET \/v2\/.*\/blobs\//).length, 1, 'and nothing else');
    assert.is(sha256(await readFile(join(blobs, victim))), victim, 'the cache holds the right bytes again');
    assert.is(await contentSums(repaired), await contentSums(join(dir.path, 'first')));
  } finally {
    await proxy.stop();
  }
});

test('a build killed (SIGKILL) while blobs download is simply run again: nothing half-written is used, same content', async (context) => {
  const { env, dir } = context;
  const cache = join(dir.path, 'cache-killed');
  // Blob downloads held back, so the kill lands while they are under way.
  const proxy = new FaultProxy(env.registry, [{ match: /^GET \/v2\/.*\/blobs\//, status: 0, delayMs: 3000, body: '', times: Infinity }]);
  await proxy.start();
  const out = join(dir.path, 'killed');
  try {
    const args = ['build', '--no-seed-registry', '--manifests', context.manifests, '--out', out, '--cache', cache, '--no-progress', ...mirrors(env, proxy.address)];
    const killed = await new Promise<boolean>((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/kfbundle.js'), ...args], { stdio: ['ignore', 'ignore', 'ignore'], timeout: BUILD_MS, killSignal: 'SIGKILL' });
      // The proxy records a request once answered: manifests at once, blobs only after their delay. Half a second
      // after the first manifest, blob downloads are waiting on the proxy.
      const poll = setInterval(() => {
        if (proxy.requests.some((request) => request.line.includes('/manifests/'))) {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGKILL'), 500);
        }
      }, 20);
      child.on('error', reject);
      child.on('close', (_code, signal) => {
        clearInterval(poll);
        resolve(signal === 'SIGKILL');
      });
    });
    assert.ok(killed, 'the build was killed mid-download');
  } finally {
    await proxy.stop();
  }
  const rerun = await runKfbundle(['build', '--no-seed-registry', '--manifests', context.manifests, '--out', out, '--cache', cache, '--no-progress', ...mirrors(env)]);
  assert.is(rerun.code, 0, rerun.stderr);
  assert.equal((await readdir(dir.path)).filter((name) => name.startsWith('.killed.')), [], 'no staging directory left');
  const fresh = join(dir.path, 'fresh');
  await registryBuild(context, fresh, join(dir.path, 'cache-fresh'));
  assert.is(await contentSums(out), await contentSums(fresh));
  const verify = await runKfbundle(['verify', out]);
  assert.is(verify.code, 0, verify.stderr);
});

test('split into parts: the concatenated parts load into Docker', async (context) => {
  const { env, dir } = context;
  const out = join(dir.path, 'split');
  await registryBuild(context, out, join(dir.path, 'cache'), ['--split-size', '2Mi']);
  const parts = (await readdir(join(out, 'images'))).filter((name) => /^images\.tar\.\d{4}$/.test(name)).sort();
  assert.ok(parts.length >= 2, `parts: ${parts.join(', ')}`);
  const target = dockerFor(env.targetHost);
  for (const image of context.images) await target.getImage(image.ref).remove({ force: true }).catch(() => {});
  const install = await runCommand('bash', [join(out, 'install.sh'), '--images-only', '--runtime', 'docker'], { env: { DOCKER_HOST: env.targetHost }, timeoutMs: 180_000 });
  assert.is(install.code, 0, install.stderr);
  assert.match(install.stdout, /all 3 images present in docker/);
});

test.run();
