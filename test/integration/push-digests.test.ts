// install.sh --registry keeps the upstream digests of a bundle built from registries: containerd pushes the manifests
// the bundle holds byte for byte, from kubelet's namespace on a containerd node and, on a Docker node, from a namespace
// of the installer's own that it empties afterwards; only where no containerd answers does it fall back to docker push,
// and says that the digests then change. The stand-ins are compressed as other build tools do (gzip level 9, compact
// manifest JSON), so a push through Docker, which recompresses, cannot give their digests by chance.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { QUICK_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { buildCompressibleImage } from '../helpers/compressible-images.js';
import { deploymentYaml } from '../helpers/manifests.js';
import { fetchRegistryImage, getBlob, MEDIA, mountBlob, pushBlob, pushTwoPlatformList, putManifest } from '../helpers/registry-blobs.js';
import { dockerFor, pushImage } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

/** What the source registry serves, asked over its HTTP API: the truth every push is compared with. */
interface Upstream {
  /** Single-platform manifest of `single:1`. */
  single: string;
  /** The two-platform index `multi:1`, and its linux/amd64 manifest (the only platform the bundle holds). */
  multiIndex: string;
  multiAmd64: string;
  /** A one-platform OCI index: the bundle holds all of it. */
  whole: string;
  /** Config digests (image IDs) of the two images. */
  singleConfig: string;
  multiConfig: string;
}

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  /** `gcr.io/<namespace>/…`: names of this run's own, so nothing shared with other runs is touched. */
  namespace: string;
  upstream: Upstream;
  bundle: string;
}

const test = suite<Context>('pushes keep the upstream digests');
const PUSH_NAMESPACE = 'kfbundle-push';
const ACCEPT = [MEDIA.dockerManifest, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.ociIndex].join(', ');
const REQUEST_MS = 30_000;
const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** `host:port/path` and a tag or digest -> what the registry answers for that manifest. */
async function manifestAt(repository: string, reference: string, method: 'GET' | 'HEAD' = 'GET') {
  const slash = repository.indexOf('/');
  const response = await fetch(`http://${repository.slice(0, slash)}/v2/${repository.slice(slash + 1)}/manifests/${reference}`, {
    method,
    headers: { accept: ACCEPT },
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, digest: response.headers.get('docker-content-digest'), bodyDigest: sha256(body), body };
}

/** The digest served for a tag, checked against the bytes served (a registry's header alone is not proof). */
async function servedDigest(repository: string, reference: string): Promise<string> {
  const got = await manifestAt(repository, reference);
  assert.is(got.status, 200, `${repository}:${reference} is served`);
  assert.is(got.digest, got.bodyDigest, `${repository}:${reference}: Docker-Content-Digest is the digest of the bytes`);
  return got.bodyDigest;
}

/** The layer gzip-compressed at level 9, as a build tool other than Docker might: the same content, other bytes. */
const recompressed = (layer: Buffer) => gzipSync(gunzipSync(layer), { level: 9 });

/**
 * The image Docker pushed to `staged`, published again in `repository`: layers recompressed, manifest written as
 * compact JSON (Docker indents its own). Stored under its digest; returns its bytes and digest.
 */
async function republish(staged: string, repository: string): Promise<{ bytes: Buffer; digest: string; configDigest: string }> {
  const image = await fetchRegistryImage(staged);
  const layers = [];
  for (const layer of image.layers) {
    const bytes = recompressed(await getBlob(image.repository, layer.digest));
    const digest = await pushBlob(repository, bytes);
    assert.is.not(digest, layer.digest, 'the recompressed layer differs from the one Docker compressed');
    layers.push({ mediaType: MEDIA.dockerLayer, size: bytes.length, digest });
  }
  await mountBlob(repository, image.config.digest, image.repository);
  const manifest = { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, size: image.config.size, digest: image.config.digest }, layers };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await putManifest(repository, sha256(bytes), bytes, MEDIA.dockerManifest);
  return { bytes, digest, configDigest: image.config.digest };
}


/** `repository:tag` as an OCI index listing one manifest, copied from `from`: an index a bundle holds whole. */
async function publishOnePlatformIndex(repository: string, tag: string, from: string, image: { bytes: Buffer; digest: string }): Promise<void> {
  const manifest = JSON.parse(image.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]) await mountBlob(repository, digest, from);
  await putManifest(repository, image.digest, image.bytes, MEDIA.dockerManifest);
  const index = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.dockerManifest, size: image.bytes.length, digest: image.digest, platform: { architecture: 'amd64', os: 'linux' } }] };
  await putManifest(repository, tag, Buffer.from(JSON.stringify(index)), MEDIA.ociIndex);
}

/** Builds a compressible image on the builder, lets Docker push it to `staged`, and removes the local copy. */
async function stage(env: TestEnv, staged: string, uniqueSkip: number): Promise<void> {
  const builder = dockerFor(env.builderHost);
  await buildCompressibleImage(builder, staged, { baseBytes: 1_000_000, uniqueBytes: 400_000, uniqueSkip });
  await pushImage(builder, staged);
  await builder.getImage(staged).remove({ force: true });
}

/** Every bundle reference, written out by hand, with the digest its tag must name once pushed. */
function expectedTags(context: Context): { bundleRef: string; digest: string }[] {
  const { namespace: ns, upstream } = context;
  const hex = (digest: string) => digest.slice('sha256:'.length);
  return [
    { bundleRef: `gcr.io/${ns}/single:1`, digest: upstream.single },
    { bundleRef: `gcr.io/${ns}/single:sha256-${hex(upstream.single)}`, digest: upstream.single },
    { bundleRef: `gcr.io/${ns}/multi:1`, digest: upstream.multiAmd64 },
    { bundleRef: `gcr.io/${ns}/multi:sha256-${hex(upstream.multiIndex)}`, digest: upstream.multiAmd64 },
    { bundleRef: `gcr.io/${ns}/whole:1`, digest: upstream.whole },
  ];
}

const splitRef = (ref: string) => ({ repository: ref.slice(0, ref.lastIndexOf(':')), tag: ref.slice(ref.lastIndexOf(':') + 1) });

/** Every tag the push wrote serves exactly the upstream bytes. */
async function assertUpstreamDigests(context: Context, registry: string): Promise<void> {
  for (const { bundleRef, digest } of expectedTags(context)) {
    const { repository, tag } = splitRef(bundleRef);
    const head = await manifestAt(`${registry}/${repository}`, tag, 'HEAD');
    assert.is(head.digest, digest, `HEAD ${registry}/${bundleRef}: the upstream digest`);
    assert.is(await servedDigest(`${registry}/${repository}`, tag), digest, `GET ${registry}/${bundleRef}: the upstream bytes`);
  }
}

/**
 * Which digest pins resolve on the registry pushed to: the manifests' and a whole index's do, a partial index's does
 * not (docs/targets.md says so); the target engine pulls by the pins that resolve and gets the upstream images.
 */
async function assertPins(context: Context, registry: string): Promise<void> {
  const { namespace: ns, upstream, env } = context;
  const base = `${registry}/gcr.io/${ns}`;
  assert.is((await manifestAt(`${base}/multi`, upstream.multiIndex, 'HEAD')).status, 404, 'a pin to an index the bundle holds one platform of does not resolve');
  const pins = [
    { ref: `${base}/single@${upstream.single}`, id: upstream.singleConfig },
    { ref: `${base}/multi@${upstream.multiAmd64}`, id: upstream.multiConfig },
    { ref: `${base}/whole@${upstream.whole}`, id: upstream.singleConfig },
  ];
  const target = dockerFor(env.targetHost);
  for (const { ref, id } of pins) {
    const pulled = await runCommand('docker', ['-H', env.targetHost, 'pull', ref], { timeoutMs: 120_000 });
    assert.is(pulled.code, 0, `docker pull ${ref}: ${pulled.stderr}`);
    assert.is((await target.getImage(ref).inspect()).Id, id, `${ref} is the upstream image`);
    await target.getImage(ref).remove({ force: true });
  }
}

// Verifying, importing and pushing five small images; a few seconds, bounded generously for a loaded machine.
const install = (context: Context, args: string[], env: NodeJS.ProcessEnv) =>
  runCommand('bash', [join(context.bundle, 'install.sh'), '--images-only', '--retry-delay', '1', ...args], {
    env: { HOME: join(context.work.path, 'home'), DOCKER_HOST: context.env.targetHost, ...env },
    timeoutMs: 300_000,
  });

const ctr = (env: TestEnv, args: string[]) => runCommand('ctr', ['--address', env.containerdAddress, ...args], { timeoutMs: QUICK_MS });

/** Images of this run in a containerd namespace. */
async function ourImages(context: Context, namespace: string): Promise<string[]> {
  const listed = await ctr(context.env, ['-n', namespace, 'images', 'ls', '-q']);
  return listed.stdout.split('\n').filter((ref) => ref.includes(`/${context.namespace}/`));
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-pushdig-');
    await mkdir(join(context.work.path, 'home'));
    context.namespace = `kfbpd-${randomBytes(4).toString('hex')}`;
    const { env, namespace: ns } = context;
    const source = `${env.registry}/${ns}/gcr.io/${ns}`;
    await stage(env, `${env.registry}/${ns}/staged/single:1`, 0);
    await stage(env, `${env.registry}/${ns}/staged/multi:1`, 700_000);
    const single = await republish(`${env.registry}/${ns}/staged/single:1`, `${source}/single`);
    await putManifest(`${source}/single`, '1', single.bytes, MEDIA.dockerManifest);
    await pushTwoPlatformList(`${source}/multi`, '1', { ...(await republish(`${env.registry}/${ns}/staged/multi:1`, `${source}/multi`)), mediaType: MEDIA.dockerManifest });
    await publishOnePlatformIndex(`${source}/whole`, '1', `${source}/single`, single);

    const multiIndex = await servedDigest(`${source}/multi`, '1');
    const list = JSON.parse((await manifestAt(`${source}/multi`, '1')).body.toString('utf8')) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const multiAmd64 = list.manifests.find((entry) => entry.platform.architecture === 'amd64')!.digest;
    const configOf = async (repository: string, digest: string) => (JSON.parse((await manifestAt(repository, digest)).body.toString('utf8')) as { config: { digest: string } }).config.digest;
    context.upstream = {
      single: await servedDigest(`${source}/single`, '1'),
      multiIndex,
      multiAmd64,
      whole: await servedDigest(`${source}/whole`, '1'),
      singleConfig: await configOf(`${source}/single`, '1'),
      multiConfig: await configOf(`${source}/multi`, multiAmd64),
    };

    // The release names each image by tag, and two by digest: a pin to a manifest and a pin to a two-platform list.
    const images = [`gcr.io/${ns}/single:1`, `gcr.io/${ns}/single@${context.upstream.single}`, `gcr.io/${ns}/multi:1`, `gcr.io/${ns}/multi@${multiIndex}`, `gcr.io/${ns}/whole:1`];
    const rendered = join(context.work.path, 'rendered.yaml');
    await writeFile(rendered, images.map((image, index) => deploymentYaml('kubeflow', `app-${index}`, `      - {name: main, image: "${image}"}\n`)).join('---\n'));
    context.bundle = join(context.work.path, 'bundle');
    const built = await runKfbundle(
      ['build', '--no-seed-registry', '--manifests', rendered, '--out', context.bundle, '--cache', join(context.work.path, 'cache'), '--mirror', `gcr.io=${env.registry}/${ns}/gcr.io`, '--no-progress'],
      { env: { DOCKER_HOST: `unix://${join(context.work.path, 'no-engine.sock')}` }, timeoutMs: 300_000 },
    );
    assert.is(built.code, 0, built.stderr);
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    if (context.env !== undefined && context.namespace !== undefined) {
      for (const namespace of ['k8s.io', PUSH_NAMESPACE]) {
        const refs = await ourImages(context, namespace);
        if (refs.length > 0) await ctr(context.env, ['-n', namespace, 'images', 'rm', '--sync', ...refs]);
      }
      for (const host of [context.env.targetHost, context.env.builderHost]) {
        const docker = dockerFor(host);
        for (const image of await docker.listImages()) {
          for (const tag of image.RepoTags ?? []) if (tag.includes(`/${context.namespace}/`)) await docker.getImage(tag).remove({ force: true }).catch(() => {});
        }
      }
    }
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the bundle records, per reference, the upstream manifest a push keeps (images/manifests.txt)', async (context) => {
  const { namespace: ns, upstream } = context;
  const hex = (digest: string) => digest.slice('sha256:'.length);
  const text = await readFile(join(context.bundle, 'images/manifests.txt'), 'utf8');
  assert.is(
    text,
    [
      `gcr.io/${ns}/multi:1\t${upstream.multiAmd64}\tplatform\tlinux/amd64`,
      `gcr.io/${ns}/multi:sha256-${hex(upstream.multiIndex)}\t${upstream.multiAmd64}\tplatform\tlinux/amd64`,
      `gcr.io/${ns}/single:1\t${upstream.single}\tmanifest\tlinux/amd64`,
      `gcr.io/${ns}/single:sha256-${hex(upstream.single)}\t${upstream.single}\tmanifest\tlinux/amd64`,
      `gcr.io/${ns}/whole:1\t${upstream.whole}\tindex\tlinux/amd64`,
      '',
    ].join('\n'),
  );
});

test('--runtime containerd: pushed from k8s.io with the upstream digests; pins to manifests resolve and pull', async (context) => {
  const registry = `${context.env.registry}/${context.namespace}/via-containerd`;
  const result = await install(context, ['--runtime', 'containerd', '--registry', registry], { CONTAINERD_ADDRESS: context.env.containerdAddress });
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, `5 of 5 read back from ${registry} with their upstream digests`);
  assert.match(result.stdout, '2 of them name a multi-platform index upstream, of which the bundle holds one platform');
  await assertUpstreamDigests(context, registry);
  await assertPins(context, registry);
});

test('--runtime docker with containerd answering: pushed with ctr from a namespace of its own, emptied afterwards', async (context) => {
  // What a run killed before its cleanup would leave: the next run removes it first.
  const leftover = await runCommand('bash', ['-c', 'ctr --address "$1" -n "$2" images import --no-unpack --platform linux/amd64 "$3"', 'import', context.env.containerdAddress, PUSH_NAMESPACE, join(context.bundle, 'images/images.tar')], { timeoutMs: 120_000 });
  assert.is(leftover.code, 0, leftover.stderr);
  const registry = `${context.env.registry}/${context.namespace}/via-docker`;
  const result = await install(context, ['--runtime', 'docker', '--registry', registry], { CONTAINERD_ADDRESS: context.env.containerdAddress });
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, `pushing with containerd's ctr, from its namespace ${PUSH_NAMESPACE}`);
  assert.match(result.stdout, `removing 5 images an earlier run left in containerd namespace ${PUSH_NAMESPACE}`);
  assert.match(result.stdout, `all 5 images present in containerd (namespace ${PUSH_NAMESPACE})`);
  assert.match(result.stdout, `5 of 5 read back from ${registry} with their upstream digests`);
  await assertUpstreamDigests(context, registry);

  const namespaces = await ctr(context.env, ['namespaces', 'ls', '-q']);
  assert.is(namespaces.code, 0, namespaces.stderr);
  assert.not.ok(namespaces.stdout.split('\n').includes(PUSH_NAMESPACE), `the namespace is gone: ${namespaces.stdout}`);
  const loaded = await runCommand('docker', ['-H', context.env.targetHost, 'image', 'inspect', `gcr.io/${context.namespace}/single:1`], { timeoutMs: QUICK_MS });
  assert.is.not(loaded.code, 0, 'nothing was loaded into Docker: the images went to the registry only');
  await assertPins(context, registry);
});

test('--runtime docker with no containerd answering: docker push, and it says the digests change', async (context) => {
  const registry = `${context.env.registry}/${context.namespace}/via-docker-push`;
  const result = await install(context, ['--runtime', 'docker', '--registry', registry], { CONTAINERD_ADDRESS: join(context.work.path, 'no-containerd.sock') });
  assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stderr, 'no containerd answers on this node');
  assert.match(result.stderr, 'pushed with docker push, which recompresses every layer: the pushed images get new digests');
  assert.match(result.stdout, `all 5 images pushed to ${registry}`);
  const { namespace: ns, upstream } = context;
  // The same image (its config) under a manifest of Docker's own: what the warning said.
  const pushed = await servedDigest(`${registry}/gcr.io/${ns}/single`, '1');
  assert.is.not(pushed, upstream.single, 'docker push gave the manifest a digest of its own');
  const manifest = JSON.parse((await manifestAt(`${registry}/gcr.io/${ns}/single`, '1')).body.toString('utf8')) as { config: { digest: string } };
  assert.is(manifest.config.digest, upstream.singleConfig, 'and it is the same image');
});

test.run();
